"""Stateful aggregation for serving views: top-N per key with retractions.

``TopN`` keeps, per group (e.g. a user), the current score of each member (e.g. an item)
from a stream of product changes, and emits the group's top-N list whenever a batch of
changes touched it. An update replaces a member's score (the old value is retracted), a
delete removes it, and a group left empty emits a delete, so the serving view always
equals the top-N of the source's current rows.

The logic is a pure function over (state, batch of changes) → (state, outputs), so it
is the same under any engine; ``meshkit.streaming.operators.top_n`` wires it into a
Bytewax flow (keyed state, snapshotted for recovery).

Effectively-once: each member remembers the source position of its last change, and a
change at or below it (a replay after a crash, or a duplicate from CDC) is ignored. An
output's position is the group's **version**, the number of changes that were applied
to it, which only grows; so a view writer, idempotent by key and position, ignores
replayed outputs and keeps the newest. The members of a group must be keyed by fields
that include the group fields (e.g. ``(user_id, item_id)`` grouped by ``user_id``), and
each member's changes must come in order (one Kafka partition per key, as Debezium and
product topics are keyed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from meshkit.streaming.records import ProductChange

Build = Callable[[tuple[Any, ...], list[dict[str, Any]]], dict[str, Any]]


@dataclass
class TopNState:
    """One group's members: member key → (position, score, record); deletes as tombstones."""

    members: dict[tuple[Any, ...], tuple[int, Any, dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[tuple[Any, ...], int] = field(default_factory=dict)
    version: int = 0

    def copy(self) -> TopNState:
        return TopNState(dict(self.members), dict(self.deleted), self.version)


class TopN:
    """Top ``n`` members per group by ``score`` (highest first, ties by member key).

    ``key_fields``: the primary key of the changes (the member key); ``group_by``: the
    fields of it that name the group; ``build(group, top_records)`` makes the output
    record (default: the group fields plus ``items``, the ``item`` field of each top
    record, and ``scores``).

    Example::

        topn = TopN(key_fields=("user_id", "item_id"), group_by=("user_id",),
                    score="score", n=10, item="item_id")
        state, outputs = topn.apply(None, changes_of_one_user)
    """

    def __init__(
        self,
        *,
        key_fields: Sequence[str],
        group_by: Sequence[str],
        score: str,
        n: int,
        item: str | None = None,
        build: Build | None = None,
    ) -> None:
        missing = [g for g in group_by if g not in key_fields]
        if missing:
            raise ValueError(
                f"group_by fields {missing} must be part of the key {tuple(key_fields)} "
                "(a member never moves between groups)"
            )
        if n < 1:
            raise ValueError("n must be at least 1")
        self.key_fields = tuple(key_fields)
        self.group_index = [self.key_fields.index(g) for g in group_by]
        self.group_by = tuple(group_by)
        self.score = score
        self.n = n
        self.item = item
        self.build = build or self._default_build

    def group_of(self, change: ProductChange) -> tuple[Any, ...]:
        """The group a change belongs to (from its key)."""
        return tuple(change.key[i] for i in self.group_index)

    def route(self, change: ProductChange) -> str:
        """A string routing key for the group (for keyed engines)."""
        return "\x1f".join(str(v) for v in self.group_of(change))

    def apply(
        self, state: TopNState | None, changes: Sequence[ProductChange]
    ) -> tuple[TopNState | None, list[ProductChange]]:
        """Apply one group's changes; returns the new state and the outputs (none or one)."""
        st = state.copy() if state is not None else TopNState()
        before = self.top(st)
        applied = 0
        last = None
        for c in changes:
            seen = st.members.get(c.key)
            latest = max(seen[0] if seen else -1, st.deleted.get(c.key, -1))
            if c.position <= latest:
                continue  # a replay or a duplicate
            applied += 1
            last = c
            if c.op == "delete" or c.record is None:
                st.members.pop(c.key, None)
                st.deleted[c.key] = c.position
            else:
                st.deleted.pop(c.key, None)
                st.members[c.key] = (c.position, c.record.get(self.score), dict(c.record))
        if not applied or last is None:
            return state, []
        st.version += applied
        group = self.group_of(last)
        after = self.top(st)
        if after == before:
            return st, []
        if not st.members:
            out = ProductChange("delete", group, None, st.version, last.source, last.ts_ms)
            return st, [out]
        record = self.build(group, [rec for _, _, rec in after])
        out = ProductChange("upsert", group, record, st.version, last.source, last.ts_ms)
        return st, [out]

    def top(self, state: TopNState) -> list[tuple[Any, Any, dict[str, Any]]]:
        """The top-N (member key, score, record), highest score first."""
        ranked = sorted(
            ((k, s, r) for k, (_, s, r) in state.members.items() if s is not None),
            key=lambda t: (-t[1], t[0]),
        )
        return ranked[: self.n]

    def _default_build(self, group: tuple[Any, ...], top: list[dict[str, Any]]) -> dict[str, Any]:
        record = dict(zip(self.group_by, group, strict=True))
        record["items"] = [r.get(self.item) for r in top] if self.item else top
        record["scores"] = [r.get(self.score) for r in top]
        return record
