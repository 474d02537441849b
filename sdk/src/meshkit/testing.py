"""pytest fixtures that give a test a real embedded service (meshkit and domain repos).

Load it from a ``conftest.py``::

    pytest_plugins = ["meshkit.testing"]

Session-scoped fixtures, each started on first use with free ports and its own directory
under pytest's temporary path, and stopped at the end of the session:

* ``kafka_broker`` — bootstrap servers (``"127.0.0.1:PORT"``) of a Tansu broker;
  ``kafka_topic`` (function scope) creates a fresh topic there and deletes it afterwards;
* ``postgres`` — a libpq URL of an embedded PostgreSQL with ``wal_level=logical``;
* ``duckdb_path`` — a DuckDB warehouse file;
* ``search_server`` — :class:`SearchEndpoint` (URL + ``client()``) of the search server;
* ``bigquery_emulator`` — :class:`BigQueryEndpoint` (URL, gRPC address + ``client()``) of
  the emulator.

The fixture names do not clash with those of the ``osmem-server`` and ``bqemulator``
pytest plugins that their wheels register; meshkit's own test run disables those two
plugins (``-p no:osmem -p no:bqemulator``) since it does not use them.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from meshkit.local.bigquery import BigQueryEmulator, emulator_client
from meshkit.local.kafka import KafkaBroker, admin_config
from meshkit.local.postgres import Postgres
from meshkit.local.search import SearchServer, local_search_client
from meshkit.local.service import LocalService
from meshkit.local.settings import LocalSettings
from meshkit.local.warehouse import Warehouse


@dataclass(frozen=True)
class SearchEndpoint:
    """The local search server: its URL and a client factory (compat media type off)."""

    url: str

    def client(self, **kwargs: Any) -> Elasticsearch:
        """An ``elasticsearch`` client for this server."""
        return local_search_client(self.url, **kwargs)


@dataclass(frozen=True)
class BigQueryEndpoint:
    """The BigQuery emulator: its URL, project, gRPC address (the Storage Read API,
    ``host:port``) and a client factory."""

    url: str
    project: str
    grpc: str = ""

    def client(self, **kwargs: Any) -> Any:
        """A ``google.cloud.bigquery.Client`` for the emulator."""
        return emulator_client(self.url, self.project, **kwargs)


@pytest.fixture(scope="session")
def meshkit_local_settings() -> Iterator[LocalSettings]:
    """Settings of the test session's stack: a temporary state dir and free ports only.

    The state dir is a directory of its own under the system temp dir, not under
    pytest's ``pytest-of-<user>``: every pytest session that starts (a nested one in a
    template test, or a second run) resets that directory to mode 0700, which locks the
    embedded PostgreSQL's server user out of its data directory mid-session.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="meshkit-test-"))
    try:
        yield LocalSettings(
            state_dir=state_dir,
            kafka_port=0,
            postgres_port=0,
            postgres_url=None,
            search_port=0,
            bigquery_port=0,
            bigquery_grpc_port=0,
        )
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def _running(service: LocalService) -> Iterator[str]:
    record = service.start()
    try:
        yield record.address
    finally:
        service.stop()


@pytest.fixture(scope="session")
def kafka_broker(meshkit_local_settings: LocalSettings) -> Iterator[str]:
    """Bootstrap servers of a session-wide Tansu broker (memory storage)."""
    with _running(KafkaBroker(meshkit_local_settings)) as bootstrap:
        yield bootstrap


@pytest.fixture
def kafka_topic(kafka_broker: str) -> Iterator[str]:
    """A new single-partition topic on ``kafka_broker``, deleted after the test."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient(admin_config(kafka_broker))
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(10)
    yield name
    admin.delete_topics([name])[name].result(10)


@pytest.fixture(scope="session")
def postgres(meshkit_local_settings: LocalSettings) -> Iterator[str]:
    """libpq URL of a session-wide embedded PostgreSQL (logical replication enabled)."""
    service = Postgres(meshkit_local_settings)
    service.start()
    try:
        dsn = service.dsn()
        assert dsn is not None
        yield dsn
    finally:
        service.stop()


@pytest.fixture
def postgres_database(postgres: str) -> Iterator[str]:
    """libpq URL of a fresh, empty database on the session's PostgreSQL, dropped afterwards.

    Tests that create tables use it so they never see each other's tables.
    """
    import psycopg2
    from psycopg2.extensions import make_dsn, parse_dsn

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgres)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield make_dsn(**{**parse_dsn(postgres), "dbname": name})
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = %s AND NOT active",
                (name,),
            )
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture(scope="session")
def duckdb_path(meshkit_local_settings: LocalSettings) -> Path:
    """A DuckDB warehouse file in the session's state directory."""
    warehouse = Warehouse(meshkit_local_settings)
    warehouse.start()
    return warehouse.path


@pytest.fixture(scope="session")
def search_server(meshkit_local_settings: LocalSettings) -> Iterator[SearchEndpoint]:
    """A session-wide in-memory search server (OpenSearch-compatible)."""
    with _running(SearchServer(meshkit_local_settings)) as url:
        yield SearchEndpoint(url)


@pytest.fixture(scope="session")
def bigquery_emulator(meshkit_local_settings: LocalSettings) -> Iterator[BigQueryEndpoint]:
    """A session-wide BigQuery emulator (catalog in memory)."""
    service = BigQueryEmulator(meshkit_local_settings)
    with _running(service) as url:
        yield BigQueryEndpoint(
            url, meshkit_local_settings.bigquery_project, service.grpc_address() or ""
        )
