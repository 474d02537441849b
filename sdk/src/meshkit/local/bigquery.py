"""BigQuery emulator (``bqemulator``, DuckDB-backed) for tests of the BigQuery code paths.

Not part of the default stack: start it with ``meshkit local up --with bigquery`` or the
``bigquery_emulator`` pytest fixture. It needs the ``meshkit[bqemulator]`` extra and runs
through :mod:`meshkit.local.bigquery_launcher` (no spatial extension download). It keeps
its catalog in memory: datasets vanish when it stops.

What it stands in for, and what it does not (measured; see ``docs/local-stack.md``):
datasets, tables with REQUIRED/REPEATED/RECORD/TIMESTAMP fields, DAY partitioning and
clustering, ``insert_rows_json``, queries with parameters, MERGE/UPDATE/DELETE and load
jobs work. Schema evolution does not (adding a column breaks inserts), nor WRITE_TRUNCATE
to a destination table, nor GEOGRAPHY. Keep tests of those on real BigQuery.

Talking to it with ``google-cloud-bigquery`` needs three things, all handled by
:func:`emulator_client` and the retry constants here, and only for the emulator:

* anonymous credentials and ``client_options={"api_endpoint": url}``;
* load jobs: the client labels the data part of a multipart upload ``*/*``, which the
  emulator rejects; the emulator client's HTTP session relabels it
  ``application/octet-stream`` (the same effect as setting
  ``google.cloud.bigquery.client._GENERIC_CONTENT_TYPE``, without changing that global
  for production clients in the same process);
* the emulator answers some failures with HTTP 500, which the client retries for about
  ten minutes: pass ``retry=emulator_retry()`` (and ``job_retry=emulator_job_retry()`` to
  ``query``) so a failing test fails in seconds.

``to_dataframe``/``to_arrow`` need ``create_bqstorage_client=False`` (there is no
BigQuery Storage API).
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from typing import Any

from meshkit.errors import ConfigError
from meshkit.local._process import free_port
from meshkit.local.service import ProcessService

_GENERIC = b"content-type: */*\r\n"
_OCTET = b"content-type: application/octet-stream\r\n"


def _retry(seconds: float) -> Any:
    from google.cloud import bigquery

    return bigquery.DEFAULT_RETRY.with_timeout(seconds)


def _job_retry(seconds: float) -> Any:
    from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

    return DEFAULT_JOB_RETRY.with_timeout(seconds)


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


def emulator_client(url: str, project: str = "meshkit-local", **kwargs: Any) -> Any:
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
    return _retry(seconds)


def emulator_job_retry(seconds: float = 30.0) -> Any:
    """A ``job_retry=`` for emulator queries that gives up after ``seconds`` (default 30)."""
    return _job_retry(seconds)


class BigQueryEmulator(ProcessService):
    """bqemulator run by :mod:`meshkit.local.bigquery_launcher`, catalog in memory."""

    name = "bigquery"
    description = "BigQuery emulator (bqemulator, DuckDB-backed; opt in)"

    _grpc_port: int = 0

    @property
    def configured_port(self) -> int:
        return self.settings.bigquery_port

    def address_for(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def extra_ports(self) -> dict[str, int]:
        self._grpc_port = self.settings.bigquery_grpc_port or free_port(self.host)
        return {"grpc_port": self._grpc_port}

    def command(self, port: int) -> list[str]:
        if importlib.util.find_spec("bqemulator") is None:
            raise ConfigError(
                "the BigQuery emulator is not installed; install the meshkit[bqemulator] extra"
            )
        return [
            sys.executable,
            "-m",
            "meshkit.local.bigquery_launcher",
            "--rest-host",
            self.host,
            "--rest-port",
            str(port),
            "--grpc-host",
            self.host,
            "--grpc-port",
            str(self._grpc_port),
            "--ephemeral",
            "--project",
            self.settings.bigquery_project,
            "--log-level",
            "warning",
        ]

    def probe(self, address: str) -> str:
        with urllib.request.urlopen(f"{address}/healthz", timeout=3) as response:  # noqa: S310
            body = response.read().decode(errors="replace")
        if response.status != 200:
            raise ConnectionError(f"/healthz answered {response.status}: {body[:80]}")
        return f"bqemulator, project {self.settings.bigquery_project}"
