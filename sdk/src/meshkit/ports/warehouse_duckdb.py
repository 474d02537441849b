"""The warehouse port on DuckDB: one table per product major version, upserted by key.

The table is ``<domain>.<product>_v<major>`` with the contract's published columns (DDL
from ``meshkit.contracts.exporters.duckdb``) plus ``_meshkit_pos``, the source position
of each row.

**Staged, then applied as one.** ``write`` checks the whole micro-batch (``Intake``; a
bad change raises ``RecordRefusedError`` there and then, and nothing of the batch is
kept) and stages it as Arrow in memory. ``flush`` applies everything staged since the
last flush as one set of statements, and commits; so does a ``write`` that brings the
staged rows to ``stage_rows`` (default 250,000; it bounds the memory the stage holds,
and twice that while it is applied), without the commit. A columnar store loads one
large batch far more cheaply than many small ones: the large insert is written to the
file as whole row groups, the small ones go through the write-ahead log, which then
triggers a checkpoint (figures in ``docs/benchmarks.md``). A reader, on this
connection too, sees the changes once ``flush`` returned; ``WriteReport.staged`` counts
what a ``write`` accepted, and ``applied`` what the applies wrote and skipped.

An apply is set-based SQL over the staged changes, registered as an Arrow view with
their order (``_meshkit_row``):

0. keep only the newest change per key (``StagedChanges``: by position, the later one on
   a tie);
1. one ``SELECT`` joins that with the table by key: the row id and position of every key
   that exists (the only join against the whole table);
2. ``DELETE ... WHERE rowid IN (...)`` the rows a newer change replaces or deletes;
3. ``INSERT ... SELECT`` the upserts, except those older than (or as old as) their row
   (known from 1.), so a replayed change changes nothing.

Steps 2 and 3 read the matches of step 1 as a registered Arrow table (``MATCHED``), not as
Python lists bound as parameters, which cost more SQL time. That is what a
``MERGE`` with delete/update/insert branches does, in about half of its time on DuckDB
(which updates by deleting and re-inserting anyway).

The applies since a flush run in one transaction that ``flush`` commits, so each flush
makes every write since the last one durable and visible to other connections at once.
A commit goes to DuckDB's write-ahead log; DuckDB checkpoints (rewrites the row groups
the log touched into the file) when the log reaches ``checkpoint_threshold``. A writer
that opens the database itself raises that threshold from DuckDB's 16 MB to
``CHECKPOINT_THRESHOLD`` (64 MB): a flow flushing every micro-batch otherwise pays a
checkpoint every few flushes. A committed batch is as durable in the log as in the file
(a process killed before the checkpoint leaves it in the log, replayed at the next
open); the setting is the database's, for every connection the process has to it. On a
connection the caller passes in, the writer leaves its settings alone.
An SQL error (say a ``CHECK`` constraint the table has beyond the contract) rolls back
that transaction and the staged changes, i.e. every write since the last flush, and
raises ``PortError`` saying so; the caller replays from its last committed position, as
after a crash (it commits its position only after ``flush``). ``ensure`` and ``close``
flush first. On a connection that is already in a transaction the writer uses it and
never commits: ``flush`` applies what is staged and leaves the commit to the caller.

``mode="append"`` (event tables): rows are only inserted, once per key; deletes are
refused. DuckDB has no partitioning or clustering: those port options apply to BigQuery.

Example::

    writer = DuckDBWarehouseWriter("warehouse.duckdb")
    writer.ensure(contract)
    writer.write([Change.upsert(record, key=(record["customer_id"],), position=7)])
    writer.flush()   # committed: commit your own source position now
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from meshkit.contracts import Contract
from meshkit.contracts.exporters.duckdb import (
    column_sql,
    duckdb_columns,
    duckdb_table_name,
    quote,
    uncompressed_columns,
)
from meshkit.contracts.sql import literal_duckdb as _literal
from meshkit.ports.base import POSITION_COLUMN, PortError, describe_error
from meshkit.ports.evolution import Column, Evolution, plan
from meshkit.ports.intake import DELETE_COLUMN, Intake
from meshkit.ports.warehouse import ORDER_COLUMN as ROW
from meshkit.ports.warehouse import Mode, StagedChanges, StagingWriter

STAGE = "meshkit_stage"
MATCHED = "meshkit_matched"
CHECKPOINT_THRESHOLD = "64MB"
"""DuckDB's ``checkpoint_threshold`` for a database the writer opens (module docstring)."""


class DuckDBWarehouseWriter(StagingWriter):
    """Warehouse writer for DuckDB (see the module docstring)."""

    flush_when_idle = True
    """A commit costs milliseconds here: a streaming sink may commit whenever its queue for
    this port is empty, so rows are visible within one write under a light load."""

    def __init__(
        self,
        database: str | Path | duckdb.DuckDBPyConnection,
        *,
        mode: Mode = "upsert",
        stage_rows: int = 250_000,
        checkpoint_threshold: str | None = CHECKPOINT_THRESHOLD,
    ) -> None:
        """``checkpoint_threshold`` (a DuckDB size such as ``"64MB"``; None keeps DuckDB's)
        applies only to a database the writer opens from a path (module docstring)."""
        if isinstance(database, duckdb.DuckDBPyConnection):
            self.con, self._owned = database, False
        else:
            self.con, self._owned = duckdb.connect(str(database)), True
            if checkpoint_threshold is not None:
                self.con.execute("SET checkpoint_threshold = $size", {"size": checkpoint_threshold})
        super().__init__(mode, stage_rows)
        self._matched = self._delete = self._insert = self._insert_some = ""
        self._pending: bool | None = None  # a write is pending: True in our transaction
        self.table = ""

    # -- ensure ---------------------------------------------------------------------------

    def ensure(self, contract: Contract) -> Evolution:
        """Create the table, or apply additive changes; ``SchemaChangeError`` otherwise.

        Pending writes are committed first (``flush``).
        """
        self.flush()
        schema, table = duckdb_table_name(contract)
        self.table = f"{quote(schema)}.{quote(table)}"
        port = f"{contract.address} (DuckDB table {schema}.{table})"
        wanted = [Column(n, t, not nn) for n, t, nn in duckdb_columns(contract)]
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        existing = self._columns(schema, table)
        evolution = Evolution()
        if not existing:
            plain = uncompressed_columns(contract)
            cols = [
                column_sql(c.name, c.type, not c.nullable, uncompressed=c.name in plain)
                for c in wanted
            ]
            cols.append(f"{quote(POSITION_COLUMN)} BIGINT NOT NULL")
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(cols)})")
            self._comment(contract)
        else:
            existing.pop(POSITION_COLUMN, None)
            evolution = plan(port, existing, self._normalised(wanted), contract)
            self.con.execute("BEGIN")
            try:
                plain = uncompressed_columns(contract)
                for c in evolution.add:
                    column = column_sql(c.name, c.type, False, uncompressed=c.name in plain)
                    self.con.execute(f"ALTER TABLE {self.table} ADD COLUMN {column}")
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
        self._staged = StagedChanges(contract.primary_key, self.stage_rows)
        self._apply_sql([c.name for c in wanted], list(contract.primary_key))
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
        self.con.execute(f"CREATE TEMP TABLE {quote(name)} ({cols})")
        try:
            spelled = self._columns("main", name) or {
                r[0]: Column(r[0], r[1], True)
                for r in self.con.execute(f"DESCRIBE {quote(name)}").fetchall()
            }
        finally:
            self.con.execute(f"DROP TABLE {quote(name)}")
        return [Column(c.name, spelled[c.name].type, c.nullable) for c in wanted]

    def _comment(self, contract: Contract) -> None:
        if contract.description:
            self.con.execute(f"COMMENT ON TABLE {self.table} IS {_literal(contract.description)}")
        for f in contract.fields:
            if f.description and (f.transform is None or f.transform.kind != "drop"):
                self.con.execute(
                    f"COMMENT ON COLUMN {self.table}.{quote(f.name)} IS {_literal(f.description)}"
                )

    def _apply_sql(self, columns: list[str], key: list[str]) -> None:
        """The statements that apply the staged changes (see the module docstring): the
        SELECT that matches them with the table (the one join per apply), the DELETE of
        replaced rows by row id, and the INSERT of the upserts (all, or all but the stale
        rows); the last two read the matches from Arrow (``MATCHED``), not from Python
        lists."""
        match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
        pos = quote(POSITION_COLUMN)
        names = ", ".join(quote(c) for c in [*columns, POSITION_COLUMN])
        row, gone, stage, matched = quote(ROW), quote(DELETE_COLUMN), quote(STAGE), quote(MATCHED)
        self._matched = (
            f"SELECT s.{row} AS row, t.rowid AS id, s.{pos} > t.{pos} AS newer, "
            f"s.{gone} AS gone FROM {stage} AS s JOIN {self.table} AS t ON {match}"
        )
        self._delete = (
            f"DELETE FROM {self.table} WHERE rowid IN (SELECT id FROM {matched} WHERE newer)"
        )
        self._insert = (
            f"INSERT INTO {self.table} ({names}) SELECT {names} FROM {stage} WHERE NOT {gone}"
        )
        self._insert_some = (
            f"{self._insert} AND {row} NOT IN (SELECT row FROM {matched} WHERE NOT newer)"
        )

    # -- write ----------------------------------------------------------------------------

    def _apply(self, table: pa.Table) -> int:
        """Apply the staged changes in the open transaction (begun here if need be)."""
        assert self._intake is not None
        try:
            if self._pending is None:
                self._pending = self._begin()
            return self._run(table)
        except BaseException as exc:
            self._rollback()  # never leave half an apply in the transaction
            if not isinstance(exc, duckdb.Error):
                raise
            raise PortError(
                f"{self._intake.port}: every write since the last flush was rolled back "
                f"(replay them from the last committed position): {describe_error(exc)}"
            ) from None  # the driver's text may hold a row's values

    def _run(self, table: pa.Table) -> int:
        """Delete the rows newer changes replace or delete, insert the upserts to apply;
        returns the number of changes applied (``table``: one change per key)."""
        con = self.con
        con.register(STAGE, table)
        try:
            matched = con.sql(self._matched).to_arrow_table()
            newer = matched.column("newer")
            if self.mode == "append":  # an existing key is never replaced
                newer = pc.and_(newer, False)
                matched = matched.set_column(2, "newer", newer)
            con.register(MATCHED, matched)
            replaced = int(pc.sum(newer).as_py() or 0)
            if replaced:
                con.execute(self._delete)
            if matched.num_rows - replaced:  # some changes are older than the table's rows
                inserted = con.execute(self._insert_some).fetchall()[0][0]
            else:
                inserted = con.execute(self._insert).fetchall()[0][0]
            deleted = int(pc.sum(pc.and_(newer, matched.column("gone"))).as_py() or 0)
        except BaseException:
            # the transaction may be aborted: the rollback drops the registrations, and an
            # unregister error must not hide the real one
            with contextlib.suppress(duckdb.Error):
                con.unregister(MATCHED)
            with contextlib.suppress(duckdb.Error):
                con.unregister(STAGE)
            raise
        con.unregister(MATCHED)
        con.unregister(STAGE)
        return int(inserted) + deleted

    def _begin(self) -> bool:
        """Begin a transaction; False when the caller's connection is in one already."""
        try:
            self.con.execute("BEGIN TRANSACTION")
        except duckdb.TransactionException:
            return False
        return True

    def _rollback(self) -> None:
        own, self._pending = self._pending, None
        if own:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")

    def flush(self) -> None:
        """Apply what is staged and commit every write since the last flush (one durable
        commit for all of them).

        On a connection that was already in a transaction when the writer began, the
        caller's own ``COMMIT`` is what makes the writes durable; ``flush`` leaves it open.
        """
        self._apply_staged()
        own, self._pending = self._pending, None
        if not own:
            return
        try:
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            port = self._intake.port if self._intake is not None else self.table
            raise PortError(
                f"{port}: the commit failed, so every write since the last flush was rolled "
                f"back (replay them from the last committed position): {describe_error(exc)}"
            ) from None  # the driver's text may hold a row's values

    def close(self) -> None:
        """Flush, then close the connection when the writer opened it."""
        try:
            self.flush()
        finally:
            if self._owned:
                self.con.close()
