"""What the warehouse writers (DuckDB, BigQuery) share: the write modes and the staged batch.

``checked_batch(intake, batch, mode)`` is the start of every warehouse ``write``: it refuses a
write before ``ensure``, refuses deletes into an append-only table, checks the whole
batch against the contract and returns it (compacted to the newest change per key unless the
writer compacts later) as the Arrow table to stage (``None`` for an empty batch: nothing to do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pyarrow as pa

from meshkit.ports.base import Change, NotEnsuredError, RecordRefusedError
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
