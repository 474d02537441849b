"""Where provisioning connects: flags, else environment variables, else the local stack.

Each backend's endpoint comes from, in order: the command-line flag, the variable
``meshkit local env`` exports (``MESHKIT_KAFKA_BOOTSTRAP``, ``MESHKIT_WAREHOUSE``,
``MESHKIT_SEARCH_URL``, ``MESHKIT_POSTGRES_URL``), or the running local stack's endpoints
(``meshkit.local.LocalStack().endpoints``, the stack ``meshkit local up`` started). A
backend with no endpoint is left out of the plan, which says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from meshkit.local import LocalStack, local_search_client
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.plan import Backend
from meshkit_platform.provisioning.search import SearchBackend
from meshkit_platform.provisioning.views import ViewBackend
from meshkit_platform.provisioning.warehouse import WarehouseBackend

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
    postgres: str | None = None

    def resolved(self) -> Targets:
        """Missing endpoints from the environment, then from the running local stack."""
        found = replace(self, **{k: self._get(k) or os.environ.get(v) or None
                                 for k, v in ENV.items()})  # fmt: skip
        if all((found.kafka, found.warehouse, found.search, found.postgres)):
            return found
        local = LocalStack().endpoints
        return Targets(
            kafka=found.kafka or local.kafka,
            warehouse=found.warehouse or (str(local.warehouse) if local.warehouse else None),
            search=found.search or local.search,
            postgres=found.postgres or local.postgres,
        )

    def _get(self, name: str) -> str | None:
        value: str | None = getattr(self, name)
        return value

    def open(self) -> list[Backend]:
        """A backend per configured endpoint (Kafka, warehouse, search, views)."""
        out: list[Backend] = []
        if self.kafka:
            out.append(KafkaBackend(self.kafka))
        if self.warehouse:
            out.append(WarehouseBackend(Path(self.warehouse)))
        if self.search:
            out.append(SearchBackend(local_search_client(self.search)))
        if self.postgres:
            out.append(ViewBackend(self.postgres))
        return out
