"""Serialised answers kept per catalog revision (search pages and lineage graphs).

The database keeps one number, ``catalog_revision.n``, that triggers move on every write
to what search and lineage read (migration 0008), whichever process or tool wrote.
A request reads that number first (one primary-key row), then either answers the bytes
kept under the same number or computes them and keeps them. Bytes computed after the
number was read are kept under that number: if a write commits in between, the number
has moved on and they are never answered. When the number moves on, everything kept is
dropped. Each process keeps its own answers, at most ``max_bytes`` of them (least
recently used dropped first); ``max_bytes=0`` keeps nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

_REVISION = text("SELECT n FROM catalog_revision WHERE id = 1")
_V = TypeVar("_V")


def revision(session: Session) -> int:
    """The catalog's revision as the session sees it now."""
    return int(session.execute(_REVISION).scalar_one())


class Kept(Generic[_V]):
    """Values by key, valid for one revision (a number that only grows); safe across
    threads. ``put`` is told each value's size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._revision = 0
        self._kept: OrderedDict[Hashable, tuple[_V, int]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def _move_to(self, revision: int) -> bool:
        """Drop everything when ``revision`` is newer; False when it is older (the
        caller read the number before a write this process has already seen)."""
        if revision > self._revision:
            self._kept.clear()
            self._size = 0
            self._revision = revision
        return revision == self._revision

    def get(self, key: Hashable, revision: int) -> _V | None:
        """The value kept for ``key`` at ``revision``, or None."""
        with self._lock:
            found = self._kept.get(key) if self._move_to(revision) else None
            if found is None:
                self.misses += 1
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, revision: int, value: _V, size: int) -> None:
        """Keep ``value`` (``size`` bytes) for ``key``, computed from what the database
        held at ``revision``."""
        if size > self.max_bytes:
            return
        with self._lock:
            if not self._move_to(revision):
                return
            old = self._kept.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._kept[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._size -= dropped


class Answers(Kept[bytes]):
    """Serialised answers by key, valid for one catalog revision."""

    def put_bytes(self, key: Hashable, revision: int, body: bytes) -> None:
        """Keep ``body`` for ``key``, computed from what the catalog held at ``revision``."""
        self.put(key, revision, body, len(body))
