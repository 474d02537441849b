"""What a capture remembers between runs, and what ``cdc status`` reads while it runs.

One JSON file per slot (``<state_dir>/<slot>.json``), written atomically about once a
second: whether the initial snapshot completed, the last acknowledged LSN and when, the
event count and rate, the process id, and the last column list seen for each table (so
a schema change made while the capture was stopped is still reported).

The slot itself is the source of truth for *where to resume*; losing this file only
costs a new snapshot (duplicates, never losses).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from meshkit.cdc.pgoutput import Column


@dataclass
class CaptureState:
    """The persisted progress of one capture (one slot)."""

    path: Path
    slot: str
    snapshot_completed: bool = False
    acked_lsn: int = 0
    acked_at: float = 0.0
    events_total: int = 0
    events_per_s: float = 0.0
    pid: int = 0
    updated_at: float = 0.0
    relations: dict[str, list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, slot: str) -> CaptureState:
        """The saved state, or a fresh one."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(path, slot)
        if not isinstance(data, dict) or data.get("slot") != slot:
            return cls(path, slot)
        data.pop("path", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(path=path, **known)

    def reset(self) -> None:
        """A new slot: forget the progress of the old one."""
        self.snapshot_completed = False
        self.acked_lsn = 0
        self.acked_at = 0.0

    def save(self) -> None:
        """Write atomically."""
        self.updated_at = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data.pop("path")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)

    def delete(self) -> None:
        """Forget everything (``cdc reset``)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class SchemaChange:
    """Columns added, dropped or retyped in a source table, seen in a Relation message."""

    table: str
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return bool(self.added or self.dropped or self.retyped)

    def describe(self) -> str:
        """One line for people."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.dropped:
            parts.append("dropped " + ", ".join(self.dropped))
        if self.retyped:
            parts.append("retyped " + ", ".join(self.retyped))
        return "; ".join(parts) or "no change"


def diff_columns(table: str, known: list[list[Any]], columns: tuple[Column, ...]) -> SchemaChange:
    """Compare the remembered ``[name, type oid, modifier]`` list with a Relation's columns."""
    old = {str(c[0]): (int(c[1]), int(c[2])) for c in known}
    new = {c.name: (c.type_oid, c.type_modifier) for c in columns}
    return SchemaChange(
        table=table,
        added=tuple(n for n in new if n not in old),
        dropped=tuple(n for n in old if n not in new),
        retyped=tuple(n for n in new if n in old and old[n] != new[n]),
    )
