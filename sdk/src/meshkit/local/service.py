"""The common shape of an embedded service: start (idempotent), health-check, stop.

``LocalService`` is the interface :class:`meshkit.local.LocalStack` drives;
``ProcessService`` implements it for a single long-running child process that listens
on one TCP port (the broker, the search server, the BigQuery emulator).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from meshkit.errors import MeshkitError, ServiceError
from meshkit.local._process import (
    RunRecord,
    free_port,
    is_alive,
    log_tail,
    port_open,
    spawn,
    terminate,
    wait_for,
)
from meshkit.local.settings import LocalSettings


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``meshkit local status``."""

    service: str
    address: str | None
    pid: int | None
    healthy: bool
    detail: str
    skipped: bool = False
    """The service cannot run here (e.g. its package is not installed); not a failure."""


class LocalService(ABC):
    """An embedded service with its data, log and run record under ``<state_dir>/<name>/``."""

    name: ClassVar[str]
    #: Human description shown in docs and ``--help``.
    description: ClassVar[str]

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings

    @property
    def directory(self) -> Path:
        """This service's directory under the state dir."""
        return self.settings.root / self.name

    @property
    def record_path(self) -> Path:
        """Where the run record lives."""
        return self.directory / "run.json"

    @property
    def log_path(self) -> Path:
        """The service's log file."""
        return self.directory / f"{self.name}.log"

    def record(self) -> RunRecord | None:
        """The run record left by whoever started the service, if any."""
        return RunRecord.load(self.record_path)

    def address(self) -> str | None:
        """Where clients connect, when the service has been started."""
        record = self.record()
        return record.address if record else None

    def unavailable(self) -> str | None:
        """Why this service cannot run in this environment, or ``None`` when it can."""
        return None

    @abstractmethod
    def start(self) -> RunRecord:
        """Start the service, or reuse it when it already runs healthy; wait until healthy."""

    @abstractmethod
    def stop(self) -> bool:
        """Stop the service if it runs; whether there was something to stop."""

    @abstractmethod
    def probe(self, address: str) -> str:
        """Ask the service a real question; a short detail, or raise when it does not answer."""

    def status(self) -> ServiceStatus:
        """Health of the recorded instance (never starts anything)."""
        record = self.record()
        if record is None:
            reason = self.unavailable()
            if reason is not None:
                return ServiceStatus(
                    self.name, None, None, healthy=False, detail=reason, skipped=True
                )
            return ServiceStatus(self.name, None, None, healthy=False, detail="not running")
        if record.pid is not None and not is_alive(record.pid, record.create_time):
            detail = f"not running (process {record.pid} is gone; log: {record.log})"
            return ServiceStatus(
                self.name, record.address, record.pid, healthy=False, detail=detail
            )
        try:
            detail = self.probe(record.address)
        except Exception as exc:  # any failure to answer is "unhealthy", with the reason
            return ServiceStatus(
                self.name, record.address, record.pid, healthy=False, detail=_one_line(exc)
            )
        return ServiceStatus(self.name, record.address, record.pid, healthy=True, detail=detail)

    def healthy(self, address: str) -> bool:
        """Whether ``probe`` answers without raising."""
        try:
            self.probe(address)
        except Exception:  # a failing probe is the answer, not an error
            return False
        return True


class ProcessService(LocalService):
    """A service run as one detached child process listening on ``127.0.0.1:<port>``."""

    host: ClassVar[str] = "127.0.0.1"

    @property
    @abstractmethod
    def configured_port(self) -> int:
        """The port from settings (0 = pick a free one)."""

    @abstractmethod
    def command(self, port: int) -> list[str]:
        """The command line that runs the service on ``port``."""

    def address_for(self, port: int) -> str:
        """The client address for a port (override for URLs)."""
        return f"{self.host}:{port}"

    def env(self) -> Mapping[str, str]:
        """Extra environment variables for the child."""
        return {}

    def extra_ports(self) -> dict[str, int]:
        """Further ports the child needs, chosen at start (saved in the record)."""
        return {}

    def start(self) -> RunRecord:
        record = self.record()
        if record is not None and is_alive(record.pid, record.create_time):
            if wait_for(lambda: self.healthy(record.address), self.settings.start_timeout / 4):
                return record
            self.stop()  # running but not answering: replace it
        self.record_path.unlink(missing_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self.configured_port else 3
        last_error: ServiceError | None = None
        for _ in range(attempts):
            try:
                return self._start_once(self.configured_port or free_port(self.host))
            except ServiceError as exc:  # e.g. a free port taken meanwhile: try another one
                last_error = exc
        assert last_error is not None
        raise last_error

    def _start_once(self, port: int) -> RunRecord:
        if port_open(self.host, port):
            raise ServiceError(
                f"{self.name}: port {port} is already in use; "
                f"set MESHKIT_LOCAL_{self.name.upper()}_PORT to another port or 0"
            )
        extra = self.extra_ports()
        pid, created = spawn(
            self.command(port), log=self.log_path, cwd=self.directory, env=self.env()
        )
        record = RunRecord(
            service=self.name,
            pid=pid,
            create_time=created,
            address=self.address_for(port),
            log=str(self.log_path),
            extra={"port": port, **extra},
        )
        record.save(self.record_path)

        def ready() -> bool:
            if not is_alive(pid, created):
                return True  # stop waiting: it exited
            return port_open(self.host, port) and self.healthy(record.address)

        wait_for(ready, self.settings.start_timeout)
        if is_alive(pid, created) and self.healthy(record.address):
            return record
        reason = "exited" if not is_alive(pid, created) else "did not answer in time"
        with contextlib.suppress(MeshkitError):
            terminate(pid, created)
        self.record_path.unlink(missing_ok=True)
        raise ServiceError(
            f"{self.name} {reason} (port {port}); last lines of {self.log_path}:\n"
            f"{log_tail(self.log_path)}"
        )

    def stop(self) -> bool:
        record = self.record()
        if record is None:
            return False
        stopped = False
        if record.pid is not None and is_alive(record.pid, record.create_time):
            terminate(record.pid, record.create_time)
            stopped = True
        self.record_path.unlink(missing_ok=True)
        return stopped


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 160 else first[:157] + "..."
