"""The metrics and health of a CDC capture (``meshkit.cdc.capture``).

``CaptureMetrics(slot)``: the capture counts each event it produces by topic
(``event``, a dictionary increment on the hot path) and ``report`` moves the counts to
``meshkit_cdc_events_total`` with the acknowledged LSN, at the capture's progress ticks;
at most every ``slot_every`` seconds it also reads the slot's retained WAL and confirmed
lag from the server (``meshkit.cdc.status.slot_status``). The capture is ready
(``/readyz``) while it streams. With ``MESHKIT_REGISTRY_URL`` set, the capture also
reports its run to the registry as OpenLineage events (:mod:`meshkit.lineage`: ``START``
at the first report, ``RUNNING`` with the events produced so far, its topics as outputs,
``FAIL`` when it stops on an error), sent in the background and dropped, never waited
for, when the registry is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from meshkit.lineage import Counts, RunReporter, cdc_job, dataset, shared_emitter
from meshkit.observability import metrics
from meshkit.observability.server import health

log = logging.getLogger("meshkit.cdc")

SlotFigures = tuple[int, int]  # (retained WAL bytes, confirmed lag bytes)


class CaptureMetrics:
    """One capture's metrics (see the module docstring)."""

    def __init__(self, slot: str, *, slot_every: float = 5.0) -> None:
        self.slot = slot
        self.component = f"cdc {slot}"
        self.pending: dict[str, int] = {}
        self._acked = metrics.CDC_ACKED_LSN.labels(slot)
        self._retained = metrics.CDC_RETAINED_WAL.labels(slot)
        self._lag = metrics.CDC_CONFIRMED_LAG.labels(slot)
        self._slot_every = slot_every
        self._next_slot = 0.0
        self._produced = 0
        self._topics: set[str] = set()
        emitter = shared_emitter()
        self._run = RunReporter(cdc_job(slot), emitter) if emitter.enabled else None
        self._started = False
        health.starting(self.component)

    def event(self, topic: str) -> None:
        self.pending[topic] = self.pending.get(topic, 0) + 1

    def report(
        self, acked_lsn: int, phase: str, read_slot: Callable[[], SlotFigures] | None
    ) -> None:
        """Publish the counts since the last report; read the slot's figures when due."""
        pending, self.pending = self.pending, {}
        for topic, n in pending.items():
            metrics.CDC_EVENTS.labels(self.slot, topic).inc(n)
        if self._run is not None:
            self._lineage(pending)
        self._acked.set(acked_lsn)
        health.ready(self.component, phase == "streaming")
        now = time.monotonic()
        if read_slot is None or now < self._next_slot:
            return
        self._next_slot = now + self._slot_every
        retained, lag = read_slot()
        self._retained.set(retained)
        self._lag.set(lag)

    def _lineage(self, pending: dict[str, int]) -> None:
        assert self._run is not None
        self._produced += sum(pending.values())
        new = set(pending) - self._topics
        if new:
            self._topics |= new
            self._run.job.outputs = [dataset("kafka", t) for t in sorted(self._topics)]
        if not self._started:
            self._started = True
            self._run.start()
        self._run.progress(Counts(written=self._produced))

    def failed(self, error: BaseException) -> None:
        health.failed(self.component, f"the capture stopped ({type(error).__name__}); see its log")
        if self._run is not None:
            self._run.finish(Counts(written=self._produced), failed=True)
