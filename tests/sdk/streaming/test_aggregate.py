"""Top-N per key with retractions, as a pure function of (state, batch)."""

from __future__ import annotations

import random

import pytest

from meshkit.streaming import ProductChange, TopN, TopNState

TOPN = TopN(key_fields=("user_id", "item_id"), group_by=("user_id",), score="score", n=3,
            item="item_id")  # fmt: skip


def change(item: str, score: float | None, pos: int, user: str = "u") -> ProductChange:
    if score is None:
        return ProductChange("delete", (user, item), None, pos)
    return ProductChange("upsert", (user, item), {"user_id": user, "item_id": item,
                                                   "score": score}, pos)  # fmt: skip


def test_updates_retract_the_old_score_and_deletes_remove() -> None:
    state, out = TOPN.apply(None, [change("a", 1, 1), change("b", 2, 2), change("c", 3, 3),
                                   change("d", 4, 4)])  # fmt: skip
    assert out[-1].record == {"user_id": "u", "items": ["d", "c", "b"], "scores": [4, 3, 2]}
    state, out = TOPN.apply(state, [change("d", 0.5, 5)])  # d drops out of the top 3
    assert out[-1].record is not None
    assert out[-1].record["items"] == ["c", "b", "a"]
    state, out = TOPN.apply(state, [change("c", None, 6)])  # c deleted: d comes back
    assert out[-1].record is not None
    assert out[-1].record["items"] == ["b", "a", "d"]


def test_an_empty_group_is_deleted_and_versions_grow() -> None:
    state, first = TOPN.apply(None, [change("a", 1, 10)])
    state, second = TOPN.apply(state, [change("a", None, 11)])
    assert second[0].op == "delete"
    assert second[0].key == ("u",)
    assert second[0].position > first[0].position


def test_replays_and_duplicates_change_nothing() -> None:
    changes = [change("a", 1, 1), change("b", 2, 2), change("a", 5, 3)]
    state, _ = TOPN.apply(None, changes)
    again, replay = TOPN.apply(state, changes)  # replayed after a crash
    assert replay == []
    assert again is not None
    assert state is not None
    assert again.members == state.members


def test_result_is_independent_of_how_changes_are_batched() -> None:
    rng = random.Random(7)
    changes = []
    for pos in range(1, 400):
        item = f"i{rng.randrange(12)}"
        changes.append(change(item, None if rng.random() < 0.2 else rng.randrange(100), pos))
    _, one = TOPN.apply(None, changes)
    state: TopNState | None = None
    last = None
    i = 0
    while i < len(changes):
        n = rng.randrange(1, 30)
        state, out = TOPN.apply(state, changes[i : i + n])
        last = out[-1] if out else last
        i += n
    assert last is not None
    assert last.record == one[-1].record
    assert last.position == one[-1].position


def test_group_fields_must_be_in_the_key() -> None:
    with pytest.raises(ValueError, match="must be part of the key"):
        TopN(key_fields=("rating_id",), group_by=("user_id",), score="score", n=3)
