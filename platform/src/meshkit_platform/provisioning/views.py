"""The serving-view backend: a PostgreSQL table per product major, read from ``pg_catalog``.

Ownership is by marker: a table is meshkit's when its ``COMMENT`` starts with ``MARKER``
(``meshkit:managed <address>``, then the contract's description). ``read`` takes the
tables of schema ``public`` named ``<domain>.*`` for the planned domains, with their
columns as ``format_type`` spells them; a table without the marker is never touched.

``apply`` creates and evolves a table with the SDK's writer
(``meshkit.ports.view.ServingViewWriter.ensure``), drops columns added out of band, and
writes the marker. Grants are column grants: each reader group's role
(``meshkit_reader_<group>``, created ``NOLOGIN`` when missing) holds ``SELECT`` on exactly
the columns the contract publishes; ``read`` takes them from the tables' column ACLs
(``aclexplode(pg_attribute.attacl)``), and ``apply`` revokes what a role holds on the
table and grants the columns again, and revokes the roles no contract names any more.
Only roles named ``meshkit_reader_*`` are read or changed.
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
ROLE_PREFIX = "meshkit_reader_"


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
        """Tables and column grants per reader group."""
        return {"tables": "supported", "column_grants": "supported"}

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
                attrs = out.setdefault(key, {"columns": {}, "grants": {}})
                attrs["columns"][column] = dtype + (" NOT NULL" if notnull else "")
            if out:
                self._read_grants(cur, out)
        return out

    def _read_grants(self, cur: Any, out: dict[tuple[str, str], dict[str, Any]]) -> None:
        tables = [name.partition(".")[2] for _, name in out]
        cur.execute(
            "SELECT c.relname, r.rolname, array_agg(a.attname::text ORDER BY a.attname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "AND NOT a.attisdropped AND a.attacl IS NOT NULL "
            "CROSS JOIN LATERAL aclexplode(a.attacl) x "
            "JOIN pg_roles r ON r.oid = x.grantee "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) AND x.privilege_type = 'SELECT' "
            "AND starts_with(r.rolname, %s) GROUP BY c.relname, r.rolname",
            [VIEW_SCHEMA, tables, ROLE_PREFIX],
        )
        for table, role, columns in cur.fetchall():
            out[("table", f"{VIEW_SCHEMA}.{table}")]["grants"][role] = list(columns)

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
            self._grant(cur, ident, live.get("grants", {}), desired.attrs.get("grants", {}))

    def _grant(
        self, cur: Any, ident: sql.Identifier, have: dict[str, list[str]],
        want: dict[str, list[str]],
    ) -> None:  # fmt: skip
        for role in sorted(set(have) - set(want)):
            cur.execute(
                sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(ident, sql.Identifier(role))
            )
        for role, columns in sorted(want.items()):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            if have.get(role) == columns:
                continue
            cur.execute(
                sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(ident, sql.Identifier(role))
            )
            cur.execute(
                sql.SQL("GRANT SELECT ({}) ON TABLE {} TO {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    ident,
                    sql.Identifier(role),
                )
            )

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
