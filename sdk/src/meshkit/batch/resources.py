"""The resources of a domain's batch code, chosen from the environment in one place.

:func:`resources_for` returns every resource meshkit's assets, I/O manager and checks
use, for ``local`` (DuckDB file, local key store) or ``prod`` (BigQuery through
dagster-gcp, credentials only through ``dagster.EnvVar``). Keys:

==========================  ==========================================================
``meshkit_io_manager``      validate → mask → write (:mod:`meshkit.batch.io`)
``meshkit_warehouse``       :class:`DuckDBWarehouse` locally, :class:`BigQueryWarehouse`
``meshkit_keys``            :class:`KeyStoreResource` (tokenization and encryption keys)
``meshkit_registry``        :class:`~meshkit.batch.reporting.RegistryReporter`
==========================  ==========================================================

Environment variables read (names only; values are resolved by Dagster at run time):

- local: ``MESHKIT_DUCKDB_PATH`` (default ``.state/local/warehouse/warehouse.duckdb``,
  the file ``meshkit local up`` creates);
- prod: ``MESHKIT_BIGQUERY_PROJECT`` (required), ``MESHKIT_BIGQUERY_LOCATION`` and
  ``MESHKIT_GCP_CREDENTIALS`` (base64 service-account JSON; without it, application
  default credentials);
- both: ``MESHKIT_MASTER_KEY`` and ``MESHKIT_PRIVACY_STATE_DIR`` (key store),
  ``MESHKIT_REGISTRY_URL`` and ``MESHKIT_REGISTRY_TOKEN`` (run reports).

``BIGQUERY_EMULATOR_HOST`` (``host:port``), the variable Google's client libraries honour,
points :class:`BigQueryWarehouse` at a BigQuery emulator with the client settings it
needs (anonymous credentials, see ``meshkit.clients``), and
``MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST`` at the emulator's Storage Read API (its gRPC
``host:port``; without it, inputs are read with queries); production sets neither and
reads inputs through the production Storage Read API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_gcp import BigQueryResource

from meshkit.batch.environment import Environment, current_environment
from meshkit.batch.reporting import TOKEN_ENV, URL_ENV, RegistryReporter
from meshkit.batch.storage_read import StorageReader
from meshkit.batch.warehouse import (
    BigQuerySession,
    DuckDBSession,
    WarehouseSession,
    connect_read_only,
)
from meshkit.errors import ConfigError
from meshkit.privacy.keys import (
    KEYSTORE_FILE,
    MASTER_KEY_ENV,
    STATE_DIR_ENV,
    LocalKeyStore,
    load_master_key,
)

WAREHOUSE_KEY = "meshkit_warehouse"
KEYS_KEY = "meshkit_keys"
REGISTRY_KEY = "meshkit_registry"
DUCKDB_PATH_ENV = "MESHKIT_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH = ".state/local/warehouse/warehouse.duckdb"
PROJECT_ENV = "MESHKIT_BIGQUERY_PROJECT"
LOCATION_ENV = "MESHKIT_BIGQUERY_LOCATION"
CREDENTIALS_ENV = "MESHKIT_GCP_CREDENTIALS"
EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"
STORAGE_EMULATOR_ENV = "MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST"


class DuckDBWarehouse(DuckDBResource):
    """dagster-duckdb's resource, plus meshkit warehouse sessions.

    ``session()`` reads and writes; ``read_only_session()`` (the asset checks') cannot
    write: the file opened read-only, without file access, its configuration locked.
    """

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as con:
            yield DuckDBSession(con)

    @contextmanager
    def read_only_session(self) -> Iterator[WarehouseSession]:
        con = connect_read_only(self.database)
        try:
            yield DuckDBSession(con)
        finally:
            con.close()


class BigQueryWarehouse(BigQueryResource):
    """dagster-gcp's resource, plus a meshkit warehouse session (and emulator support).

    ``context.resources.meshkit_warehouse`` is this resource itself (dagster-gcp's puts a
    client there), so meshkit's I/O manager and checks open sessions the same way for
    DuckDB and BigQuery; ``get_client()`` gives the ``google.cloud.bigquery.Client``.
    """

    def get_object_to_set_on_execution_context(self) -> Any:
        return self

    @contextmanager
    def get_client(self) -> Iterator[Any]:
        host = os.environ.get(EMULATOR_ENV)
        if not host:
            with super().get_client() as client:
                yield client
            return
        from meshkit.clients import emulator_client

        url = host if "://" in host else f"http://{host}"
        client = emulator_client(url, self.project or "meshkit-local")
        try:
            yield client
        finally:
            client.close()

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        with self.get_client() as client, _storage_reader(client) as storage:
            if os.environ.get(EMULATOR_ENV):
                from meshkit.clients import emulator_job_retry, emulator_retry

                retry, job_retry = emulator_retry(), emulator_job_retry()
                yield BigQuerySession(
                    client,
                    location=self.location,
                    retry=retry,
                    job_retry=job_retry,
                    storage=storage,
                )
            else:
                yield BigQuerySession(client, location=self.location, storage=storage)

    @contextmanager
    def read_only_session(self) -> Iterator[WarehouseSession]:
        """A session whose ``query_read_only`` runs only what a dry run calls a SELECT."""
        with self.session() as session:
            yield session


def _storage_reader(client: Any) -> StorageReader:
    """The Storage Read API reader next to ``client``: the emulator's gRPC address with the
    emulator, else the production endpoint with the client's credentials."""
    from meshkit.clients import emulator_read_client, production_read_client

    if os.environ.get(EMULATOR_ENV):
        address = os.environ.get(STORAGE_EMULATOR_ENV)
        if not address:
            return StorageReader.disabled(
                f"the emulator's Storage Read API address is not set ({STORAGE_EMULATOR_ENV}, "
                "its gRPC host:port; meshkit local env prints it)"
            )
        return StorageReader(lambda: emulator_read_client(address), emulator=True)

    return StorageReader(lambda: production_read_client(getattr(client, "_credentials", None)))


class KeyStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The privacy key store (tokenization and per-subject keys).

    ``master_key`` comes through ``EnvVar("MESHKIT_MASTER_KEY")``; it is only needed when a
    contract tokenizes or encrypts. ``create_missing_keys`` (local) creates a token key a
    contract names on first use; in production keys are provisioned, and a missing one is
    an error naming the command that creates it.
    """

    state_dir: str = str(Path(".state") / "privacy")
    master_key: str | None = None
    create_missing_keys: bool = False

    def open(self) -> LocalKeyStore:
        environ = {MASTER_KEY_ENV: self.master_key or ""}
        load_master_key(environ)  # a clear ConfigError when missing or malformed
        return LocalKeyStore(Path(self.state_dir) / KEYSTORE_FILE, load_master_key(environ))


def _env_or_none(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def _registry() -> RegistryReporter:
    return RegistryReporter(url=_env_or_none(URL_ENV), token=_env_or_none(TOKEN_ENV))


def _keys(create_missing: bool) -> KeyStoreResource:
    state_dir = os.environ.get(STATE_DIR_ENV) or str(Path(".state") / "privacy")
    return KeyStoreResource(
        state_dir=state_dir,
        master_key=_env_or_none(MASTER_KEY_ENV),
        create_missing_keys=create_missing,
    )


def local_resources(*, duckdb_path: str | Path | None = None) -> dict[str, Any]:
    """Local resources: the DuckDB file, the local key store (keys created on first use)."""
    from meshkit.batch.io import meshkit_io_manager

    path = str(duckdb_path or os.environ.get(DUCKDB_PATH_ENV) or DEFAULT_DUCKDB_PATH)
    return {
        "meshkit_io_manager": meshkit_io_manager,
        WAREHOUSE_KEY: DuckDBWarehouse(database=path),
        KEYS_KEY: _keys(create_missing=True),
        REGISTRY_KEY: _registry(),
    }


def prod_resources() -> dict[str, Any]:
    """Production resources: BigQuery (project, location, credentials via ``EnvVar``)."""
    from meshkit.batch.io import meshkit_io_manager

    return {
        "meshkit_io_manager": meshkit_io_manager,
        WAREHOUSE_KEY: BigQueryWarehouse(
            project=dg.EnvVar(PROJECT_ENV),
            location=_env_or_none(LOCATION_ENV),
            gcp_credentials=_env_or_none(CREDENTIALS_ENV),
        ),
        KEYS_KEY: _keys(create_missing=False),
        REGISTRY_KEY: _registry(),
    }


def resources_for(
    environment: Environment | None = None, *, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every meshkit resource for ``environment`` (default: from ``MESHKIT_ENV``)."""
    env = environment or current_environment()
    if env == "local":
        chosen = local_resources()
    elif env == "prod":
        chosen = prod_resources()
    else:  # pragma: no cover - Environment is a closed set
        raise ConfigError(f"unknown environment {env!r}")
    return {**chosen, **(overrides or {})}
