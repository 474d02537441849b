"""Search: the in-memory OpenSearch-compatible server shipped in the ``osmem-server`` wheel.

No package registry ships a real Elasticsearch, so the local stand-in speaks the
OpenSearch/Elasticsearch REST API. The ``elasticsearch`` 8/9 clients send a
"compatible-with" media type (``application/vnd.elasticsearch+json; compatible-with=9``)
that this server rejects with 406. :func:`local_search_client` is the one place that
switches it off, and only for clients it makes: their transport node rewrites the two
headers back to plain ``application/json`` just before sending. Clients for a production
Elasticsearch are made the usual way and keep the library's defaults.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshkit.errors import ConfigError
from meshkit.local.service import ProcessService

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([a-z0-9-]+)(?:;\s*compatible-with=\d+)?")


@functools.cache
def _plain_media_type_node() -> type[Any]:
    """A transport node class that sends plain ``application/json``, not the compat type.

    Built on first use so that importing meshkit does not import the Elasticsearch client.
    """
    from elastic_transport import HttpHeaders, Urllib3HttpNode
    from elastic_transport.client_utils import DEFAULT, DefaultType

    class PlainMediaTypeNode(Urllib3HttpNode):
        def perform_request(
            self,
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: DefaultType | float | None = DEFAULT,
        ) -> Any:  # elastic_transport does not export its NodeApiResponse type
            if headers is not None:
                headers = headers.copy()
                for name in ("accept", "content-type"):
                    value = headers.get(name)
                    if value:
                        headers[name] = _COMPAT.sub(r"application/\g<1>", value)
            return super().perform_request(
                method, target, body=body, headers=headers, request_timeout=request_timeout
            )

    return PlainMediaTypeNode


def local_search_client(url: str, **kwargs: Any) -> Elasticsearch:
    """An ``elasticsearch`` client for the *local* search server (compat media type off).

    Extra keyword arguments go to :class:`elasticsearch.Elasticsearch`.
    """
    from elasticsearch import Elasticsearch

    kwargs.setdefault("request_timeout", 10)
    return Elasticsearch(url, node_class=_plain_media_type_node(), **kwargs)


def osmem_binary() -> Path:
    """The osmem-server executable: ``$OSMEM_SERVER_BIN``, else the one in the wheel."""
    override = os.environ.get("OSMEM_SERVER_BIN")
    if override:
        return Path(override)
    import importlib.util

    spec = importlib.util.find_spec("osmem_server")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the osmem-server package (local search server) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "osmem-server"
    if not path.is_file():
        raise ConfigError(f"no osmem-server binary in the wheel at {path}")
    return path


class SearchServer(ProcessService):
    """osmem-server: OpenSearch-compatible, in memory; indices vanish when it stops."""

    name = "search"
    description = "search API (osmem-server, OpenSearch-compatible, in memory)"

    @property
    def configured_port(self) -> int:
        return self.settings.search_port

    def address_for(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def command(self, port: int) -> list[str]:
        # --no-stdin-watch: keep running after the starting process exits.
        return [str(osmem_binary()), "-addr", f"{self.host}:{port}", "-no-stdin-watch", "-no-ja"]

    def probe(self, address: str) -> str:
        with local_search_client(address, request_timeout=3, max_retries=0) as client:
            info = client.info()
        version = info.get("version", {})
        return f"{version.get('distribution', 'search')} {version.get('number', '?')}"
