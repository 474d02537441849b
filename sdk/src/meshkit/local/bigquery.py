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
:func:`emulator_client` and the retry helpers (defined in ``meshkit.clients``, so domain
code reaches them through the settings without importing the local stack), and only for
the emulator:

* anonymous credentials and ``client_options={"api_endpoint": url}``;
* load jobs: the client labels the data part of a multipart upload ``*/*``, which the
  emulator rejects; the emulator client's HTTP session relabels it
  ``application/octet-stream`` (the same effect as setting
  ``google.cloud.bigquery.client._GENERIC_CONTENT_TYPE``, without changing that global
  for production clients in the same process);
* the emulator answers some failures with HTTP 500, which the client retries for about
  ten minutes: pass ``retry=emulator_retry()`` (and ``job_retry=emulator_job_retry()`` to
  ``query``) so a failing test fails in seconds.

It also serves the BigQuery Storage Read API over plaintext gRPC on a second port
(:meth:`BigQueryEmulator.grpc_address`; ``meshkit.clients.emulator_read_client``): read
sessions in Arrow or Avro with ``selected_fields`` and a ``row_restriction`` it translates
to DuckDB SQL. The BigQuery client's own ``to_dataframe``/``to_arrow`` still need
``create_bqstorage_client=False``: the client would look for the API on Google's endpoint.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request

from meshkit.clients import emulator_client, emulator_job_retry, emulator_retry
from meshkit.errors import ConfigError
from meshkit.local._process import free_port
from meshkit.local.service import ProcessService

__all__ = ["BigQueryEmulator", "emulator_client", "emulator_job_retry", "emulator_retry"]


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

    def grpc_address(self) -> str | None:
        """``host:port`` of its gRPC API (the Storage Read API), when it has been started."""
        record = self.record()
        port = record.extra.get("grpc_port") if record is not None else None
        return f"{self.host}:{port}" if port else None

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
