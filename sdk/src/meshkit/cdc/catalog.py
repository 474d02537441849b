"""What the capture needs from the source database's catalog, and the pre-flight checks.

Every check that fails raises :class:`~meshkit.errors.ConfigError` with what is wrong and
how to fix it: unreachable server or bad DSN, ``wal_level`` not ``logical``, a role
without the REPLICATION attribute, a configured table that does not exist, a table whose
UPDATE and DELETE publishing would break (no replica identity), key columns the table
does not have. The checks run before anything is created in the source database.

Every name that reaches SQL (schema, table, column, publication, role) is composed with
:mod:`psycopg2.sql` (``Identifier``), never pasted into the text; every DSN in a message
goes through :func:`redact`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from meshkit.cdc.pgoutput import Column
from meshkit.errors import ConfigError
from meshkit.redaction import redact_dsn

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

    def identifier(self) -> sql.Identifier:
        """The name for SQL composition (quoted by the driver)."""
        return sql.Identifier(self.schema, self.table)


@dataclass(frozen=True)
class TableInfo:
    """A captured table's current columns, primary key and replica identity.

    ``replica_identity`` is ``pg_class.relreplident``: ``d`` (default: the primary key),
    ``f`` (full), ``i`` (an index; ``identity_index`` says whether it still exists) or
    ``n`` (nothing).
    """

    name: TableName
    oid: int
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    replica_identity: str
    identity_index: bool = False
    can_select: bool = True

    def sql_name(self, conn: psycopg2.extensions.connection) -> str:
        """The table's name as SQL text (quoted by the driver), for messages."""
        return self.name.identifier().as_string(conn)


def scrub(text: str, dsn: str) -> str:
    """``text`` (a driver's error) with the DSN and its password taken out."""
    secrets = {dsn}
    with contextlib.suppress(psycopg2.Error):
        secrets.add(str(psycopg2.extensions.parse_dsn(dsn).get("password") or ""))
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _detail(exc: BaseException, dsn: str) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if first.startswith("invalid dsn"):
        # libpq quotes the part it could not parse, which may be the password
        return "not a valid libpq connection string or URL"
    return scrub(first, dsn)


def connect(dsn: str, **kwargs: Any) -> psycopg2.extensions.connection:
    """A connection with the capture's session options; ConfigError when it cannot connect."""
    try:
        conn: psycopg2.extensions.connection = psycopg2.connect(
            dsn, options=SESSION_OPTIONS, connect_timeout=5, **kwargs
        )
    except psycopg2.Error as exc:
        raise ConfigError(
            f"cannot connect to the source database {redact_dsn(dsn)}: {_detail(exc, dsn)}\n"
            "  fix: check host, port, database name, user and password of the CDC 'dsn' "
            "(a libpq URL such as postgresql://user:password@host:5432/dbname)"
        ) from None  # the driver's exception may quote the DSN, password included
    return conn


def replication_connection(dsn: str) -> Any:
    """A logical replication connection; ConfigError (redacted) when it cannot connect."""
    import psycopg2.extras

    try:
        return psycopg2.connect(
            dsn,
            connection_factory=psycopg2.extras.LogicalReplicationConnection,
            options=SESSION_OPTIONS,
            connect_timeout=5,
        )
    except psycopg2.Error as exc:
        raise ConfigError(
            f"cannot open a replication connection to {redact_dsn(dsn)}: {_detail(exc, dsn)}\n"
            "  fix: allow replication connections for this role in pg_hba.conf and check "
            "max_wal_senders"
        ) from None


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
                f"the source database {redact_dsn(dsn)} has wal_level={wal_level}; CDC needs "
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
            role = sql.Identifier(user).as_string(conn)
            raise ConfigError(
                f"role {user!r} may not read a replication stream (no REPLICATION attribute)\n"
                f"  fix: ALTER ROLE {role} WITH REPLICATION; (and grant it SELECT on the "
                "captured tables), or use a role that has it"
            )


def table_info(conn: psycopg2.extensions.connection, name: TableName) -> TableInfo | None:
    """The table's catalog facts, or ``None`` when it does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.oid, c.relreplident, "
            "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), "
            "  has_table_privilege(c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (name.schema, name.table),
        )
        row = cur.fetchone()
        if row is None:
            return None
        oid, identity, identity_index, can_select = row
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
    return TableInfo(
        name, int(oid), columns, primary_key, str(identity), bool(identity_index), bool(can_select)
    )


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


def check_tables(
    conn: psycopg2.extensions.connection,
    infos: list[TableInfo],
    key_columns: dict[str, list[str]],
) -> None:
    """Refuse what would break the application or the events, before anything is created.

    - a table the role may not read (the snapshot would fail half-way);
    - a table without a replica identity (``DEFAULT`` without a primary key, ``NOTHING``,
      or ``USING INDEX`` whose index was dropped): once it is in a publication, PostgreSQL
      refuses the *application's* UPDATE and DELETE on it;
    - ``key_columns`` naming a table that is not captured, or a column the table lacks
      (the events would have null keys).
    """
    problems: list[str] = []
    for info in infos:
        if not info.can_select:
            problems.append(
                f"table {info.name}: the role may not read it (the snapshot reads every row)\n"
                f"  fix: GRANT SELECT ON {info.sql_name(conn)} TO <the capture's role>;"
            )
        identity = info.replica_identity
        missing = {
            "d": "has no primary key and REPLICA IDENTITY DEFAULT",
            "n": "has REPLICA IDENTITY NOTHING",
            "i": "has REPLICA IDENTITY USING INDEX, but that index no longer exists",
        }
        if (
            (identity == "d" and not info.primary_key)
            or identity == "n"
            or (identity == "i" and not info.identity_index)
        ):
            name = info.sql_name(conn)
            problems.append(
                f"table {info.name} {missing[identity]}: once it is published, PostgreSQL "
                "refuses the application's own UPDATE and DELETE on it (no replica identity)\n"
                f"  fix: ALTER TABLE {name} ADD PRIMARY KEY (<columns>); or "
                f"ALTER TABLE {name} REPLICA IDENTITY FULL; (whole old rows in the WAL), or "
                f"ALTER TABLE {name} REPLICA IDENTITY USING INDEX <unique index on NOT NULL "
                "columns>;"
            )
    by_name = {str(info.name): info for info in infos}
    for table, columns in key_columns.items():
        found = by_name.get(table)
        if found is None:
            problems.append(
                f"key_columns names {table}, which is not captured\n"
                f"  fix: add {table} to 'tables', or remove it from 'key_columns'"
            )
            continue
        have = [c.name for c in found.columns]
        for column in columns:
            if column not in have:
                problems.append(
                    f"key_columns of {table}: no column {column!r} (columns: {', '.join(have)})"
                    "\n  fix: name existing columns in 'key_columns', or leave the table out "
                    "to key its events by the primary key"
                )
        if not columns:
            problems.append(f"key_columns of {table}: empty list\n  fix: name the key columns")
    if problems:
        raise ConfigError("\n".join(problems))


def publication_exists(conn: psycopg2.extensions.connection, publication: str) -> bool:
    """Whether the publication exists in this database."""
    with conn.cursor() as cur:
        found = _one(cur, "SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
    conn.commit()
    return bool(found)


def ensure_publication(
    conn: psycopg2.extensions.connection, publication: str, tables: list[TableName]
) -> bool:
    """Create the publication, or set its table list to exactly ``tables``; whether it was
    created (did not exist before)."""
    listing = sql.SQL(", ").join(t.identifier() for t in tables)
    exists = publication_exists(conn, publication)
    template = (
        "ALTER PUBLICATION {} SET TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
    )
    statement = sql.SQL(template).format(sql.Identifier(publication), listing)
    with conn.cursor() as cur:
        try:
            cur.execute(statement)
        except psycopg2.errors.InsufficientPrivilege as exc:
            conn.rollback()
            raise ConfigError(
                f"cannot create or alter publication {publication!r}: "
                f"{(exc.pgerror or str(exc)).strip()}\n"
                "  fix: run the capture as the tables' owner, or have an administrator run "
                f"{statement.as_string(conn)};"
            ) from exc
    conn.commit()
    return not exists


def drop_publication(conn: psycopg2.extensions.connection, publication: str) -> bool:
    """Drop the publication; whether it existed."""
    existed = publication_exists(conn, publication)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication)))
    conn.commit()
    return existed


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


def slot_confirmed_lsn(conn: psycopg2.extensions.connection, slot: str) -> str:
    """The slot's confirmed position (where streaming from it starts), as ``X/Y`` text."""
    with conn.cursor() as cur:
        lsn = _one(
            cur,
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (slot,),
        )
    conn.commit()
    if lsn is None:
        raise ConfigError(f"replication slot {slot!r} has no confirmed position")
    return str(lsn)


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
