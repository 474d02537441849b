"""The serving view: a PostgreSQL table per product major version, upserted by key, and its reader.

The table is named by the product's address, ``"<domain>.<product>.v<major>"`` (one
quoted identifier) in schema ``schema`` (default ``public``), with the contract's
published columns, the primary key as its primary key, and ``_meshkit_pos``. Struct,
array and json fields are ``jsonb``. When the view's ``key`` differs from the primary key
it gets an index of its own, so ``ViewReader.find`` is one indexed lookup too.

A micro-batch is checked (``Intake``; a bad change raises ``RecordRefusedError`` from
``write``, and nothing of the batch is sent), compacted to the newest change per key,
sent with ``COPY`` into a temporary staging table, then applied in the same transaction:
deletes (keys and positions sent as arrays), then ``INSERT ... ON CONFLICT DO UPDATE ...
WHERE`` the stored position is older. The commit makes the batch visible at once; a
replay changes nothing.

**One batch in flight, in parts.** The server's part of a batch (``COPY``, ``DELETE``,
``INSERT``: three quarters of the time on one connection) runs on background threads
while ``write`` returns and the caller checks and converts its next batch. A batch is
split by row into up to ``connections`` parts (default 2) of at least ``MIN_PART``
(2,000) changes, each applied in its own transaction on its own connection, at the same
time: the batch is compacted first, so the parts touch disjoint keys and cannot conflict.
``write`` returns ``WriteReport(staged=n)`` once the batch is checked and handed over; it
first waits for the batch before it, so only one is in flight, and if a part of that one
failed it raises its ``PortError`` and does not send this one. ``flush`` waits for the
batch in flight; ``applied`` counts what the batches wrote and skipped. A reader may see
one part of a batch before the other; a failed part is replayed like any lost batch.

Each part commits with ``synchronous_commit = off``: it does not wait for its WAL to
reach disk (a server crash may lose the last fraction of a second of commits, never a
part of one). ``flush`` then commits one transaction that does wait, and since WAL is
written in order, every batch committed before it is durable when ``flush`` returns: one
disk flush per ``flush`` instead of one per batch, and a caller that commits its source
position after ``flush`` (as the protocol says) never skips a lost batch.

Example::

    writer = ServingViewWriter(dsn)
    writer.ensure(contract)
    writer.write(changes)
    writer.flush()                          # applied and durable
    ViewReader(dsn, contract).get("c-1")   # {'customer_id': 'c-1', ...} or None
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg2 import sql

from meshkit.contracts import Contract, ServingView
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.ports.base import (
    POSITION_COLUMN,
    Change,
    NotEnsuredError,
    PortError,
    WriteReport,
    describe_error,
)
from meshkit.ports.evolution import Column, Evolution, plan
from meshkit.ports.intake import DELETE_COLUMN, Intake

_SCALARS = {
    "string": "text",
    "integer": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp with time zone",
    "bytes": "bytea",
    "json": "jsonb",
    "array": "jsonb",
    "struct": "jsonb",
}


def postgres_type(field: PublishedField) -> str:
    """The PostgreSQL type of a published field (as ``format_type`` spells it)."""
    if field.type.kind == "decimal":
        return f"numeric({field.type.precision},{field.type.scale})"
    return _SCALARS[field.type.kind]


def view_key(contract: Contract) -> tuple[str, ...]:
    """The serving view's lookup key: the port's ``key``, else the primary key."""
    port = next((p for p in contract.ports.outputs if isinstance(p, ServingView)), None)
    return tuple(port.key) if port is not None and port.key else tuple(contract.primary_key)


class _Table:
    def __init__(self, contract: Contract, schema: str) -> None:
        self.contract = contract
        self.fields = published_fields(contract)
        self.names = [f.name for f in self.fields]
        self.ident = sql.Identifier(schema, contract.address)
        self.schema = schema
        self.key = tuple(contract.primary_key)
        self.view_key = view_key(contract)


MIN_PART = 2_000
"""A batch is split across connections only when each part gets at least this many
changes: every part pays its own round trips (``COPY``, ``DELETE``, ``INSERT``, commit)."""


class ServingViewWriter:
    """Serving-view writer for PostgreSQL (see the module docstring)."""

    flush_when_idle = True
    """A streaming sink may flush whenever no batch waits for this port: the batch in
    flight is then known to be applied (visible to readers), and durable."""

    def __init__(self, dsn: str, *, schema: str = "public", connections: int = 2) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, not {connections}")
        self.dsn = dsn
        self.schema = schema
        self.conn = psycopg2.connect(dsn)
        self.applied = WriteReport()
        """Changes the batches wrote, and skipped as superseded or already applied."""
        self._conns = [self.conn]
        self._wanted_conns = connections
        self._table: _Table | None = None
        self._intake: Intake | None = None
        self._sql: _Statements | None = None
        self._pool: ThreadPoolExecutor | None = None  # the background threads, at first write
        self._inflight: list[Future[int]] = []
        self._inflight_size = 0

    def ensure(self, contract: Contract) -> Evolution:
        """Create the view's table (and key index), or evolve it additively.

        The batch in flight is waited for first (``flush``).
        """
        self.flush()
        t = _Table(contract, self.schema)
        port = f'{contract.address} (PostgreSQL table {self.schema}."{contract.address}")'
        wanted = [Column(f.name, postgres_type(f), not f.required) for f in t.fields]
        with self.conn, self.conn.cursor() as cur:
            # one ensure at a time (until this transaction ends): CREATE ... IF NOT EXISTS
            # is not safe against a concurrent one (the sink partitions of a cluster)
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('meshkit.view.ensure'))")
            cur.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            existing = _columns(cur, self.schema, contract.address)
            evolution = Evolution()
            if not existing:
                cols = [
                    sql.SQL("{} {}{}").format(
                        sql.Identifier(c.name),
                        sql.SQL(c.type),
                        sql.SQL("" if c.nullable else " NOT NULL"),
                    )
                    for c in wanted
                ]
                cols.append(sql.SQL("{} bigint NOT NULL").format(sql.Identifier(POSITION_COLUMN)))
                cols.append(
                    sql.SQL("PRIMARY KEY ({})").format(
                        sql.SQL(", ").join(map(sql.Identifier, t.key))
                    )
                )
                cur.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                        t.ident, sql.SQL(", ").join(cols)
                    )
                )
                if contract.description:
                    cur.execute(
                        sql.SQL("COMMENT ON TABLE {} IS %s").format(t.ident), [contract.description]
                    )
            else:
                existing.pop(POSITION_COLUMN, None)
                evolution = plan(port, existing, wanted, contract)
                for c in evolution.add:
                    cur.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                            t.ident, sql.Identifier(c.name), sql.SQL(c.type)
                        )
                    )
                for c in evolution.relax:
                    cur.execute(
                        sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
                            t.ident, sql.Identifier(c.name)
                        )
                    )
            if t.view_key != t.key:
                cur.execute(
                    sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                        sql.Identifier(f"{contract.address}.by_key"[:63]),
                        t.ident,
                        sql.SQL(", ").join(map(sql.Identifier, t.view_key)),
                    )
                )
        self._table = t
        self._intake = Intake(contract, port)
        self._sql = _statements(t, self.conn)
        while len(self._conns) < self._wanted_conns:
            self._conns.append(psycopg2.connect(self.dsn))
        for conn in self._conns:
            with conn, conn.cursor() as cur:
                cur.execute(self._sql.stage)
        return evolution

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the whole batch, then hand it, in parts, to the background threads, which
        apply each part in one transaction (see the module docstring)."""
        if self._table is None or self._intake is None or self._sql is None:
            raise NotEnsuredError("call ensure(contract) before write()")
        if not batch:
            return WriteReport()
        data, fields = self._intake.table(batch), self._table.fields
        n = max(1, min(len(self._conns), data.num_rows // MIN_PART))
        size = -(-data.num_rows // n)
        parts = [data.slice(i * size, size) for i in range(n)]
        work = [(_csv(part, fields), self._deletes(part)) for part in parts]
        self._wait(following=True)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self._conns), thread_name_prefix="meshkit-view")
        self._inflight = [
            self._pool.submit(self._apply, conn, self._sql, csv, deletes)
            for conn, (csv, deletes) in zip(self._conns, work, strict=False)
        ]
        self._inflight_size = len(batch)
        return WriteReport(staged=len(batch))

    def _deletes(self, data: pa.Table) -> list[list[Any]]:
        """The keys and positions of the deletes in ``data``, as arrays for ``q.delete``."""
        assert self._table is not None
        if not pc.any(data.column(DELETE_COLUMN)).as_py():
            return []
        gone = data.filter(data.column(DELETE_COLUMN))
        return [gone.column(k).to_pylist() for k in (*self._table.key, POSITION_COLUMN)]

    @staticmethod
    def _apply(
        conn: psycopg2.extensions.connection,
        q: _Statements,
        csv: io.BytesIO,
        deletes: list[list[Any]],
    ) -> int:
        """Apply one part of a batch in one transaction (on a background thread); the
        number of changes it wrote."""
        with conn, conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.copy_expert(q.copy, csv, size=1 << 20)
            deleted = 0
            if deletes:
                cur.execute(q.delete, deletes)
                deleted = cur.rowcount
            cur.execute(q.upsert)
            return int(deleted + cur.rowcount)

    def _wait(self, *, following: bool = False) -> None:
        """Wait for every part of the batch in flight; ``PortError`` if one was rolled back."""
        futures, self._inflight = self._inflight, []
        if not futures:
            return
        written, failed = 0, None
        for future in futures:  # every part ends, applied or rolled back, before we go on
            try:
                written += future.result()
            except psycopg2.Error as exc:
                failed = failed or exc
        if failed is not None:
            assert self._intake is not None
            what = (
                "the previous batch was rolled back (in part or whole) and this one was not sent"
                if following
                else "the last batch was rolled back (in part or whole)"
            )
            raise PortError(
                f"{self._intake.port}: {what}; replay from the last committed position: "
                f"{describe_error(failed)}"
            ) from None  # the driver's text holds the row's values
        self.applied.written += written
        self.applied.skipped += self._inflight_size - written

    def flush(self) -> None:
        """Wait for the batch in flight, then make every committed batch durable: each
        batch commits without waiting for the WAL to reach disk; this commits one
        transaction that waits for it (WAL is flushed in order, so everything committed
        before is durable too)."""
        self._wait()
        if self._table is None:
            return
        with self.conn, self.conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = on")
            cur.execute("SELECT txid_current()")

    def close(self) -> None:
        """Flush, then stop the background threads and close the connections."""
        try:
            if not self.conn.closed:
                self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            for conn in self._conns:
                conn.close()


@dataclass(frozen=True)
class _Statements:
    stage: str  # (re)creates the session's staging table, emptied at each commit
    copy: str
    delete: str
    upsert: str


def _statements(t: _Table, conn: Any) -> _Statements:
    """The SQL of ``write`` for one table, rendered once."""
    columns = [*t.names, POSITION_COLUMN]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    pos = sql.Identifier(POSITION_COLUMN)
    flag = sql.Identifier(DELETE_COLUMN)
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns if c not in t.key
    )
    types = {f.name: postgres_type(f) for f in t.fields}
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(types[k])) for k in t.key)
    names = sql.SQL(", ").join(map(sql.Identifier, [*t.key, "p"]))
    match = sql.SQL(" AND ").join(
        sql.SQL("t.{k} = d.{k}").format(k=sql.Identifier(k)) for k in t.key
    )
    # timestamps travel as microseconds since the epoch (pyarrow writes integers to CSV
    # several times faster than timestamps) and become timestamptz in the INSERT
    staged = {f.name: "bigint" if f.type.kind == "timestamp" else types[f.name] for f in t.fields}
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(staged[n])) for n in t.names
    )
    stage = sql.SQL(
        "DROP TABLE IF EXISTS pg_temp.meshkit_stage; "
        "CREATE TEMP TABLE meshkit_stage ({}, {} bigint, {} boolean) ON COMMIT DELETE ROWS"
    ).format(definitions, pos, flag)
    values = sql.SQL(", ").join(
        sql.SQL("'epoch'::timestamptz + {} * interval '1 microsecond'").format(sql.Identifier(c))
        if staged.get(c) == "bigint" and types.get(c) != "bigint"
        else sql.Identifier(c)
        for c in columns
    )
    copy = sql.SQL("COPY meshkit_stage ({}, {}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        cols, flag
    )
    delete = sql.SQL(
        "DELETE FROM {} t USING unnest({}, %s::bigint[]) AS d({}) WHERE {} AND t.{} < d.p"
    ).format(t.ident, arrays, names, match, pos)
    upsert = sql.SQL(
        "INSERT INTO {t} AS t ({cols}) SELECT {values} FROM meshkit_stage "
        "WHERE NOT {d} ON CONFLICT ({key}) DO UPDATE SET {updates} "
        "WHERE t.{pos} < EXCLUDED.{pos}"
    ).format(
        t=t.ident,
        cols=cols,
        values=values,
        d=flag,
        key=sql.SQL(", ").join(map(sql.Identifier, t.key)),
        updates=updates,
        pos=pos,
    )
    text = [q.as_string(conn) for q in (stage, copy, delete, upsert)]
    return _Statements(text[0], text[1], text[2], text[3])


class ViewReader:
    """Reads a serving view by key: one indexed lookup per call.

    Example::

        reader = ViewReader(dsn, contract)
        reader.get("c-1")        # by primary key: the record, or None
        reader.find("u-7")       # by the view's key (when it is not the primary key): a list
    """

    def __init__(self, dsn: str, contract: Contract, *, schema: str = "public") -> None:
        self._t = _Table(contract, schema)
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        cols = sql.SQL(", ").join(map(sql.Identifier, self._t.names))

        def where(key: Sequence[str]) -> sql.Composable:
            return sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in key)

        self._get = (
            sql.SQL("SELECT {} FROM {} WHERE {}")
            .format(cols, self._t.ident, where(self._t.key))
            .as_string(self.conn)
        )
        self._find = (
            sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}")
            .format(
                cols,
                self._t.ident,
                where(self._t.view_key),
                sql.SQL(", ").join(map(sql.Identifier, self._t.key)),
            )
            .as_string(self.conn)
        )

    def get(self, *key: Any) -> dict[str, Any] | None:
        """The record with this primary key, or None."""
        with self.conn.cursor() as cur:
            cur.execute(self._get, key)
            row = cur.fetchone()
        return dict(zip(self._t.names, row, strict=True)) if row else None

    def find(self, *key: Any) -> list[dict[str, Any]]:
        """Every record with this view key, in primary-key order."""
        with self.conn.cursor() as cur:
            cur.execute(self._find, key)
            return [dict(zip(self._t.names, r, strict=True)) for r in cur.fetchall()]

    def all(self) -> list[dict[str, Any]]:
        """Every record (for tests and small views)."""
        with self.conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT {} FROM {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, self._t.names)), self._t.ident
                )
            )
            return [dict(zip(self._t.names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


def _columns(cur: Any, schema: str, table: str) -> dict[str, Column]:
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        [schema, table],
    )
    return {r[0]: Column(r[0], r[1], r[2]) for r in cur.fetchall()}


def _csv(table: pa.Table, fields: Sequence[PublishedField]) -> io.BytesIO:
    """The staged batch as CSV for COPY: jsonb columns as JSON text, bytes as ``\\x`` hex,
    timestamps as microseconds since the epoch."""
    kinds = {f.name: f.type.kind for f in fields}
    columns = [
        _csv_column(kinds.get(name), column)
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    out = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=table.column_names), out)
    out.seek(0)
    return out


def _csv_column(kind: str | None, column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if kind == "timestamp":  # microseconds since the epoch (see the staging table)
        return pc.cast(column, pa.int64())
    if kind in {"struct", "array"}:
        return pa.array(
            [
                None if v is None else orjson.dumps(v, default=str).decode()
                for v in column.to_pylist()
            ],
            pa.string(),
        )
    if kind == "bytes":
        return pa.array(
            [None if v is None else "\\x" + v.hex() for v in column.to_pylist()], pa.string()
        )
    return column
