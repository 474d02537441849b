"""The metrics and health of one sink partition of a flow (``meshkit.streaming.sinks``).

``FlowMetrics(product, partition)`` keeps the partition's label children and turns the
sink's counts (received, written, skipped, dead letters; effectively-once, restored from
a snapshot after a restart) into Prometheus counters: ``sync(counts)`` adds what grew
since the last call. A count that shrinks (a change a port refused only at its flush is
no longer counted as written) is not taken back; the counter catches up once the count
is past its old value. Port writes and flushes are timed by the caller
(``time.perf_counter``) and observed here. ``ConsumerLag`` is a source partition's lag.
With ``MESHKIT_REGISTRY_URL`` set, the partition also reports its run to the registry as
OpenLineage events (:mod:`meshkit.lineage`: ``START``, periodic ``RUNNING`` with the counts,
``COMPLETE`` or ``FAIL``; the topics the flow reads, ``inputs``, as input datasets, so the
registry observes the lineage), sent in the background and dropped, never waited for,
when the registry is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from confluent_kafka import Consumer, TopicPartition

from meshkit.lineage import Counts, RunReporter, flow_job, shared_emitter
from meshkit.observability import metrics
from meshkit.observability.server import health

log = logging.getLogger("meshkit.streaming")


class Letter(Protocol):
    """What the metrics read of a dead letter: the step and the source position."""

    @property
    def step(self) -> str: ...

    @property
    def source(self) -> str | None: ...


_FLOW_COUNTERS = {
    "received": metrics.FLOW_RECEIVED,
    "written": metrics.FLOW_WRITTEN,
    "skipped": metrics.FLOW_SKIPPED,
}


class FlowMetrics:
    """One sink partition's view of the flow metrics (see the module docstring)."""

    def __init__(
        self,
        product: str,
        partition: str,
        *,
        personal_fields: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> None:
        self.product = product
        self.component = f"flow {product} {partition}"
        self._seen: dict[str, int] = dict.fromkeys(_FLOW_COUNTERS, 0)
        self._letters = 0
        self._counters = {k: c.labels(product) for k, c in _FLOW_COUNTERS.items()}
        self._ports: dict[str, Any] = {}
        self._run: RunReporter | None = None
        emitter = shared_emitter()
        if emitter.enabled:  # run events for the registry (MESHKIT_REGISTRY_URL)
            self._run = RunReporter(flow_job(product, personal_fields, inputs), emitter)
        health.starting(self.component)

    def ready(self) -> None:
        """The partition's ports are open and ``ensure``-d."""
        health.ready(self.component)
        if self._run is not None:
            self._run.start()

    def failed(self, port: str, error: BaseException) -> None:
        health.failed(
            self.component,
            f"port {port} failed ({type(error).__name__}); see this process's log",
        )
        if self._run is not None:
            self._run.finish(self._counts(), failed=True)

    def closed(self) -> None:
        health.forget(self.component)
        if self._run is not None:
            self._run.finish(self._counts())

    def sync(self, counts: Mapping[str, int]) -> None:
        """Add to the counters what ``counts`` grew by since the last call."""
        for name, child in self._counters.items():
            now = counts.get(name, 0)
            if now > self._seen[name]:
                child.inc(now - self._seen[name])
                self._seen[name] = now
        if self._run is not None:
            self._run.progress(self._counts())

    def _counts(self) -> Counts:
        seen = self._seen
        return Counts(read=seen["received"], written=seen["written"], dead_letters=self._letters)

    def dead_letters(self, letters: Iterable[Letter]) -> None:
        """Count ``letters`` by the step that refused them, and log one line per step with
        the first letter's source position and where the letters are (never a value)."""
        first: dict[str, Letter] = {}
        tally: dict[str, int] = {}
        for letter in letters:
            first.setdefault(letter.step, letter)
            tally[letter.step] = tally.get(letter.step, 0) + 1
        self._letters += sum(tally.values())
        for step, n in tally.items():
            metrics.FLOW_DEAD_LETTERS.labels(self.product, step).inc(n)
            log.warning(
                "%d record(s) refused at step %s and dead-lettered", n, step,
                extra={"product": self.product, "step": step, "source": first[step].source,
                       "hint": f"the dead-letter topic {self.product}.deadletter (each "
                       "letter has the reason, field and source position)"},
            )  # fmt: skip

    def _port(self, port: str) -> tuple[Any, Any, Any]:
        children = self._ports.get(port)
        if children is None:
            children = (
                metrics.PORT_WRITTEN.labels(self.product, port),
                metrics.PORT_WRITE_SECONDS.labels(self.product, port),
                metrics.PORT_FLUSH_SECONDS.labels(self.product, port),
            )
            self._ports[port] = children
        return children

    def wrote(self, port: str, changes: int, seconds: float) -> None:
        written, write_seconds, _ = self._port(port)
        written.inc(changes)
        write_seconds.observe(seconds)

    def flushed(self, port: str, seconds: float) -> None:
        self._port(port)[2].observe(seconds)


class ConsumerLag:
    """``meshkit_flow_consumer_lag`` of one source partition, from the consumer's cached
    high watermark (updated by every fetch: no request to the broker), at most every
    ``every`` seconds."""

    def __init__(self, topic: str, partition: int, every: float = 0.5) -> None:
        self._tp = TopicPartition(topic, partition)
        self._gauge = metrics.CONSUMER_LAG.labels(topic, str(partition))
        self._every = every
        self._next = 0.0

    def update(self, consumer: Consumer, next_offset: int) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every
        _low, high = consumer.get_watermark_offsets(self._tp, cached=True)
        if high >= 0:  # negative: not known yet
            self._gauge.set(max(0, high - next_offset))
