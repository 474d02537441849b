"""The Bytewax sink that writes a product's output ports through the SDK's port writers.

``PortSink(open_ports)`` takes a stream of ``(route, PortBatch)`` items. Each sink
partition opens its own ``PortSet`` (the writers of the product's output ports, already
``ensure``-d, and its dead-letter port) and, per batch:

1. writes the changes to every port writer (``meshkit.ports``: idempotent by key and
   source position); a change a writer refuses (``RecordRefusedError``) is taken out of
   the batch, dead-lettered with the writer's reason, and the rest is written;
2. writes the failures, masked, to the dead-letter port;
3. counts: received = written + skipped + dead letters.

When Bytewax snapshots (the end of each epoch, with recovery on), the partition first
**flushes** every writer and the dead-letter port: Bytewax commits the input offsets of
an epoch only after every sink partition's snapshot returned, so a position is committed
only after the ports confirmed everything before it. A crash replays at most the epochs
since the last snapshot, and the idempotent writers make the replay a no-op:
effectively-once results in every port.

The counts are part of the snapshot (so they too are effectively-once) and are written,
with per-port latency percentiles, to ``<stats_dir>/<partition>.json`` at each snapshot
and at the end; ``read_stats(stats_dir)`` sums the partitions.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from meshkit.ports import Change, PortWriter, RecordRefusedError
from meshkit.streaming.deadletter import DeadLetter, DeadLetters
from meshkit.streaming.pipeline import PortBatch, gc_paused
from meshkit.streaming.records import ProductChange

log = logging.getLogger(__name__)
COUNTS = ("received", "written", "skipped", "dead_letters")
_LATENCY_SAMPLES = 50_000


class DeadLetterPort(Protocol):
    """Where dead letters go (``KafkaDeadLetterPort``); ``flush`` confirms them."""

    def write(self, letters: Sequence[DeadLetter]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class PortSet:
    """The writers of one product's output ports (by port name) and its dead-letter port."""

    writers: Mapping[str, PortWriter]
    dead_letter_port: DeadLetterPort
    dead_letters: DeadLetters

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()
        self.dead_letter_port.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.dead_letter_port.close()


@dataclass
class _State:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    latency: dict[str, deque[int]] = field(default_factory=dict)


class _PortPartition(StatefulSinkPartition[PortBatch, dict[str, int]]):
    def __init__(
        self, name: str, ports: PortSet, counts: dict[str, int] | None, stats_dir: Path | None
    ) -> None:
        self.name = name
        self.ports = ports
        self.state = _State()
        if counts:
            self.state.counts.update(counts)
        self.stats_dir = stats_dir

    def write_batch(self, values: list[PortBatch]) -> None:
        with gc_paused():
            self._write_batch(values)

    def _write_batch(self, values: list[PortBatch]) -> None:
        changes: list[ProductChange] = []
        letters: list[DeadLetter] = []
        counts = self.state.counts
        of = self.ports.dead_letters.of
        for b in values:
            changes += b.changes
            letters += [of(f) for f in b.failures]
            counts["received"] += b.received
            counts["skipped"] += b.skipped
        refused: set[int] = set()
        for port, writer in self.ports.writers.items():
            letters += self._write(port, writer, changes, refused)
        counts["written"] += len(changes) - len(refused)
        if letters:
            self.ports.dead_letter_port.write(letters)
        counts["dead_letters"] += len(letters)

    def _write(
        self, port: str, writer: PortWriter, changes: list[ProductChange], refused: set[int]
    ) -> list[DeadLetter]:
        """Write ``changes`` to one port; refused changes become dead letters (once each).

        A ``ProductChange`` is a port ``Change``: the writers take the batch as it is.
        """
        letters: list[DeadLetter] = []
        todo = [i for i in range(len(changes)) if i not in refused] if refused else None
        while True:
            batch = changes if todo is None else [changes[i] for i in todo]
            if not batch:
                break
            try:
                report = writer.write(batch)
            except RecordRefusedError as exc:
                if exc.change is None:
                    raise
                if todo is None:
                    todo = list(range(len(changes)))
                bad = next(i for i, c in zip(todo, batch, strict=True) if c is exc.change)
                todo.remove(bad)
                if bad not in refused:
                    refused.add(bad)
                    letters.append(self._refused(port, changes[bad], str(exc)))
                continue
            for d in report.dead_letters:
                letters.append(self.ports.dead_letters.of_port(port, d, None))
            break
        self._latency(port, batch)
        return letters

    def _refused(self, port: str, change: ProductChange, reason: str) -> DeadLetter:
        from meshkit.ports import DeadLetter as PortDeadLetter

        letter = PortDeadLetter(_port_change(change), reason)
        source = None if change.source is None else str(change.source)
        return self.ports.dead_letters.of_port(port, letter, source)

    def _latency(self, port: str, changes: list[ProductChange]) -> None:
        if not changes:
            return
        now = int(time.time() * 1000)
        samples = self.state.latency.setdefault(port, deque(maxlen=_LATENCY_SAMPLES))
        samples.extend(now - c.ts_ms for c in changes if c.ts_ms is not None)

    def snapshot(self) -> dict[str, int]:
        self.ports.flush()
        self._write_stats()
        return dict(self.state.counts)

    def close(self) -> None:
        self.ports.close()
        self._write_stats()
        log.info("%s: %s", self.name, self.state.counts)

    def _write_stats(self) -> None:
        if self.stats_dir is None:
            return
        stats: dict[str, Any] = {"counts": self.state.counts, "latency_ms": {}}
        for port, samples in self.state.latency.items():
            if samples:
                ordered = sorted(samples)
                stats["latency_ms"][port] = {
                    "p50": ordered[len(ordered) // 2],
                    "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                    "samples": len(ordered),
                }
        self.stats_dir.mkdir(parents=True, exist_ok=True)
        path = self.stats_dir / f"{self.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(stats))
        tmp.replace(path)


def _port_change(c: ProductChange) -> Change:
    return Change(c.op, c.key, c.record, c.position)


class PortSink(FixedPartitionedSink[PortBatch, dict[str, int]]):
    """Writes ``(route, PortBatch)`` items to a product's ports (see the module docstring).

    ``open_ports`` builds one partition's ``PortSet`` (called once per partition, in the
    worker that owns it). ``partitions`` sink partitions share the routes by hash.
    """

    def __init__(
        self,
        open_ports: Callable[[], PortSet],
        *,
        partitions: int = 1,
        stats_dir: Path | None = None,
    ) -> None:
        self.open_ports = open_ports
        self.partitions = partitions
        self.stats_dir = stats_dir

    def list_parts(self) -> list[str]:
        return [f"ports-{i}" for i in range(self.partitions)]

    def build_part(
        self,
        step_id: str,  # noqa: ARG002 - Bytewax's signature
        for_part: str,
        resume_state: dict[str, int] | None,
    ) -> _PortPartition:
        return _PortPartition(for_part, self.open_ports(), resume_state, self.stats_dir)


def read_stats(stats_dir: Path) -> dict[str, Any]:
    """The run's counts summed over sink partitions, and each partition's latency."""
    total = dict.fromkeys(COUNTS, 0)
    latency: dict[str, Any] = {}
    for path in sorted(stats_dir.glob("*.json")):
        stats = orjson.loads(path.read_bytes())
        for k in COUNTS:
            total[k] += int(stats["counts"].get(k, 0))
        for port, values in stats.get("latency_ms", {}).items():
            latency.setdefault(port, {})[path.stem] = values
    return {"counts": total, "latency_ms": latency}
