"""Clients of the search server and BigQuery, built from :class:`~meshkit.settings.MeshkitSettings`.

:func:`search_client` makes an ``elasticsearch`` client with the settings' authentication
(an API key, or basic auth) and CA certificates. Against a production Elasticsearch it
keeps the library's defaults. Only against the local stand-in (``search_is_stand_in``:
``osmem-server``, which answers the client's "compatible-with" media type
``application/vnd.elasticsearch+json; compatible-with=9`` with 406) its transport node
rewrites the ``accept`` and ``content-type`` headers to plain ``application/json`` just
before sending; :func:`stand_in_search_client` is that client on its own.

:func:`bigquery_client` makes a ``google.cloud.bigquery.Client`` for the settings'
project: from the service-account file ``gcp_credentials_file`` or the base64 JSON
``gcp_credentials``, else application default credentials; or, with
``bigquery_emulator_host`` (local only), the emulator's client (:func:`emulator_client`:
anonymous credentials, its own HTTP session that labels upload data parts
``application/octet-stream``, which the emulator needs). Emulator calls take short
retries (:func:`emulator_retry`, :func:`emulator_job_retry`), because the emulator
answers some failures with HTTP 500, which the client would retry for ten minutes.

:func:`bigquery_read_client` makes the BigQuery Storage Read API client
(``google.cloud.bigquery_storage_v1.BigQueryReadClient``): on the production endpoint
with the same credentials, or with ``bigquery_storage_emulator_host`` (local only) the
emulator's (:func:`emulator_read_client`: plaintext gRPC, anonymous).

Nothing here imports ``meshkit.local``: the local stack uses these, not the reverse.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from typing import TYPE_CHECKING, Any

from meshkit.errors import ConfigError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from meshkit.settings import MeshkitSettings

_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([a-z0-9-]+)(?:;\s*compatible-with=\d+)?")
_GENERIC = b"content-type: */*\r\n"
_OCTET = b"content-type: application/octet-stream\r\n"
EMULATOR_PROJECT = "meshkit-local"


# -- search -------------------------------------------------------------------------------


@functools.cache
def plain_media_type_node() -> type[Any]:
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


def stand_in_search_client(url: str, **kwargs: Any) -> Elasticsearch:
    """An ``elasticsearch`` client for the local search stand-in (compat media type off).

    Extra keyword arguments go to :class:`elasticsearch.Elasticsearch`.
    """
    from elasticsearch import Elasticsearch

    kwargs.setdefault("request_timeout", 10)
    return Elasticsearch(url, node_class=plain_media_type_node(), **kwargs)


def search_client(settings: MeshkitSettings, **kwargs: Any) -> Elasticsearch:
    """The search client of ``settings`` (``ConfigError`` when ``search_url`` is unset)."""
    from elasticsearch import Elasticsearch

    if not settings.search_url:
        raise ConfigError("no search server: set MESHKIT_SEARCH_URL (or search_url in the file)")
    if settings.search_api_key is not None:
        kwargs["api_key"] = settings.search_api_key.get_secret_value()
    elif settings.search_username is not None and settings.search_password is not None:
        kwargs["basic_auth"] = (
            settings.search_username,
            settings.search_password.get_secret_value(),
        )
    if settings.search_ca_certs is not None:
        kwargs["ca_certs"] = str(settings.search_ca_certs)
    if settings.search_is_stand_in:
        return stand_in_search_client(settings.search_url, **kwargs)
    kwargs.setdefault("request_timeout", 30)
    return Elasticsearch(settings.search_url, **kwargs)


# -- BigQuery -----------------------------------------------------------------------------


def _relabel_upload(data: Any, headers: Any) -> tuple[Any, Any]:
    """Label the data part of an upload ``application/octet-stream`` instead of ``*/*``."""
    if isinstance(data, bytes) and _GENERIC in data:
        data = data.replace(_GENERIC, _OCTET, 1)
    if headers:
        headers = {
            key: "application/octet-stream"
            if key.lower() == "x-upload-content-type" and value == "*/*"
            else value
            for key, value in headers.items()
        }
    return data, headers


def _emulator_session() -> Any:
    """An anonymous ``AuthorizedSession`` that relabels upload data parts as octet-stream."""
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession

    class EmulatorSession(AuthorizedSession):
        def request(  # type: ignore[override]
            self, method: str, url: str, data: Any = None, headers: Any = None, **kwargs: Any
        ) -> Any:
            if "/upload/" in url:
                data, headers = _relabel_upload(data, headers)
            return super().request(  # type: ignore[no-untyped-call]
                method, url, data=data, headers=headers, **kwargs
            )

    return EmulatorSession(AnonymousCredentials())  # type: ignore[no-untyped-call]


def emulator_client(url: str, project: str = EMULATOR_PROJECT, **kwargs: Any) -> Any:
    """A ``google.cloud.bigquery.Client`` for the emulator at ``url``.

    Uses anonymous credentials and its own HTTP session (see the module docstring). Use
    ``retry=emulator_retry()`` / ``job_retry=emulator_job_retry()`` on calls, and
    ``to_dataframe(create_bqstorage_client=False)``.
    """
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=url),
        _http=_emulator_session(),
        **kwargs,
    )


def emulator_retry(seconds: float = 15.0) -> Any:
    """A ``retry=`` for emulator calls that gives up after ``seconds`` (default 15)."""
    from google.cloud import bigquery

    return bigquery.DEFAULT_RETRY.with_timeout(seconds)


def emulator_job_retry(seconds: float = 30.0) -> Any:
    """A ``job_retry=`` for emulator queries that gives up after ``seconds`` (default 30)."""
    from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

    return DEFAULT_JOB_RETRY.with_timeout(seconds)


def bigquery_client(settings: MeshkitSettings) -> Any:
    """The ``google.cloud.bigquery.Client`` of ``settings`` (see the module docstring)."""
    from google.cloud import bigquery

    host = settings.bigquery_emulator_host
    if host:
        url = host if "://" in host else f"http://{host}"
        return emulator_client(url, settings.bigquery_project or EMULATOR_PROJECT)
    if not settings.bigquery_project:
        raise ConfigError("no BigQuery project: set MESHKIT_BIGQUERY_PROJECT")
    if settings.gcp_credentials_file is None and settings.gcp_credentials is None:
        return bigquery.Client(project=settings.bigquery_project)
    return bigquery.Client(project=settings.bigquery_project, credentials=_credentials(settings))


def _credentials(settings: MeshkitSettings) -> Any:
    """Service-account credentials from the key file, or from base64 JSON."""
    from google.oauth2 import service_account

    path = settings.gcp_credentials_file
    try:
        if path is not None:
            return service_account.Credentials.from_service_account_file(str(path))  # type: ignore[no-untyped-call]
        assert settings.gcp_credentials is not None
        info = json.loads(base64.b64decode(settings.gcp_credentials.get_secret_value()))
        return service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        # the key's content never goes into the message
        where = f"{path}: not a readable" if path is not None else "MESHKIT_GCP_CREDENTIALS: not a"
        raise ConfigError(
            f"{where} service-account key ({type(exc).__name__}); fix: give the JSON key "
            "of a service account (MESHKIT_GCP_CREDENTIALS_FILE names the file, "
            "MESHKIT_GCP_CREDENTIALS holds it base64-encoded)"
        ) from None


def emulator_read_client(address: str) -> Any:
    """A BigQuery Storage Read API client (``BigQueryReadClient``) for the emulator's gRPC
    address ``host:port``: plaintext, anonymous, no limit on the size of a message."""
    import grpc  # type: ignore[import-untyped]
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
        BigQueryReadGrpcTransport,
    )

    target = address.split("://", 1)[-1]
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
    transport = BigQueryReadGrpcTransport(channel=channel)
    return BigQueryReadClient(transport=transport)  # type: ignore[no-untyped-call]


def bigquery_read_client(settings: MeshkitSettings, credentials: Any = None) -> Any:
    """The Storage Read API client of ``settings``: the emulator's with
    ``bigquery_storage_emulator_host``, else one on the production endpoint with
    ``credentials`` (default: the settings' service account, else application default
    credentials). ``ConfigError`` when the REST emulator is set and its gRPC address is not.
    """
    if settings.bigquery_storage_emulator_host:
        return emulator_read_client(settings.bigquery_storage_emulator_host)
    if settings.bigquery_emulator_host:
        raise ConfigError(
            "the BigQuery emulator is set but not its Storage Read API: set "
            "MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST to its gRPC host:port "
            "(meshkit local env prints it)"
        )
    if credentials is None and (
        settings.gcp_credentials_file is not None or settings.gcp_credentials is not None
    ):
        credentials = _credentials(settings)
    return production_read_client(credentials)


def production_read_client(credentials: Any = None) -> Any:
    """A Storage Read API client on the production endpoint (``credentials``, default:
    application default credentials)."""
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    return BigQueryReadClient(credentials=credentials)  # type: ignore[no-untyped-call]


def bigquery_retries(settings: MeshkitSettings) -> dict[str, Any]:
    """``retry``/``job_retry`` keyword arguments for BigQuery calls (short ones for the
    emulator, the library's defaults otherwise)."""
    if settings.bigquery_emulator_host:
        return {"retry": emulator_retry(), "job_retry": emulator_job_retry()}
    return {}
