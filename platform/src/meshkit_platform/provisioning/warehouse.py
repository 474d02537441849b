"""The DuckDB warehouse backend: one schema per domain, one table per product major.

Ownership is by marker: a table is meshkit's when its comment starts with ``MARKER``
(``meshkit:managed <address>``, followed by the contract's description). ``read`` takes
the tables of the planned domains' schemas from ``duckdb_tables()`` and their columns
from ``information_schema.columns``; a table without the marker is never read, changed
or deleted.

``apply`` creates and evolves a table with the SDK's own writer
(``meshkit.ports.warehouse_duckdb.DuckDBWarehouseWriter.ensure``, which builds its DDL
from ``meshkit.contracts.exporters.duckdb``), so the table is exactly what the writer
expects, then writes the marker. A column the contract does not publish (added out of
band) is dropped; a column whose type differs is refused: that is a breaking change,
which takes a new major.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from meshkit.contracts import Contract
from meshkit.contracts.exporters.duckdb import quote
from meshkit.contracts.sql import literal_duckdb
from meshkit.ports.warehouse_duckdb import DuckDBWarehouseWriter
from meshkit_platform.provisioning.resources import Change, Resource

MARKER = "meshkit:managed"


class WarehouseBackend:
    """Schemas and tables of the planned domains in one DuckDB file."""

    name = "warehouse"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.con = duckdb.connect(str(self.path))
        self.foreign: set[tuple[str, str]] = set()
        self._spelling: dict[str, str] = {}  # a type as the exporter writes it -> as DuckDB does
        """Tables of the planned schemas without the marker (found by the last ``read``)."""

    def capabilities(self) -> dict[str, str]:
        """DuckDB has no partitioning, clustering or grants: the BigQuery target has them."""
        return {
            "tables": "supported",
            "partitioning": "not applicable here: DuckDB has no table partitioning",
        }

    def read(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Owned tables (columns as DuckDB spells their types) and the domains' schemas."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        if not domains:
            return out
        wanted = sorted(domains)
        marks = ", ".join("?" for _ in wanted)
        for (schema,) in self.con.execute(
            f"SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ({marks})",
            wanted,
        ).fetchall():
            out[("schema", schema)] = {}
        rows = self.con.execute(
            "SELECT t.schema_name, t.table_name, c.column_name, c.data_type, c.is_nullable "
            "FROM duckdb_tables() t JOIN information_schema.columns c "
            "ON c.table_schema = t.schema_name AND c.table_name = t.table_name "
            f"WHERE t.schema_name IN ({marks}) AND starts_with(t.comment, ?) "
            "ORDER BY t.schema_name, t.table_name, c.ordinal_position",
            [*wanted, MARKER],
        ).fetchall()
        self.foreign = {
            ("table", f"{schema}.{table}")
            for schema, table in self.con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                f"WHERE schema_name IN ({marks}) AND NOT starts_with(coalesce(comment, ''), ?)",
                [*wanted, MARKER],
            ).fetchall()
        }
        for schema, table, column, dtype, nullable in rows:
            attrs = out.setdefault(("table", f"{schema}.{table}"), {"columns": {}})
            attrs["columns"][column] = dtype + ("" if nullable == "YES" else " NOT NULL")
        return out

    def normalise(self, desired: Resource) -> Resource:
        """``desired`` with column types spelled as DuckDB reports them (each type spelled
        once per backend, through one throw-away table for all the types not seen yet)."""
        if desired.kind != "table":
            return desired
        cols = desired.attrs["columns"]
        types = {t.removesuffix(" NOT NULL") for t in cols.values()}
        unseen = sorted(types - set(self._spelling))
        if unseen:
            body = ", ".join(f"c{i} {t}" for i, t in enumerate(unseen))
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE meshkit_provision_types ({body})")
            rows = self.con.execute("DESCRIBE meshkit_provision_types").fetchall()
            self.con.execute("DROP TABLE meshkit_provision_types")
            for t, row in zip(unseen, rows, strict=True):
                self._spelling[t] = str(row[1])
        columns = {
            n: self._spelling[t.removesuffix(" NOT NULL")]
            + (" NOT NULL" if t.endswith(" NOT NULL") else "")
            for n, t in cols.items()
        }
        return Resource(desired.backend, desired.kind, desired.name, {"columns": columns},
                        desired.address, desired.source, desired.holds_data)  # fmt: skip

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """A column whose type changed is refused here: a breaking change takes a new major."""
        have, want = live.get("columns", {}), desired.attrs.get("columns", {})
        changed = [
            n
            for n in want
            if n in have and have[n].removesuffix(" NOT NULL") != want[n].removesuffix(" NOT NULL")
        ]
        if changed:
            return ("not applicable", f"type of {', '.join(changed)} changed: a breaking change "
                    "needs a new major (v2 beside v1)")  # fmt: skip
        return None

    def apply(self, change: Change, desired: Resource | None, contract: Contract | None) -> None:
        """Carry out one change."""
        schema, _, table = change.name.partition(".")
        if change.kind == "schema":
            if change.action == "create":
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            return
        ident = f"{quote(schema)}.{quote(table)}"
        if change.action == "delete":
            self.con.execute(f"DROP TABLE IF EXISTS {ident}")
            return
        assert desired is not None
        assert contract is not None
        live = self.read(frozenset({schema})).get(("table", change.name), {}).get("columns", {})
        for extra in [c for c in live if c not in desired.attrs["columns"]]:
            self.con.execute(f"ALTER TABLE {ident} DROP COLUMN {quote(extra)}")
        writer = DuckDBWarehouseWriter(self.con)
        writer.ensure(contract)
        writer.flush()
        note = f"{MARKER} {contract.address}"
        if contract.description:
            note += f"\n{contract.description}"
        self.con.execute(f"COMMENT ON TABLE {ident} IS {literal_duckdb(note)}")

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()
