"""The initial snapshot: every row of the captured tables as of the slot's creation.

The replication slot is created with ``SNAPSHOT 'export'``; a second connection imports
that snapshot into a REPEATABLE READ, READ ONLY transaction, so it sees exactly the data
committed before the slot's consistent point: every later change comes from the slot, and
nothing is read twice or missed at the handoff. Rows are read through a server-side
cursor in chunks of ``chunk_rows`` (the transaction stays open, so chunks are still one
consistent snapshot), with every column cast to text so that the snapshot's values go
through exactly the same mapping as streamed values. Table and column names are composed
with ``psycopg2.sql.Identifier``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

from meshkit.cdc.catalog import TableInfo


@dataclass(frozen=True)
class Chunk:
    """Some rows of one table, and how far the table's read has come."""

    table: TableInfo
    rows: list[tuple[str | None, ...]]
    done: int
    estimate: int


def begin(conn: psycopg2.extensions.connection, snapshot_name: str | None) -> str:
    """Start the snapshot transaction on ``conn`` (which must be idle, not autocommit):
    the exported snapshot ``snapshot_name``, or a new one when it is ``None``. Returns the
    WAL position read at its start (every commit the transaction sees is before it)."""
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    with conn.cursor() as cur:
        if snapshot_name is not None:
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
        cur.execute("SELECT pg_current_wal_lsn()::text")
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def transaction_id(conn: psycopg2.extensions.connection) -> int | None:
    """The snapshot transaction's id (Debezium's ``txId`` for snapshot events)."""
    with conn.cursor() as cur:
        cur.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
        row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def estimate_rows(conn: psycopg2.extensions.connection, table: TableInfo) -> int:
    """The planner's row estimate (cheap; exact counts would read the table twice)."""
    with conn.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s", (table.oid,))
        row = cur.fetchone()
    return max(0, int(row[0])) if row else 0


def read_table(
    conn: psycopg2.extensions.connection, table: TableInfo, chunk_rows: int
) -> Iterator[Chunk]:
    """The table's rows, as text, in chunks, inside the snapshot transaction."""
    estimate = estimate_rows(conn, table)
    select = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in table.columns
    )
    query = sql.SQL("SELECT {} FROM {}").format(select, table.name.identifier())
    if table.primary_key:
        order = sql.SQL(", ").join(sql.Identifier(k) for k in table.primary_key)
        query = sql.SQL("{} ORDER BY {}").format(query, order)
    done = 0
    with conn.cursor(name=f"meshkit_snapshot_{table.oid}") as cur:
        cur.itersize = chunk_rows
        cur.execute(query)
        while True:
            rows = cur.fetchmany(chunk_rows)
            if not rows:
                break
            done += len(rows)
            yield Chunk(table, rows, done, max(estimate, done))
