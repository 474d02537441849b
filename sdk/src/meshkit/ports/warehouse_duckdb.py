"""The warehouse port on DuckDB: one table per product major version, upserted by key.

The table is ``<domain>.<product>_v<major>`` with the contract's published columns (DDL
from ``meshkit.contracts.exporters.duckdb``) plus ``_meshkit_pos``, the source position
of each row. A micro-batch is checked (``Intake``), compacted to the newest change per
key, registered as an Arrow view and applied with one ``MERGE`` statement, so it is
atomic: a crash leaves the batch wholly applied or not at all. A change is applied only
when its position is newer than the row's, so a replayed batch changes nothing.

``mode="append"`` (event tables): rows are only inserted, once per key; deletes are
refused. DuckDB has no partitioning or clustering: those port options apply to BigQuery.

Example::

    writer = DuckDBWarehouseWriter("warehouse.duckdb")
    writer.ensure(contract)
    writer.write([Change.upsert(record, key=(record["customer_id"],), position=7)])
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb

from meshkit.contracts import Contract
from meshkit.contracts.exporters.duckdb import duckdb_columns, duckdb_table_name, quote
from meshkit.ports.base import (
    POSITION_COLUMN,
    Change,
    NotEnsuredError,
    PortError,
    RecordRefusedError,
    WriteReport,
)
from meshkit.ports.evolution import Column, Evolution, plan
from meshkit.ports.intake import DELETE_COLUMN, Intake

Mode = Literal["upsert", "append"]


class DuckDBWarehouseWriter:
    """Warehouse writer for DuckDB (see the module docstring)."""

    def __init__(
        self, database: str | Path | duckdb.DuckDBPyConnection, *, mode: Mode = "upsert"
    ) -> None:
        if isinstance(database, duckdb.DuckDBPyConnection):
            self.con, self._owned = database, False
        else:
            self.con, self._owned = duckdb.connect(str(database)), True
        self.mode = mode
        self._intake: Intake | None = None
        self._merge = ""
        self.table = ""

    # -- ensure ---------------------------------------------------------------------------

    def ensure(self, contract: Contract) -> Evolution:
        """Create the table, or apply additive changes; ``SchemaChangeError`` otherwise."""
        schema, table = duckdb_table_name(contract)
        self.table = f"{quote(schema)}.{quote(table)}"
        port = f"{contract.address} (DuckDB table {schema}.{table})"
        wanted = [Column(n, t, not nn) for n, t, nn in duckdb_columns(contract)]
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        existing = self._columns(schema, table)
        evolution = Evolution()
        if not existing:
            cols = [f"{quote(c.name)} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in wanted]
            cols.append(f"{quote(POSITION_COLUMN)} BIGINT NOT NULL")
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(cols)})")
            self._comment(contract)
        else:
            existing.pop(POSITION_COLUMN, None)
            evolution = plan(port, existing, self._normalised(wanted))
            self.con.execute("BEGIN")
            try:
                for c in evolution.add:
                    self.con.execute(
                        f"ALTER TABLE {self.table} ADD COLUMN {quote(c.name)} {c.type}"
                    )
                for c in evolution.relax:
                    self.con.execute(
                        f"ALTER TABLE {self.table} ALTER COLUMN {quote(c.name)} DROP NOT NULL"
                    )
                self.con.execute("COMMIT")
            except duckdb.Error:
                self.con.execute("ROLLBACK")
                raise
            if not evolution.empty:
                self._comment(contract)
        self._intake = Intake(contract, port)
        self._merge = self._merge_sql([c.name for c in wanted], list(contract.primary_key))
        return evolution

    def _columns(self, schema: str, table: str) -> dict[str, Column]:
        rows = self.con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
        return {r[0]: Column(r[0], r[1], r[2] == "YES") for r in rows}

    def _normalised(self, wanted: Sequence[Column]) -> list[Column]:
        """``wanted`` with types spelled as DuckDB reports them (via a throw-away table)."""
        name = f"meshkit_types_{uuid.uuid4().hex[:8]}"
        cols = ", ".join(f"{quote(c.name)} {c.type}" for c in wanted)
        self.con.execute(f"CREATE TEMP TABLE {name} ({cols})")
        try:
            spelled = self._columns("main", name) or {
                r[0]: Column(r[0], r[1], True)
                for r in self.con.execute(f"DESCRIBE {name}").fetchall()
            }
        finally:
            self.con.execute(f"DROP TABLE {name}")
        return [Column(c.name, spelled[c.name].type, c.nullable) for c in wanted]

    def _comment(self, contract: Contract) -> None:
        if contract.description:
            self.con.execute(f"COMMENT ON TABLE {self.table} IS {_literal(contract.description)}")
        for f in contract.fields:
            if f.description and (f.transform is None or f.transform.kind != "drop"):
                self.con.execute(
                    f"COMMENT ON COLUMN {self.table}.{quote(f.name)} IS {_literal(f.description)}"
                )

    def _merge_sql(self, columns: list[str], key: list[str]) -> str:
        on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
        all_cols = [*columns, POSITION_COLUMN]
        names = ", ".join(quote(c) for c in all_cols)
        values = ", ".join(f"s.{quote(c)}" for c in all_cols)
        if self.mode == "append":
            return (
                f"MERGE INTO {self.table} AS t USING meshkit_stage AS s ON {on} "
                f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
            )
        sets = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in all_cols if c not in key)
        newer = f"s.{quote(POSITION_COLUMN)} > t.{quote(POSITION_COLUMN)}"
        return (
            f"MERGE INTO {self.table} AS t USING meshkit_stage AS s ON {on} "
            f"WHEN MATCHED AND {newer} AND s.{DELETE_COLUMN} THEN DELETE "
            f"WHEN MATCHED AND {newer} THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED AND NOT s.{DELETE_COLUMN} THEN INSERT ({names}) VALUES ({values})"
        )

    # -- write ----------------------------------------------------------------------------

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the whole batch, then apply it in one MERGE (atomic)."""
        if self._intake is None:
            raise NotEnsuredError("call ensure(contract) before write()")
        if not batch:
            return WriteReport()
        if self.mode == "append":
            bad = next((c for c in batch if c.op == "delete"), None)
            if bad is not None:
                raise RecordRefusedError(
                    self._intake.port, bad, None, "an append-only table takes no deletes"
                )
        stage = self._intake.table(batch)
        self.con.register("meshkit_stage", stage)
        try:
            rows = self.con.execute(self._merge).fetchall()
        except duckdb.Error as exc:
            raise PortError(f"{self._intake.port}: the MERGE failed: {exc}") from exc
        finally:
            self.con.unregister("meshkit_stage")
        written = int(rows[0][0]) if rows else 0
        return WriteReport(written=written, skipped=len(batch) - written)

    def flush(self) -> None:
        """Nothing to wait for: each MERGE is committed when ``write`` returns."""

    def close(self) -> None:
        if self._owned:
            self.con.close()


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"
