"""Where provisioning connects: flags, else settings and variables, else the local stack.

Each backend's endpoint comes from, in order: the command-line flag, the variable
``meshkit local env`` exports (``MESHKIT_KAFKA_BOOTSTRAP``, ``MESHKIT_WAREHOUSE``,
``MESHKIT_SEARCH_URL``, ``MESHKIT_POSTGRES_URL``), what the domain settings set
(``meshkit.settings``: ``kafka_brokers``, ``duckdb_path``, ``search_url``, ``view_dsn``,
from ``MESHKIT_*`` variables or ``meshkit.yaml``), or the running local stack's endpoints
(``meshkit.local.LocalStack().endpoints``, the stack ``meshkit local up`` started). A
backend with no endpoint is left out of the plan, which says so.

The warehouse target is a DuckDB file, or ``bigquery:<project>``: the settings'
``warehouse_kind: bigquery`` makes it that (unless ``--warehouse`` names a file), and
then provisioning talks to BigQuery (``meshkit_platform.provisioning.bigquery``) through
the settings' client (``meshkit.clients.bigquery_client``: the project and its
credentials, or the emulator at ``bigquery_emulator_host`` with its short retries), with
the settings' dataset prefix, location, policy-tag taxonomy and reader group domain.

The clients take the rest of the same settings: Kafka's security (SASL, SSL) goes to the
admin client, and the search client is ``meshkit.clients.search_client`` (API key or
basic auth, CA file; the plain media types only for the local stand-in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from meshkit.clients import EMULATOR_PROJECT, bigquery_client, bigquery_retries, search_client
from meshkit.errors import ConfigError
from meshkit.local import LocalStack
from meshkit.settings import MeshkitSettings, load_settings
from meshkit_platform.provisioning.bigquery import BigQueryBackend
from meshkit_platform.provisioning.cdc import CdcBackend
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.plan import Backend
from meshkit_platform.provisioning.search import SearchBackend
from meshkit_platform.provisioning.views import ViewBackend
from meshkit_platform.provisioning.warehouse import WarehouseBackend

BIGQUERY = "bigquery:"
"""The warehouse target's prefix for BigQuery: ``bigquery:<project>``."""
ENV = {
    "kafka": "MESHKIT_KAFKA_BOOTSTRAP",
    "warehouse": "MESHKIT_WAREHOUSE",
    "search": "MESHKIT_SEARCH_URL",
    "postgres": "MESHKIT_POSTGRES_URL",
}


@dataclass(frozen=True)
class Targets:
    """One endpoint per backend; ``None`` leaves the backend out."""

    kafka: str | None = None
    warehouse: str | None = None
    search: str | None = None
    postgres: str | None = field(default=None, repr=False)  # a DSN may hold a password
    settings: MeshkitSettings = field(default_factory=lambda: MeshkitSettings.model_validate({}))
    source: str | None = field(default=None, repr=False)
    """libpq URL of the service databases' server (CDC publications and slots); a flag only."""

    def resolved(self, settings: MeshkitSettings | None = None) -> Targets:
        """Missing endpoints from the environment and the domain settings (default:
        :func:`meshkit.settings.load_settings`), then from the running local stack."""
        domain = settings if settings is not None else load_settings()
        given = domain.model_fields_set
        if domain.warehouse_kind == "bigquery":
            project = domain.bigquery_project or EMULATOR_PROJECT
            warehouse: str | None = BIGQUERY + project
        else:
            warehouse = str(domain.duckdb_path) if "duckdb_path" in given else None
        from_settings = {
            "kafka": domain.kafka_brokers if "kafka_brokers" in given else None,
            "warehouse": warehouse,
            "search": domain.search_url,
            "postgres": domain.view_dsn_value(),
        }
        found = replace(self, settings=domain, **{
            k: self._get(k) or os.environ.get(v) or from_settings[k] for k, v in ENV.items()
        })  # fmt: skip
        if all((found.kafka, found.warehouse, found.search, found.postgres)):
            return found
        local = LocalStack().endpoints
        return Targets(
            kafka=found.kafka or local.kafka,
            warehouse=found.warehouse or (str(local.warehouse) if local.warehouse else None),
            search=found.search or local.search,
            postgres=found.postgres or local.postgres,
            settings=domain,
            source=found.source,
        )

    def _bigquery(self, project: str) -> BigQueryBackend:
        """The BigQuery backend of ``project`` with the settings' client and options."""
        from google.auth.exceptions import DefaultCredentialsError

        settings = self.settings
        if project and project != settings.bigquery_project:
            settings = settings.model_copy(update={"bigquery_project": project})
        try:
            client = bigquery_client(settings)
        except DefaultCredentialsError:
            raise ConfigError(
                f"BigQuery project {project}: no credentials found; set "
                "MESHKIT_GCP_CREDENTIALS_FILE (a service-account key) or application default "
                "credentials (gcloud auth application-default login)"
            ) from None
        return BigQueryBackend(
            client,
            dataset_prefix=settings.bigquery_dataset_prefix,
            location=settings.bigquery_location,
            taxonomy=settings.bigquery_policy_taxonomy,
            reader_domain=settings.bigquery_reader_domain,
            **bigquery_retries(settings),
        )

    def _get(self, name: str) -> str | None:
        value: str | None = getattr(self, name)
        return value

    def open(self) -> list[Backend]:
        """A backend per configured endpoint (Kafka, the warehouse: BigQuery when the
        settings say so, else DuckDB; search, views, CDC)."""
        out: list[Backend] = []
        if self.kafka:
            out.append(KafkaBackend(self.kafka, config=self.settings.kafka_security_config()))
        if self.warehouse and self.warehouse.startswith(BIGQUERY):
            out.append(self._bigquery(self.warehouse.removeprefix(BIGQUERY)))
        elif self.warehouse:
            out.append(WarehouseBackend(Path(self.warehouse)))
        if self.search:
            settings = self.settings.model_copy(update={"search_url": self.search})
            out.append(SearchBackend(search_client(settings)))
        if self.postgres:
            out.append(ViewBackend(self.postgres))
        if self.source:
            out.append(CdcBackend(self.source))
        return out
