"""The warehouse writers' stage: checked batches held until one apply, newest change per key."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from meshkit.ports.base import POSITION_COLUMN
from meshkit.ports.warehouse import ORDER_COLUMN, StagedChanges, newest_per_key


def batch(rows: list[tuple[str | None, int, int, str]]) -> pa.Table:
    """(key part a, key part b, position, value) rows as a checked batch would hold them."""
    return pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.string()),
            "b": pa.array([r[1] for r in rows], pa.int64()),
            POSITION_COLUMN: pa.array([r[2] for r in rows], pa.int64()),
            "value": pa.array([r[3] for r in rows], pa.string()),
        }
    )


def reference(rows: list[tuple[str | None, int, int, str]]) -> list[str]:
    """The newest change per key by a plain loop: highest position, later row on a tie."""
    newest: dict[tuple[str | None, int], tuple[int, int]] = {}
    for i, (a, b, pos, _) in enumerate(rows):
        seen = newest.get((a, b))
        if seen is None or (pos, i) >= seen:
            newest[(a, b)] = (pos, i)
    return [rows[i][3] for i in sorted(i for _, i in newest.values())]


def test_newest_per_key_keeps_the_highest_position_then_the_later_row_in_table_order() -> None:
    rows = [
        ("x", 1, 5, "x1@5"),
        ("y", 1, 3, "y1@3"),
        ("x", 1, 9, "x1@9"),
        ("x", 2, 1, "x2@1"),  # another key: the second key part differs
        ("x", 1, 7, "x1@7"),  # older than 9: dropped
        ("y", 1, 3, "y1@3-again"),  # a tie: the later row wins
        (None, 1, 1, "null@1"),
        (None, 1, 2, "null@2"),  # null key parts are equal to each other
    ]
    table = batch(rows)
    order = pa.array(range(1, len(rows) + 1), pa.int64())
    got = newest_per_key(table.append_column(ORDER_COLUMN, order), ["a", "b"])
    assert got.column("value").to_pylist() == ["x1@9", "x2@1", "y1@3-again", "null@2"]
    assert got.column("value").to_pylist() == reference(rows)


@pytest.mark.parametrize("seed", range(5))
def test_staged_batches_compact_like_a_plain_loop(seed: int) -> None:
    rng = random.Random(seed)
    rows = [(rng.choice("abc"), rng.randrange(4), rng.randrange(30), f"v{i}") for i in range(600)]
    staged = StagedChanges(["a", "b"], limit=500)
    full = [staged.add(batch(rows[i : i + 100])) for i in range(0, 600, 100)]
    assert full == [False, False, False, False, True, True]  # 500 rows reach the limit
    assert staged.rows == 600
    table = staged.take()
    assert table is not None
    assert table.column("value").to_pylist() == reference(rows)
    assert (staged.rows, staged.take()) == (0, None)  # taken: the stage is empty again


def test_a_stage_limit_below_one_row_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 row"):
        StagedChanges(["a"], limit=0)
