"""Warehouse: a DuckDB file under the state directory (no process to run).

"Starting" it creates the file; the health check opens it read-only and runs ``SELECT 1``.
DuckDB lets one process write a file at a time: while a writer holds it, the check reports
the file as in use rather than failing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from meshkit.errors import ServiceError
from meshkit.local._process import RunRecord
from meshkit.local.service import LocalService


class Warehouse(LocalService):
    """The local warehouse: ``<state_dir>/warehouse/warehouse.duckdb``."""

    name = "warehouse"
    description = "warehouse (DuckDB file)"

    @property
    def path(self) -> Path:
        """The DuckDB database file."""
        return self.directory / "warehouse.duckdb"

    def start(self) -> RunRecord:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            try:
                with duckdb.connect(str(self.path)) as con:
                    con.execute("SELECT 1").fetchall()
            except duckdb.Error as exc:
                raise ServiceError(f"cannot create the DuckDB file {self.path}: {exc}") from exc
        record = RunRecord(
            service=self.name, pid=None, create_time=None, address=str(self.path), log=""
        )
        record.save(self.record_path)
        return record

    def stop(self) -> bool:
        existed = self.record_path.exists()
        self.record_path.unlink(missing_ok=True)
        return existed

    def probe(self, address: str) -> str:
        path = Path(address)
        if not path.exists():
            raise ServiceError(f"{path} does not exist")
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                con.execute("SELECT 1").fetchall()
                row = con.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
                    "current_database()"
                ).fetchone()
        except duckdb.Error as exc:
            message = str(exc).lower()
            if "lock" in message:
                return "in use by another process (file locked by its writer)"
            if "different configuration" in message:
                return "in use by this process (open for writing)"
            raise
        tables = row[0] if row else 0
        return f"DuckDB {duckdb.__version__}, {tables} tables"
