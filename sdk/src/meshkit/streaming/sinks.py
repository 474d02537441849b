"""The Bytewax sink that writes a product's output ports through the SDK's port writers.

``PortSink(open_ports)`` takes a stream of ``(route, PortBatch)`` items. Each sink
partition opens its own ``PortSet`` (the writers of the product's output ports, already
``ensure``-d, and its dead-letter port) and, per batch:

1. hands the changes to every port writer (``meshkit.ports``: idempotent by key and
   source position; a ``CheckedBatch`` when a ``Pipeline`` checked them all against one
   contract, which a writer of that contract need not check again); the Kafka topic
   writer, which only queues for librdkafka, writes first, in the dataflow's thread, so a
   batch reaches the topic before anything waits for a slower port; ports that wait for
   a server (warehouse, search index, serving view) then get it in a thread of their
   own, so that wait does not hold up the dataflow or the other ports, each in batch
   order and at most ``PortThread.MAX_WAITING`` changes behind (back-pressure: a port
   slower than the input for longer holds the next batch back); a change a writer refuses
   (``RecordRefusedError``) is taken out of that port's batch, dead-lettered with the
   writer's reason, and the rest is written;
2. writes the failures, masked, to the dead-letter port;
3. counts: received = written + skipped + dead letters.

A change a port refused for good is one dead letter, however many ports refused it
(the first port's reason), with the change's source position (``source``, so its
Kafka key ``<source>|port:<port>`` is its own), and is not counted as written: the
changes a writer refuses at ``write`` (``RecordRefusedError``), those its report lists
as dead letters (a search index's mapping refused them), and those a Kafka topic writer
learns about only from the broker's delivery reports (a message too large for the
topic): the sink gives such a writer its own ``dead_letter`` callback when it has none,
and dead-letters what it receives there at the next snapshot, after the writers'
flushes and before the dead-letter port's. A search writer without a callback, which
would raise its dead letters, gets one that leaves them in its write report. Anything
else a port raises (an outage) stops the dataflow before its position is committed: the
writer's own error as it is (it names its target, never a value), any other error (a
driver's or client's) as a ``PortError`` naming the port, described without its text.
A port thread (``meshkit.streaming.portthreads``) that ends unexpectedly fails the next
call the same way instead of leaving the snapshot waiting for it; what it had not
written is neither counted nor committed.

When Bytewax snapshots (the end of each epoch, with recovery on), the partition first
waits for every port thread to finish its batches, then **flushes** every writer and
the dead-letter port: Bytewax commits the input offsets of an epoch only after every
sink partition's snapshot returned, so a position is committed only after the ports
confirmed everything before it. A crash replays at most the epochs
since the last snapshot, and the idempotent writers make the replay a no-op:
effectively-once results in every port.

The counts are part of the snapshot (so they too are effectively-once) and are written,
with per-port latency percentiles, to ``<stats_dir>/<partition>.json`` at each snapshot
and at the end; ``read_stats(stats_dir)`` sums the partitions. Two latencies per port,
from each change's source commit time: ``latency_ms`` when the port's ``write`` returned,
and ``committed_ms`` when a ``flush`` confirmed it. The second is when a reader sees the
change (a DuckDB writer stages at ``write`` and applies and commits at ``flush``; the
serving view applies a batch in the background, done at the latest at ``flush``; the
search writer refreshes there). Ports flush at each snapshot, so that includes the wait
for it: up to one epoch interval (``-s`` of ``bytewax.run``; Bytewax's default is 10 s).
A writer whose ``flush_when_idle`` is true (the DuckDB warehouse and the serving view:
their flush costs milliseconds) is also flushed by its port thread whenever its queue
runs empty, so a light load is visible within one write; under load the thread writes
several batches before a flush applies and commits them at once. Flushing early is
safe: a replay of what it committed changes nothing.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import orjson
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from meshkit.errors import MeshkitError
from meshkit.observability import observe_flow_process
from meshkit.observability.flow import FlowMetrics
from meshkit.ports import (
    Change,
    KafkaTopicWriter,
    PortError,
    PortWriter,
    RecordRefusedError,
    SearchIndexWriter,
)
from meshkit.ports import DeadLetter as PortDeadLetter
from meshkit.ports.base import describe_error
from meshkit.ports.intake import CheckedBatch
from meshkit.streaming.deadletter import DeadLetter, DeadLetters
from meshkit.streaming.pipeline import PortBatch, gc_paused
from meshkit.streaming.portthreads import Job, PortThread
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
    latency: dict[str, deque[int]] = field(default_factory=dict)  # at write
    committed: dict[str, deque[int]] = field(default_factory=dict)  # at flush


class _PortPartition(StatefulSinkPartition[PortBatch, dict[str, int]]):
    def __init__(
        self,
        name: str,
        ports: PortSet,
        counts: dict[str, int] | None,
        stats_dir: Path | None,
        threads: bool = True,
    ) -> None:
        self.name = name
        self.ports = ports
        contract = ports.dead_letters.contract
        personal = [f.name for f in contract.fields if f.pii is not None]
        inputs = [p.name_in(contract) for p in contract.ports.inputs]  # the topics it reads
        self.metrics = FlowMetrics(
            ports.dead_letters.product, name, personal_fields=personal, inputs=inputs
        )
        self.state = _State()
        if counts:
            self.state.counts.update(counts)
        self.stats_dir = stats_dir
        self._unflushed: dict[str, list[int]] = {}  # source times written since the flush
        for port in ports.writers:
            self.state.latency[port] = deque(maxlen=_LATENCY_SAMPLES)
            self.state.committed[port] = deque(maxlen=_LATENCY_SAMPLES)
            self._unflushed[port] = []
        self._finished: deque[Job] = deque()
        # Kafka writers only queue for librdkafka's own threads: a Python thread would add
        # nothing but GIL hand-overs, and slows the flow down.
        threaded = {
            p for p, w in ports.writers.items() if threads and not isinstance(w, KafkaTopicWriter)
        }
        self._inline = [(p, w) for p, w in ports.writers.items() if p not in threaded]
        self._threads = [
            PortThread(
                name, p, w, self._write, self._done, self._flush, self._committed, self._port_failed
            )
            for p, w in ports.writers.items()
            if p in threaded
        ]
        # dead letters a writer finds after its write returned (Kafka delivery reports)
        self._late: list[tuple[str, PortDeadLetter]] = []
        # changes dead-lettered since the last snapshot (by identity): one letter each
        self._refused_changes: dict[int, Change] = {}
        for port, writer in ports.writers.items():
            if isinstance(writer, KafkaTopicWriter) and writer.dead_letter is None:
                writer.dead_letter = partial(self._late_letters, port)
            elif isinstance(writer, SearchIndexWriter) and writer.dead_letter is None:
                writer.dead_letter = _in_report  # instead of raising them
        self.metrics.sync(self.state.counts)
        self.metrics.ready()

    def write_batch(self, values: list[PortBatch]) -> None:
        with gc_paused():
            self._write_batch(values)

    def _write_batch(self, values: list[PortBatch]) -> None:
        self._check()
        changes: list[ProductChange] = []
        letters: list[DeadLetter] = []
        counts = self.state.counts
        of = self.ports.dead_letters.of
        for b in values:
            changes += b.changes
            letters += [of(f) for f in b.failures]
            counts["received"] += b.received
            counts["skipped"] += b.skipped
        batch: Sequence[ProductChange] = changes
        checked = {id(b.checked): b.checked for b in values if b.changes}
        if len(checked) == 1 and (contract := next(iter(checked.values()))) is not None:
            batch = CheckedBatch(changes, contract)  # type: ignore[assignment]
        if changes and self.ports.writers:
            job = Job(batch, len(self.ports.writers))
            for port, writer in self._inline:  # first: nothing holds up the Kafka topic
                self._write(port, writer, [job])
                self._done(job)
            for t in self._threads:
                t.put(job)  # blocks while the port has MAX_WAITING changes waiting
        else:
            counts["written"] += len(changes)
        self._letters(letters + self._collect())
        self.metrics.sync(counts)

    def _letters(self, letters: list[DeadLetter]) -> None:
        if letters:
            self.ports.dead_letter_port.write(letters)
            self.metrics.dead_letters(letters)
        self.state.counts["dead_letters"] += len(letters)

    def _done(self, job: Job) -> None:
        """A port thread finished ``job`` (the last one hands it to ``_collect``)."""
        with job.lock:
            job.ports_left -= 1
            if job.ports_left:
                return
        self._finished.append(job)

    def _collect(self) -> list[DeadLetter]:
        """Count the jobs every port finished; their dead letters."""
        letters: list[DeadLetter] = []
        while self._finished:
            job = self._finished.popleft()
            self.state.counts["written"] += len(job.changes) - len(job.refused)
            for index in job.refused:
                change = job.changes[index]
                self._refused_changes[id(change)] = change
            letters += job.refused.values()
        return letters

    def _late_letters(self, port: str, letters: list[PortDeadLetter]) -> None:
        """A writer's ``dead_letter`` callback: kept for ``_settle``."""
        self._late += [(port, d) for d in letters]

    def _settle(self) -> None:
        """Dead-letter what writers refused after their ``write`` returned (every job is
        counted by now: ``_drain`` ran): a change not dead-lettered yet is one letter, and
        is no longer counted as written."""
        late, self._late = self._late, []
        letters: list[DeadLetter] = []
        for port, d in late:
            if id(d.change) in self._refused_changes:
                continue  # another port refused it first
            self._refused_changes[id(d.change)] = d.change
            letters.append(self._refused(port, d.change, d.reason))
        self.state.counts["written"] -= len(letters)
        self._letters(letters)

    def _check(self) -> None:
        """Raise the first error of a port thread (``PortError`` naming the port)."""
        for t in self._threads:
            t.check()

    def _drain(self) -> None:
        """Wait until every port wrote every job; count them and write their letters."""
        for t in self._threads:
            t.wait()
        self._check()
        self._letters(self._collect())

    def _write(self, port: str, writer: PortWriter, jobs: list[Job]) -> None:
        """Write the changes of ``jobs``, in order, to one port in one batch.

        A ``ProductChange`` is a port ``Change``: the writers take the batch as it is. A
        change the writer refuses is taken out and written again without it; it becomes
        a dead letter (once, whichever port refused it first); the other ports keep it.
        """
        changes = jobs[0].changes if len(jobs) == 1 else [c for j in jobs for c in j.changes]
        todo: list[int] | None = None
        batch: Sequence[ProductChange] = changes
        started = time.perf_counter()
        while batch:
            try:
                report = writer.write(batch)
            except RecordRefusedError as exc:
                if exc.change is None:
                    raise
                if todo is None:
                    todo = list(range(len(changes)))
                bad = next(i for i, c in zip(todo, batch, strict=True) if c is exc.change)
                todo.remove(bad)
                letter = self._refused(port, changes[bad], str(exc), exc.field)
                job, index = _owner(jobs, bad)
                with job.lock:
                    job.refused.setdefault(index, letter)
                batch = [changes[i] for i in todo]
                continue
            if report.dead_letters:
                self._reported(port, jobs, changes, report.dead_letters)
            break
        self.metrics.wrote(port, len(batch), time.perf_counter() - started)
        self._latency(port, batch)

    def _reported(
        self,
        port: str,
        jobs: list[Job],
        changes: Sequence[ProductChange],
        dead: list[PortDeadLetter],
    ) -> None:
        """The dead letters of a write's report, as refusals of the changes they name (a
        letter naming no change of the batch is settled at the next snapshot)."""
        where = {id(c): i for i, c in enumerate(changes)}
        for d in dead:
            i = where.get(id(d.change))
            if i is None:
                self._late.append((port, d))
                continue
            letter = self._refused(port, changes[i], d.reason)
            job, index = _owner(jobs, i)
            with job.lock:
                job.refused.setdefault(index, letter)

    def _refused(
        self, port: str, change: Change, reason: str, field: str | None = None
    ) -> DeadLetter:
        """The dead letter of a change ``port`` refused, with the change's source position."""
        letter = PortDeadLetter(_port_change(change), reason)
        source = getattr(change, "source", None)  # a ProductChange's; None for a bare Change
        return self.ports.dead_letters.of_port(
            port, letter, None if source is None else str(source), field
        )

    def _latency(self, port: str, changes: Sequence[ProductChange]) -> None:
        if not changes:
            return
        now = int(time.time() * 1000)
        times = [c.ts_ms for c in changes if c.ts_ms is not None]
        self.state.latency[port].extend(now - t for t in times)
        self._unflushed[port] += times

    def _committed(self, *ports: str) -> None:
        """``ports`` (default: all) flushed: what they were written since is confirmed now."""
        now = int(time.time() * 1000)
        for port in ports or self._unflushed:
            times = self._unflushed[port]
            self.state.committed[port].extend(now - t for t in times)
            times.clear()

    def _flush(self, port: str, writer: PortWriter) -> None:
        """Flush one writer; an error that is not the writer's own is raised as a
        ``PortError`` naming the port (a driver's text may quote a record)."""
        started = time.perf_counter()
        try:
            writer.flush()
        except MeshkitError:
            raise
        except Exception as exc:
            raise PortError(
                f"port {port} of {self.name}: the flush failed, so nothing since the last "
                f"snapshot is committed: {describe_error(exc)}"
            ) from None
        self.metrics.flushed(port, time.perf_counter() - started)

    def _port_failed(self, port: str, exc: BaseException) -> None:
        """A port thread stopped on ``exc``: count it and log it (a meshkit error's text
        names no value; any other error is logged as its class and where it was raised)."""
        self.metrics.failed(port, exc)
        extra = {"product": self.metrics.product, "step": f"port:{port}",
                 "hint": "the port's server and its log; the flow resumes from its last "
                 "snapshot once restarted"}  # fmt: skip
        if isinstance(exc, MeshkitError):
            log.error("port %s of %s failed: %s", port, self.name, exc, exc_info=exc, extra=extra)
            return
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("port %s of %s failed: %s\n%s", port, self.name, describe_error(exc), frames,
                  extra=extra)  # fmt: skip

    def snapshot(self) -> dict[str, int]:
        self._drain()
        for port, writer in self.ports.writers.items():
            self._flush(port, writer)
        self._settle()  # what the flushes refused, before the dead-letter port's flush
        self.ports.dead_letter_port.flush()
        self._refused_changes.clear()
        self._committed()
        self._write_stats()
        self.metrics.sync(self.state.counts)
        return dict(self.state.counts)

    def close(self) -> None:
        try:
            self._drain()
        finally:
            for t in self._threads:
                t.stop()
        for writer in self.ports.writers.values():
            writer.close()
        self._settle()
        self.ports.dead_letter_port.close()
        self._committed()
        self._write_stats()
        self.metrics.sync(self.state.counts)
        self.metrics.closed()
        log.info(
            "%s closed: %s", self.name, self.state.counts,
            extra={"product": self.metrics.product, "step": "ports"},
        )  # fmt: skip

    def _write_stats(self) -> None:
        if self.stats_dir is None:
            return
        stats: dict[str, Any] = {"counts": self.state.counts, "latency_ms": {}, "committed_ms": {}}
        for name, latencies in (("latency_ms", self.state.latency),
                                ("committed_ms", self.state.committed)):  # fmt: skip
            for port, samples in latencies.items():
                if samples:
                    ordered = sorted(samples)
                    stats[name][port] = {
                        "p50": ordered[len(ordered) // 2],
                        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                        "samples": len(ordered),
                    }
        self.stats_dir.mkdir(parents=True, exist_ok=True)
        path = self.stats_dir / f"{self.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(stats))
        tmp.replace(path)


def _owner(jobs: list[Job], index: int) -> tuple[Job, int]:
    """The job of the ``index``-th change of ``jobs`` written together, and its index there."""
    for job in jobs:
        if index < len(job.changes):
            return job, index
        index -= len(job.changes)
    raise IndexError(index)


def _in_report(_letters: list[PortDeadLetter]) -> None:
    """A search writer's dead letters stay in its write report; the sink dead-letters them."""


def _port_change(c: Change) -> Change:
    return Change(c.op, c.key, c.record, c.position)


class PortSink(FixedPartitionedSink[PortBatch, dict[str, int]]):
    """Writes ``(route, PortBatch)`` items to a product's ports (see the module docstring).

    ``open_ports`` builds one partition's ``PortSet`` (called once per partition, in the
    worker that owns it). ``partitions`` sink partitions share the routes by hash.
    ``threads=False`` writes the ports one after the other in the dataflow's thread
    (default: every port but a Kafka topic in a thread of its own).
    """

    def __init__(
        self,
        open_ports: Callable[[], PortSet],
        *,
        partitions: int = 1,
        stats_dir: Path | None = None,
        threads: bool = True,
    ) -> None:
        self.open_ports = open_ports
        self.partitions = partitions
        self.stats_dir = stats_dir
        self.threads = threads

    def list_parts(self) -> list[str]:
        return [f"ports-{i}" for i in range(self.partitions)]

    def build_part(
        self,
        step_id: str,  # noqa: ARG002 - Bytewax's signature
        for_part: str,
        resume_state: dict[str, int] | None,
    ) -> _PortPartition:
        observe_flow_process()  # metrics and health port, log format (once per process)
        return _PortPartition(
            for_part, self.open_ports(), resume_state, self.stats_dir, self.threads
        )


def read_stats(stats_dir: Path) -> dict[str, Any]:
    """The run's counts summed over sink partitions, and each partition's latencies (at
    write, ``latency_ms``; confirmed by a flush, ``committed_ms``) per port."""
    total = dict.fromkeys(COUNTS, 0)
    latency: dict[str, dict[str, Any]] = {"latency_ms": {}, "committed_ms": {}}
    for path in sorted(stats_dir.glob("*.json")):
        stats = orjson.loads(path.read_bytes())
        for k in COUNTS:
            total[k] += int(stats["counts"].get(k, 0))
        for name, ports in latency.items():
            for port, values in stats.get(name, {}).items():
                ports.setdefault(port, {})[path.stem] = values
    return {"counts": total, **latency}
