"""What the warehouse writers (DuckDB, BigQuery) share: the write modes, the checked batch
and the staged changes.

``checked_batch(intake, batch, mode)`` is the start of every warehouse ``write``: it refuses a
write before ``ensure``, refuses deletes into an append-only table, checks the whole
batch against the contract and returns it (compacted to the newest change per key unless the
writer compacts later) as the Arrow table to stage (``None`` for an empty batch: nothing to do).

``StagedChanges`` holds the checked batches until the writer applies them as one, and
hands them over compacted to the newest change per key (``newest_per_key``);
``StagingWriter`` is the ``write`` both writers share on top of it: check, stage, apply
at the limit (and at ``flush``), count what was applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.ports.base import (
    POSITION_COLUMN,
    Change,
    NotEnsuredError,
    RecordRefusedError,
    WriteReport,
)
from meshkit.ports.intake import Intake

Mode = Literal["upsert", "append"]
"""``upsert``: upsert and delete by key; ``append`` (event tables): insert each key once."""


def checked_batch(
    intake: Intake | None, batch: Sequence[Change], mode: Mode, *, compact: bool = True
) -> pa.Table | None:
    """The checked batch to apply (with ``compact``, only the newest change per key), or
    None when ``batch`` is empty.

    Raises ``NotEnsuredError`` before ``ensure`` and ``RecordRefusedError`` (nothing of
    the batch written) for a bad change or a delete into an append-only table.
    """
    if intake is None:
        raise NotEnsuredError("call ensure(contract) before write()")
    if not batch:
        return None
    if mode == "append":
        bad = next((c for c in batch if c.op == "delete"), None)
        if bad is not None:
            raise RecordRefusedError(
                intake.port, bad, None, "an append-only table takes no deletes"
            )
    return intake.table(batch, compact=compact)


ORDER_COLUMN = "_meshkit_row"
"""The staged changes' order (1, 2, ...), the tie-break between changes of one key that
carry the same position: the later one wins."""


class StagedChanges:
    """Checked micro-batches a warehouse writer applies as one (at ``flush``, or once
    ``limit`` rows wait: the bound on the memory they hold).

    Example::

        staged = StagedChanges(intake.key_fields, limit=250_000)
        if staged.add(checked_batch(intake, batch, mode, compact=False)):
            apply(staged.take())
    """

    def __init__(self, key_fields: Sequence[str], limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the stage limit must be at least 1 row, not {limit}")
        self.key_fields = list(key_fields)
        self.limit = limit
        self._tables: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> bool:
        """Stage ``table``; True once the staged rows reach the limit."""
        self._tables.append(table)
        self.rows += table.num_rows
        return self.rows >= self.limit

    def clear(self) -> None:
        self._tables, self.rows = [], 0

    def take(self) -> pa.Table | None:
        """Everything staged, as one table of the newest change per key (in staging order,
        with ``ORDER_COLUMN``), and the stage emptied; None when nothing is staged."""
        tables = self._tables
        self.clear()
        if not tables:
            return None
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        order = pc.cumulative_sum(pa.nulls(table.num_rows, pa.int64()).fill_null(1))
        return newest_per_key(table.append_column(ORDER_COLUMN, order), self.key_fields)


def newest_per_key(table: pa.Table, key_fields: Sequence[str]) -> pa.Table:
    """The rows of ``table`` holding the newest change of their key: the highest position,
    the later row (``ORDER_COLUMN``) on a tie; in the table's order. Null keys are equal.

    One sort of the key, position and order columns, then a row is the first of its key
    where its key differs from the row before it.
    """
    if table.num_rows < 2:
        return table
    sort = [(k, "ascending") for k in key_fields]
    sort += [(POSITION_COLUMN, "descending"), (ORDER_COLUMN, "descending")]
    index = pc.sort_indices(table.select([*key_fields, POSITION_COLUMN, ORDER_COLUMN]), sort)
    first: pa.Array | None = None
    for name in key_fields:
        column = table.column(name).take(index).combine_chunks()
        after, before = column.slice(1), column.slice(0, len(column) - 1)
        differs = pc.not_equal(after, before)
        if differs.null_count:  # a null on either side: different unless both are null
            differs = pc.if_else(
                pc.is_null(differs), pc.xor(pc.is_null(after), pc.is_null(before)), differs
            )
        first = differs if first is None else pc.or_(first, differs)
    assert first is not None
    keep = pc.filter(index, pa.concat_arrays([pa.array([True]), first]))
    if len(keep) == table.num_rows:
        return table
    return table.take(pc.take(keep, pc.array_sort_indices(keep)))  # back in table order


class StagingWriter:
    """The staging half of a warehouse writer: ``write`` checks the whole batch and stages
    it; the staged changes are applied (``_apply``, the backend's part) when they reach
    ``stage_rows`` and at ``flush``; ``applied`` counts what the applies wrote and
    skipped. A subclass sets ``_intake`` and ``_staged`` in ``ensure``."""

    def __init__(self, mode: Mode, stage_rows: int) -> None:
        self.mode = mode
        self.stage_rows = stage_rows
        self.applied = WriteReport()
        """Changes the applies wrote, and skipped as superseded or already applied."""
        self._intake: Intake | None = None
        self._staged: StagedChanges | None = None

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the whole batch and stage it; apply the staged changes when they reach
        ``stage_rows``."""
        table = checked_batch(self._intake, batch, self.mode, compact=False)
        if table is None:
            return WriteReport()
        assert self._staged is not None
        if self._staged.add(table):
            self._apply_staged()
        return WriteReport(staged=len(batch))

    def _apply_staged(self) -> None:
        """Apply everything staged (the newest change per key), if anything is."""
        if self._staged is None or not self._staged.rows:
            return
        staged = self._staged.rows
        table = self._staged.take()
        assert table is not None
        written = self._apply(table)
        self.applied.written += written
        self.applied.skipped += max(staged - written, 0)

    def _apply(self, table: pa.Table) -> int:
        """Apply ``table`` (one change per key, with ``ORDER_COLUMN``); the changes written."""
        raise NotImplementedError
