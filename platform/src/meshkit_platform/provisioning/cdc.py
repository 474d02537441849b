"""The CDC backend: each domain's PostgreSQL publication and replication slot, from ``pg_catalog``.

The desired state (``meshkit_platform.provisioning.desired``) gives each domain whose
contracts have CDC input ports, per service database, a publication and a slot named as
the capture names them (``meshkit_<domain>``, see ``meshkit.cdc``): resources
``<database>.meshkit_<domain>``. The backend connects to each database on one PostgreSQL
server (``dsn`` with the database replaced).

- **publication**: its tables (``pg_publication_tables``). It is meshkit's when its
  ``COMMENT`` starts with ``MARKER``; one without the marker (made by hand, or by a
  capture before provisioning ran) is left alone. ``apply`` creates it or sets its table
  list (the SDK's ``ensure_publication``), writes the marker, or drops it.
- **slot**: read from ``pg_replication_slots`` (a slot takes no comment: the name is the
  marker). A missing slot is ``not applicable``: the capture (``meshkit cdc run``)
  creates it together with its initial snapshot, which a slot made ahead would skip.
  Dropping one loses the capture's position, so it needs ``--allow-delete``.

``problems`` refuses, at plan time, a contract whose source table does not exist in its
database, naming the contract files, the database and the table.
"""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

from meshkit.cdc.catalog import TableName, ensure_publication
from meshkit.contracts import Contract
from meshkit.errors import ServiceError
from meshkit_platform.provisioning.resources import Change, Resource

MARKER = "meshkit:managed"
SLOT_PLUGIN = "pgoutput"


def cdc_name(domain: str) -> str:
    """The publication and slot of a domain: ``meshkit_<domain>``."""
    return f"meshkit_{domain}"


class CdcBackend:
    """Publications and slots of the planned domains on one PostgreSQL server."""

    name = "cdc"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conns: dict[str, psycopg2.extensions.connection] = {}
        self.foreign: set[tuple[str, str]] = set()
        self._slots: set[str] = set()
        self._databases: set[str] = set()
        """Databases to read: those the desired state names (``prepare``)."""

    def prepare(self, desired: list[Resource]) -> None:
        """Note the service databases the desired state names (``read`` reads those)."""
        self._databases = {r.name.split(".", 1)[0] for r in desired}

    def _conn(self, database: str) -> psycopg2.extensions.connection:
        if database not in self._conns:
            try:
                conn = psycopg2.connect(make_dsn(**{**parse_dsn(self.dsn), "dbname": database}))
            except psycopg2.OperationalError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ServiceError(
                    f"the source database {database!r} does not answer ({first}); check "
                    "--source and the contracts' CDC input ports"
                ) from None
            conn.autocommit = True
            self._conns[database] = conn
        return self._conns[database]

    def capabilities(self) -> dict[str, str]:
        """Publications are provisioned; slots are the capture's to create."""
        return {
            "publications": "supported",
            "slots": "read and dropped; created by the capture with its snapshot",
        }

    def read(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Owned publications (their tables) and the slots of ``domains``."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        self.foreign, self._slots = set(), set()
        names = [cdc_name(d) for d in sorted(domains)]
        for database in sorted(self._databases):
            with self._conn(database).cursor() as cur:
                cur.execute(
                    "SELECT p.pubname, coalesce(obj_description(p.oid, 'pg_publication'), ''), "
                    "coalesce(array_agg(t.schemaname || '.' || t.tablename ORDER BY 1, 2) "
                    "FILTER (WHERE t.tablename IS NOT NULL), '{}') "
                    "FROM pg_publication p LEFT JOIN pg_publication_tables t "
                    "ON t.pubname = p.pubname WHERE p.pubname = ANY(%s) GROUP BY 1, 2",
                    [names],
                )
                for pub, comment, tables in cur.fetchall():
                    key = ("publication", f"{database}.{pub}")
                    if comment.startswith(MARKER):
                        out[key] = {"tables": sorted(tables)}
                    else:
                        self.foreign.add(key)
                cur.execute(
                    "SELECT slot_name, plugin FROM pg_replication_slots "
                    "WHERE database = %s AND slot_name = ANY(%s)",
                    [database, names],
                )
                for slot, plugin in cur.fetchall():
                    out[("slot", f"{database}.{slot}")] = {"plugin": plugin}
                    self._slots.add(f"{database}.{slot}")
        return out

    def problems(self, desired: Resource) -> list[str]:
        """The source tables a publication names that its database lacks."""
        if desired.kind != "publication":
            return []
        database = desired.name.split(".", 1)[0]
        tables = list(desired.attrs["tables"])
        with self._conn(database).cursor() as cur:
            cur.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = ANY(%s)",
                [tables],
            )
            found = {row[0] for row in cur.fetchall()}
        return [
            f"{desired.source}: source table {t} does not exist in database {database!r}; "
            "expected the service's table (check the CDC input port's database, schema and "
            "table)"
            for t in tables
            if t not in found
        ]

    def not_applicable(self, desired: Resource) -> str | None:
        """A missing slot: the capture creates it with its snapshot."""
        if desired.kind == "slot" and desired.name not in self._slots:
            return "created by the capture (meshkit cdc run) together with its initial snapshot"
        return None

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """A slot of another output plugin cannot be changed in place."""
        if desired.kind == "slot" and live.get("plugin") != desired.attrs["plugin"]:
            want, have = desired.attrs["plugin"], live.get("plugin")
            why = f"slot uses plugin {have}, the capture needs {want}: drop it, the capture "
            why += "recreates it"
            return ("not applicable", why)
        return None

    def apply(self, change: Change, desired: Resource | None, contract: Contract | None) -> None:
        """Create, update or drop a publication; drop a slot."""
        del contract
        database, _, name = change.name.partition(".")
        conn = self._conn(database)
        if change.kind == "slot":
            if change.action == "delete":
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", [name])
            return
        if change.action == "delete":
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(name)))
            return
        assert desired is not None
        tables = [TableName(*t.split(".", 1)) for t in desired.attrs["tables"]]
        ensure_publication(conn, name, tables)
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("COMMENT ON PUBLICATION {} IS {}").format(
                    sql.Identifier(name), sql.Literal(f"{MARKER} {name}")
                )
            )

    def close(self) -> None:
        """Close the connections."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
