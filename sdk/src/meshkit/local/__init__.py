"""The embedded local stack: a Kafka-protocol broker, PostgreSQL, a DuckDB warehouse, a
search server, a package index and (opt-in) a BigQuery emulator, started and stopped from
Python or with ``meshkit local up|status|down|env``.

Each service lives in its own module (``kafka``, ``postgres``, ``warehouse``, ``search``,
``index``, ``bigquery``); :class:`LocalStack` drives them together. See
``docs/local-stack.md``.
"""

from meshkit.local.bigquery import (
    BigQueryEmulator,
    emulator_client,
    emulator_job_retry,
    emulator_retry,
)
from meshkit.local.index import IndexCredentials, PackageIndex
from meshkit.local.kafka import (
    FAST_GROUP_SETTINGS,
    KafkaBroker,
    admin_config,
    consumer_config,
    producer_config,
    tansu_binary,
)
from meshkit.local.postgres import Postgres
from meshkit.local.search import SearchServer, local_search_client
from meshkit.local.service import LocalService, ServiceStatus
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import DEFAULT_SERVICES, SERVICES, Endpoints, LocalStack
from meshkit.local.warehouse import Warehouse

__all__ = [
    "DEFAULT_SERVICES",
    "FAST_GROUP_SETTINGS",
    "SERVICES",
    "BigQueryEmulator",
    "Endpoints",
    "IndexCredentials",
    "KafkaBroker",
    "LocalService",
    "LocalSettings",
    "LocalStack",
    "PackageIndex",
    "Postgres",
    "SearchServer",
    "ServiceStatus",
    "Warehouse",
    "admin_config",
    "consumer_config",
    "emulator_client",
    "emulator_job_retry",
    "emulator_retry",
    "local_search_client",
    "producer_config",
    "tansu_binary",
]
