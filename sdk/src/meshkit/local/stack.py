"""``LocalStack``: start, check and stop the embedded services together.

Example::

    from meshkit.local import LocalStack

    with LocalStack() as stack:          # up() on enter; on exit, stops what it started
        print(stack.endpoints.kafka)     # "127.0.0.1:41234"
        for row in stack.status():
            print(row.service, row.healthy, row.detail)

Services outlive the Python process that started them (their run records sit under the
state directory), so ``LocalStack().down()`` from another process stops them.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from meshkit.errors import ConfigError, MeshkitError, ServiceError
from meshkit.local.bigquery import BigQueryEmulator
from meshkit.local.index import PackageIndex
from meshkit.local.kafka import KafkaBroker
from meshkit.local.postgres import Postgres
from meshkit.local.registry import RegistryService
from meshkit.local.search import SearchServer
from meshkit.local.service import LocalService, ServiceStatus
from meshkit.local.settings import LocalSettings
from meshkit.local.warehouse import Warehouse

#: Every service the stack knows, in start order.
SERVICES: dict[str, type[LocalService]] = {
    "kafka": KafkaBroker,
    "postgres": Postgres,
    "warehouse": Warehouse,
    "search": SearchServer,
    "bigquery": BigQueryEmulator,
    "index": PackageIndex,
    "registry": RegistryService,
}
#: Services another one needs running first (the registry keeps its catalog in PostgreSQL).
NEEDS: dict[str, tuple[str, ...]] = {"registry": ("postgres",)}
#: What ``up`` starts unless told otherwise (the BigQuery emulator and the registry are
#: opt-in: ``--with bigquery``, ``--with registry``).
DEFAULT_SERVICES: tuple[str, ...] = ("kafka", "postgres", "warehouse", "search", "index")


@dataclass(frozen=True)
class Endpoints:
    """Where clients connect; ``None`` for a service that is not running."""

    kafka: str | None = None
    """Kafka bootstrap servers, ``host:port``."""
    postgres: str | None = None
    """libpq URL (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
    warehouse: Path | None = None
    """The DuckDB file."""
    search: str | None = None
    """Base URL of the search API (use :func:`meshkit.local.local_search_client`)."""
    bigquery: str | None = None
    """Base URL of the BigQuery emulator (use :func:`meshkit.local.emulator_client`)."""
    bigquery_grpc: str | None = None
    """``host:port`` of the BigQuery emulator's gRPC API (the Storage Read API)."""
    index: str | None = None
    """The package index URL installers use (``http://127.0.0.1:3141/simple/``)."""
    registry: str | None = None
    """Base URL of the registry API (``http://127.0.0.1:PORT``)."""


def select_services(
    only: Iterable[str] | None = None, with_: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The service names to act on: ``only`` replaces the defaults, ``with_`` adds to them."""
    chosen = list(only) if only else list(DEFAULT_SERVICES)
    chosen += [name for name in (with_ or ()) if name not in chosen]
    for name in list(chosen):
        chosen += [need for need in NEEDS.get(name, ()) if need not in chosen]
    unknown = [name for name in chosen if name not in SERVICES]
    if unknown:
        raise ConfigError(
            f"unknown service(s) {', '.join(unknown)}; expected some of {', '.join(SERVICES)}"
        )
    return tuple(name for name in SERVICES if name in chosen)


class LocalStack:
    """The embedded services under one state directory.

    Args:
        settings: ports and state directory (default: from ``MESHKIT_LOCAL_*`` variables).
        services: which services ``up`` starts (default :data:`DEFAULT_SERVICES`).
    """

    def __init__(
        self,
        settings: LocalSettings | None = None,
        *,
        services: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings or LocalSettings()
        self.selected = select_services(services)
        self._all = {name: cls(self.settings) for name, cls in SERVICES.items()}
        self._started: list[str] = []

    def service(self, name: str) -> LocalService:
        """One service by name."""
        try:
            return self._all[name]
        except KeyError:
            expected = ", ".join(SERVICES)
            raise ConfigError(f"unknown service {name!r}; expected one of {expected}") from None

    def up(self) -> Endpoints:
        """Start the selected services (reusing healthy running ones); their endpoints.

        A service that cannot run here (:meth:`LocalService.unavailable`, e.g. the registry
        without the platform package) is skipped; ``status`` says why. When one fails to
        start, the ones this call started are stopped again.
        """
        started: list[LocalService] = []
        for name in self.selected:
            service = self._all[name]
            if service.unavailable() is not None and service.record() is None:
                continue
            was_running = service.status().healthy
            try:
                service.start()
            except MeshkitError:
                for done in reversed(started):
                    with contextlib.suppress(MeshkitError):
                        done.stop()
                raise
            if not was_running:
                started.append(service)
                self._started.append(name)
        return self.endpoints

    def status(self) -> list[ServiceStatus]:
        """Health of the selected services and of any other service that has a run record."""
        names = [n for n in SERVICES if n in self.selected or self._all[n].record() is not None]
        return [self._all[name].status() for name in names]

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop every service with a run record (selected or not); the names stopped.

        With ``purge``, also delete the state directory (PostgreSQL data, DuckDB file, logs).
        """
        stopped: list[str] = []
        errors: list[str] = []
        for name in reversed(list(SERVICES)):
            try:
                if self._all[name].stop():
                    stopped.append(name)
            except MeshkitError as exc:
                errors.append(f"{name}: {exc}")
        if errors:
            raise ServiceError("could not stop everything:\n" + "\n".join(errors))
        if purge and self.settings.root.exists():
            shutil.rmtree(self.settings.root)
        return stopped

    @property
    def endpoints(self) -> Endpoints:
        """Addresses of the services that have been started (from their run records)."""
        postgres = self._all["postgres"]
        assert isinstance(postgres, Postgres)
        warehouse = self._all["warehouse"]
        assert isinstance(warehouse, Warehouse)
        index = self._all["index"]
        assert isinstance(index, PackageIndex)
        bigquery = self._all["bigquery"]
        assert isinstance(bigquery, BigQueryEmulator)
        return Endpoints(
            kafka=self._all["kafka"].address(),
            postgres=postgres.dsn() if postgres.record() is not None else None,
            warehouse=warehouse.path if warehouse.record() is not None else None,
            search=self._all["search"].address(),
            bigquery=bigquery.address(),
            bigquery_grpc=bigquery.grpc_address(),
            index=index.simple_url(),
            registry=self._all["registry"].address(),
        )

    def stop_started(self) -> list[str]:
        """Stop only the services that ``up`` on this object started (not reused ones)."""
        stopped = [name for name in reversed(self._started) if self._all[name].stop()]
        self._started.clear()
        return stopped

    def __enter__(self) -> LocalStack:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Leave alone what was already running before (e.g. a stack started by the CLI).
        self.stop_started()
