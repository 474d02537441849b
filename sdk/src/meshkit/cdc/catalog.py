"""What the capture needs from the source database's catalog, and the pre-flight checks.

Every check that fails raises :class:`~meshkit.errors.ConfigError` with what is wrong and
how to fix it: unreachable server or bad DSN, ``wal_level`` not ``logical``, a role
without the REPLICATION attribute, a configured table that does not exist.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions

from meshkit.cdc.pgoutput import Column
from meshkit.errors import ConfigError

#: Session settings that make the server's text output what the value mapping expects.
SESSION_OPTIONS = (
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres "
    "-c bytea_output=hex -c extra_float_digits=3"
)


@dataclass(frozen=True)
class TableName:
    """A schema-qualified table name."""

    schema: str
    table: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        """``schema.table`` (or ``table`` in ``public``)."""
        schema, dot, table = text.strip().rpartition(".")
        if not table or (dot and not schema):
            raise ConfigError(f"table {text!r}: expected 'schema.table'")
        return cls(schema or "public", table)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"

    def quoted(self) -> str:
        """The name quoted for SQL."""
        return f'"{self.schema}"."{self.table}"'


@dataclass(frozen=True)
class TableInfo:
    """A captured table's current columns, primary key and replica identity."""

    name: TableName
    oid: int
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    replica_identity: str


def redact(dsn: str) -> str:
    """The DSN without its password."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password:
            return dsn.replace(f":{parts.password}@", ":***@")
        return dsn
    return " ".join(
        "password=***" if item.startswith("password=") else item for item in dsn.split()
    )


def connect(dsn: str, **kwargs: Any) -> psycopg2.extensions.connection:
    """A connection with the capture's session options; ConfigError when it cannot connect."""
    try:
        conn: psycopg2.extensions.connection = psycopg2.connect(
            dsn, options=SESSION_OPTIONS, connect_timeout=5, **kwargs
        )
    except psycopg2.OperationalError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to the source database {redact(dsn)}: {detail}\n"
            "  fix: check host, port, database name, user and password of the CDC 'dsn' "
            "(a libpq URL such as postgresql://user:password@host:5432/dbname)"
        ) from exc
    return conn


def _one(cur: Any, sql: str, args: tuple[Any, ...] = ()) -> Any:
    cur.execute(sql, args)
    row = cur.fetchone()
    return None if row is None else row[0]


def check_server(conn: psycopg2.extensions.connection, dsn: str) -> None:
    """``wal_level=logical`` and a role allowed to replicate."""
    with conn.cursor() as cur:
        wal_level = _one(cur, "SHOW wal_level")
        if wal_level != "logical":
            raise ConfigError(
                f"the source database {redact(dsn)} has wal_level={wal_level}; CDC needs "
                "logical decoding\n  fix: run ALTER SYSTEM SET wal_level = logical; then "
                "restart PostgreSQL (on a managed service, enable logical replication, e.g. "
                "cloudsql.logical_decoding=on or rds.logical_replication=1)"
            )
        cur.execute(
            "SELECT current_user, rolreplication, rolsuper FROM pg_roles "
            "WHERE rolname = current_user"
        )
        user, can_replicate, is_super = cur.fetchone() or ("?", False, False)
        if not (can_replicate or is_super):
            raise ConfigError(
                f"role {user!r} may not read a replication stream (no REPLICATION attribute)\n"
                f'  fix: ALTER ROLE "{user}" WITH REPLICATION; (and grant it SELECT on the '
                "captured tables), or use a role that has it"
            )


def table_info(conn: psycopg2.extensions.connection, name: TableName) -> TableInfo | None:
    """The table's catalog facts, or ``None`` when it does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.oid, c.relreplident FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (name.schema, name.table),
        )
        row = cur.fetchone()
        if row is None:
            return None
        oid, identity = row
        cur.execute(
            "SELECT a.attname, a.atttypid, a.atttypmod, "
            "  coalesce(a.attnum = ANY(i.indkey), false) "
            "FROM pg_attribute a "
            "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (oid,),
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.ord",
            (oid,),
        )
        primary_key = tuple(r[0] for r in cur.fetchall())
    columns = tuple(Column(r[0], int(r[1]), int(r[2]), bool(r[3])) for r in rows)
    return TableInfo(name, int(oid), columns, primary_key, str(identity))


def tables_info(conn: psycopg2.extensions.connection, names: list[TableName]) -> list[TableInfo]:
    """Catalog facts of every configured table; ConfigError naming the missing ones."""
    found: list[TableInfo] = []
    missing: list[str] = []
    for name in names:
        info = table_info(conn, name)
        if info is None:
            missing.append(str(name))
        else:
            found.append(info)
    if missing:
        db = conn.get_dsn_parameters().get("dbname", "?")
        raise ConfigError(
            f"table(s) not found in database {db!r}: {', '.join(missing)}\n"
            "  fix: create them, or correct the 'tables' list (schema.table) of the CDC "
            "configuration or the contracts' CDC input ports"
        )
    return found


def ensure_publication(
    conn: psycopg2.extensions.connection, publication: str, tables: list[TableName]
) -> None:
    """Create the publication, or set its table list to exactly ``tables``."""
    listing = ", ".join(t.quoted() for t in tables)
    with conn.cursor() as cur:
        exists = _one(cur, "SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
        statement = (
            f'ALTER PUBLICATION "{publication}" SET TABLE {listing}'
            if exists
            else f'CREATE PUBLICATION "{publication}" FOR TABLE {listing}'
        )
        try:
            cur.execute(statement)
        except psycopg2.errors.InsufficientPrivilege as exc:
            conn.rollback()
            raise ConfigError(
                f"cannot create or alter publication {publication!r}: {exc.pgerror or exc}"
                "  fix: run the capture as the tables' owner, or have an administrator run "
                f"{statement};"
            ) from exc
    conn.commit()


def drop_publication(conn: psycopg2.extensions.connection, publication: str) -> bool:
    """Drop the publication; whether it existed."""
    with conn.cursor() as cur:
        existed = _one(cur, "SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
        cur.execute(f'DROP PUBLICATION IF EXISTS "{publication}"')
    conn.commit()
    return bool(existed)


def slot_exists(conn: psycopg2.extensions.connection, slot: str) -> bool:
    """Whether the replication slot exists in this database cluster."""
    with conn.cursor() as cur:
        return bool(_one(cur, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)))


def drop_slot(conn: psycopg2.extensions.connection, slot: str) -> bool:
    """Drop the slot (it must not be active); whether it existed."""
    if not slot_exists(conn, slot):
        return False
    with conn.cursor() as cur:
        active = _one(
            cur, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        )
        if active is not None:
            raise ConfigError(
                f"replication slot {slot!r} is in use by server process {active}\n"
                "  fix: stop the running 'meshkit cdc run' first"
            )
        cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    conn.commit()
    return True


def wait_slot_free(conn: psycopg2.extensions.connection, slot: str, timeout: float) -> None:
    """Wait until no server process holds the slot (a killed capture's walsender exits late)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with conn.cursor() as cur:
            active = _one(
                cur, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            )
        conn.commit()
        if active is None:
            return
        time.sleep(0.3)


def close_quietly(conn: psycopg2.extensions.connection | None) -> None:
    """Close a connection, ignoring errors (it may already be broken)."""
    if conn is not None:
        with contextlib.suppress(psycopg2.Error):
            conn.close()
