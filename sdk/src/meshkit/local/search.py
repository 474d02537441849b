"""Search: the in-memory OpenSearch-compatible server shipped in the ``osmem-server`` wheel.

No package registry ships a real Elasticsearch, so the local stand-in speaks the
OpenSearch/Elasticsearch REST API. The ``elasticsearch`` 8/9 clients send a
"compatible-with" media type (``application/vnd.elasticsearch+json; compatible-with=9``)
that this server rejects with 406. :func:`local_search_client` (the same client as
``meshkit.clients.stand_in_search_client``) switches it off, and only for clients it
makes: their transport node rewrites the two headers back to plain ``application/json``
just before sending. Clients for a production Elasticsearch
(``meshkit.clients.search_client`` when the settings do not name the stand-in) keep the
library's defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshkit.clients import stand_in_search_client
from meshkit.errors import ConfigError
from meshkit.local.service import ProcessService

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def local_search_client(url: str, **kwargs: Any) -> Elasticsearch:
    """An ``elasticsearch`` client for the *local* search server (compat media type off).

    Extra keyword arguments go to :class:`elasticsearch.Elasticsearch`. The same client as
    ``meshkit.clients.stand_in_search_client``, which domain code reaches through the
    settings (``meshkit.clients.search_client``).
    """
    return stand_in_search_client(url, **kwargs)


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
