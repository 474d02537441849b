"""The serving-view backend: a PostgreSQL table per product major, read from ``pg_catalog``.

Ownership is by marker: a table is meshkit's when its ``COMMENT`` starts with ``MARKER``
(``meshkit:managed <address>``, then the contract's description). ``read`` takes the
tables of schema ``public`` named ``<domain>.*`` for the planned domains, with their
columns as ``format_type`` spells them; a table without the marker is never touched.

``apply`` creates and evolves a table with the SDK's writer
(``meshkit.ports.view.ServingViewWriter.ensure``), drops columns added out of band, and
writes the marker.
"""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql

from meshkit.contracts import Contract
from meshkit.ports.view import ServingViewWriter
from meshkit_platform.provisioning.desired import VIEW_SCHEMA
from meshkit_platform.provisioning.resources import Change, Resource

MARKER = "meshkit:managed"


class ViewBackend:
    """Serving-view tables of the planned domains in one PostgreSQL database."""

    name = "view"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.foreign: set[tuple[str, str]] = set()
        """Tables of the planned domains without the marker (found by the last ``read``)."""

    def capabilities(self) -> dict[str, str]:
        """Tables; column grants per consumer are not provisioned yet."""
        return {"tables": "supported"}

    def read(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Owned tables and their columns (``type`` plus `` NOT NULL`` when required)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        self.foreign = set()
        if not domains:
            return out
        prefixes = [f"{d}." for d in sorted(domains)]
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), ''), "
                "a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                "AND NOT a.attisdropped "
                "WHERE n.nspname = %s AND c.relkind = 'r' "
                "AND split_part(c.relname, '.', 1) || '.' = ANY(%s) "
                "ORDER BY c.relname, a.attnum",
                [VIEW_SCHEMA, prefixes],
            )
            for table, comment, column, dtype, notnull in cur.fetchall():
                key = ("table", f"{VIEW_SCHEMA}.{table}")
                if not comment.startswith(MARKER):
                    self.foreign.add(key)
                    continue
                attrs = out.setdefault(key, {"columns": {}})
                attrs["columns"][column] = dtype + (" NOT NULL" if notnull else "")
        return out

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """A column whose type changed is a breaking change: it takes a new major."""
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
        ident = sql.Identifier(schema, table)
        with self.conn.cursor() as cur:
            if change.action == "delete":
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
                return
            assert desired is not None
            assert contract is not None
            live = self.read(frozenset({contract.domain})).get(("table", change.name), {})
            for extra in [c for c in live.get("columns", {}) if c not in desired.attrs["columns"]]:
                cur.execute(
                    sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(ident, sql.Identifier(extra))
                )
            writer = ServingViewWriter(self.dsn, schema=schema, connections=1)
            try:
                writer.ensure(contract)
            finally:
                writer.close()
            note = f"{MARKER} {contract.address}"
            if contract.description:
                note += f"\n{contract.description}"
            cur.execute(sql.SQL("COMMENT ON TABLE {} IS %s").format(ident), [note])

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
