"""OpenLineage run events to the registry, sent in the background so a run never waits.

The registry is a platform service; this is its client side, speaking the OpenLineage
HTTP transport (``POST {url}/api/v1/lineage``, ``Authorization: Bearer <token>``) through
``openlineage-python``. :class:`LineageEmitter` puts each event in a bounded buffer and
one background thread sends them: :meth:`LineageEmitter.emit` never blocks and never
raises. When the buffer is full, or the registry does not take an event (down, refusing,
slow past the timeout), the event is dropped and :attr:`LineageEmitter.dropped` counts
it; the same count is logged once when the emitter closes. Without a URL nothing is sent.

Example (a streaming job with periodic counts)::

    emitter = LineageEmitter.from_env(namespace="orders")
    job = LineageJob("orders_flow", processing="STREAMING", integration="BYTEWAX",
                     inputs=[dataset("kafka://local", "orders.raw")],
                     outputs=[dataset("kafka://local", "orders.order.v1",
                                      personal_fields=["email"])])
    emitter.emit(job.event("START"))
    emitter.emit(job.event("RUNNING", counts=Counts(read=120, written=118, dead_letters=2)))
    emitter.emit(job.event("COMPLETE"))
    emitter.close()

Personal fields are tagged in the dataset's ``tags`` facet (key ``personal-data``, one
tag per field) so the catalog knows which observed datasets hold personal data; field
names only, never a value.

A job that checks its inputs (a product's generated Dagster checks) passes ``checks``
(:class:`Check`: name, passed or skipped, severity) to :meth:`LineageJob.event`: each
input dataset carries the evaluated ones as OpenLineage ``dataQualityAssertions``, and
the run a ``meshkit_checks`` facet with the passed, failed and skipped counts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    job_type_job,
    tags_dataset,
)
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)

from meshkit.observability import metrics

URL_ENV = "MESHKIT_REGISTRY_URL"
INTERVAL_ENV = "MESHKIT_LINEAGE_INTERVAL_SECONDS"
TOKEN_ENV = "MESHKIT_REGISTRY_TOKEN"  # noqa: S105 - a variable name, not a secret
PRODUCER = "https://github.com/meshkit/meshkit/tree/main/sdk/src/meshkit/lineage.py"
PERSONAL_TAG = "personal-data"
_log = logging.getLogger(__name__)

State = Literal["START", "RUNNING", "COMPLETE", "FAIL", "ABORT"]
_STOP = object()


@attr.define
class CountsRunFacet(RunFacet):
    """``meshkit_counts``: what a run has read, written and sent to dead letters so far."""

    read: int
    written: int
    dead_letters: int


@attr.define
class ChecksRunFacet(RunFacet):
    """``meshkit_checks``: how many quality checks of a run passed, failed or were skipped
    (a check that could not be evaluated has no result)."""

    passed: int
    failed: int
    skipped: int


@dataclass(frozen=True)
class Check:
    """The result of one quality check of a job's input: its name, passed or not (None:
    skipped, not evaluated), and its severity (``error`` or ``warn``)."""

    name: str
    passed: bool | None
    severity: str = "error"


@dataclass(frozen=True)
class Counts:
    """Running totals of a flow or a batch run."""

    read: int = 0
    written: int = 0
    dead_letters: int = 0


def dataset(
    namespace: str, name: str, *, personal_fields: Iterable[str] = ()
) -> tuple[str, str, tuple[str, ...]]:
    """A dataset of a job: its namespace (``kafka://host``, ``duckdb://file``...), its name
    (a topic, ``schema.table``, an index) and the names of its personal fields."""
    return (namespace, name, tuple(personal_fields))


def _facets(personal: tuple[str, ...]) -> dict[str, Any]:
    if not personal:
        return {}
    tags = [
        tags_dataset.TagsDatasetFacetFields(
            key=PERSONAL_TAG, value="true", source="MESHKIT", field=name
        )
        for name in personal
    ]
    return {"tags": tags_dataset.TagsDatasetFacet(tags=tags)}


@dataclass
class LineageJob:
    """One job (a flow, a Dagster job, a CDC capture) and its current run."""

    name: str
    namespace: str = "meshkit"
    processing: Literal["BATCH", "STREAMING"] = "BATCH"
    integration: str = "MESHKIT"
    inputs: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    outputs: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def event(
        self, state: State, *, counts: Counts | None = None, checks: Iterable[Check] = ()
    ) -> RunEvent:
        """The run event for ``state`` (with the running counts, when given). ``checks``
        are quality checks run on the job's inputs: each input dataset carries the
        evaluated ones as OpenLineage ``dataQualityAssertions``, and the run a
        ``meshkit_checks`` facet counting passed, failed and skipped checks."""
        run_facets: dict[str, RunFacet] = {}
        if counts is not None:
            run_facets["meshkit_counts"] = CountsRunFacet(
                read=counts.read, written=counts.written, dead_letters=counts.dead_letters
            )
        checks = list(checks)
        input_facets: dict[str, InputDatasetFacet] = {}
        if checks:
            run_facets["meshkit_checks"] = ChecksRunFacet(
                passed=sum(c.passed is True for c in checks),
                failed=sum(c.passed is False for c in checks),
                skipped=sum(c.passed is None for c in checks),
            )
            assertions = [
                data_quality_assertions_dataset.Assertion(
                    assertion=c.name, success=c.passed, severity=c.severity
                )
                for c in checks
                if c.passed is not None
            ]
            input_facets["dataQualityAssertions"] = (
                data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                    assertions=assertions
                )
            )
        job_type = job_type_job.JobTypeJobFacet(
            processingType=self.processing, integration=self.integration, jobType="JOB"
        )
        return RunEvent(
            eventType=RunState[state],
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.namespace, name=self.name, facets={"jobType": job_type}),
            inputs=[
                InputDataset(ns, n, inputFacets=dict(input_facets), facets=_facets(p))
                for ns, n, p in self.inputs
            ],
            outputs=[OutputDataset(ns, n, facets=_facets(p)) for ns, n, p in self.outputs],
            producer=PRODUCER,
        )


def flow_job(
    product: str, personal_fields: Iterable[str] = (), inputs: Iterable[str] = ()
) -> LineageJob:
    """The job of a flow writing ``product`` (its address): ``<address>.flow`` in the
    domain's namespace, ``STREAMING`` on Bytewax, the topics it reads (``inputs``: its
    contract's input ports, a CDC topic ``<domain>.cdc.<schema>.<table>`` or another
    product's address) as its input datasets and the product's dataset as its output."""
    return LineageJob(
        f"{product}.flow",
        namespace=product.split(".", 1)[0],
        processing="STREAMING",
        integration="BYTEWAX",
        inputs=[dataset("meshkit", topic) for topic in dict.fromkeys(inputs)],
        outputs=[dataset("meshkit", product, personal_fields=personal_fields)],
    )


def cdc_job(slot: str) -> LineageJob:
    """The job of a CDC capture on replication slot ``slot`` (``meshkit_<domain>``):
    ``cdc.<slot>`` in the domain's namespace, ``STREAMING``; outputs are added as topics
    appear."""
    return LineageJob(
        f"cdc.{slot}",
        namespace=slot.removeprefix("meshkit_") or slot,
        processing="STREAMING",
        integration="MESHKIT_CDC",
    )


class LineageEmitter:
    """Sends run events from a bounded buffer on a background thread; drops, never waits.

    Args:
        url: the registry's base URL; ``None`` or empty: every event is ignored.
        token: a registry API token (domain owner of the job's domain).
        capacity: events buffered while the registry is slow or down.
        timeout: seconds one send may take before the event is dropped.
    """

    def __init__(
        self,
        url: str | None,
        token: str | None = None,
        *,
        capacity: int = 1000,
        timeout: float = 2.0,
    ) -> None:
        self.url = url or None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._dropped = 0
        self._sent = 0
        self._thread: threading.Thread | None = None
        if self.url is None:
            return
        if not self.url.startswith(("http://", "https://")):
            _log.warning("meshkit: %s is not an http(s) URL; no run events are sent", URL_ENV)
            self.url = None
            return
        config = HttpConfig(
            url=self.url,
            timeout=timeout,
            auth=ApiKeyTokenProvider({"apiKey": token}) if token else TokenProvider({}),
            retry={"total": 0},
        )
        self._client = OpenLineageClient(transport=HttpTransport(config))
        self._thread = threading.Thread(target=self._run, name="meshkit-lineage", daemon=True)
        self._thread.start()

    @classmethod
    def from_env(cls, **kwargs: Any) -> LineageEmitter:
        """From ``MESHKIT_REGISTRY_URL`` and ``MESHKIT_REGISTRY_TOKEN`` (unset: a no-op)."""
        return cls(os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV), **kwargs)

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    @property
    def dropped(self) -> int:
        """Events not delivered: buffer full, registry down or refusing."""
        with self._lock:
            return self._dropped

    @property
    def sent(self) -> int:
        """Events the registry accepted."""
        with self._lock:
            return self._sent

    def emit(self, event: RunEvent) -> None:
        """Queue one event (never blocks, never raises)."""
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count(dropped=1)

    def close(self, timeout: float = 5.0) -> None:
        """Send what the buffer holds for up to ``timeout`` seconds; drop the rest."""
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        thread.join(timeout)
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            left += item is not _STOP
        self._count(dropped=left)
        if self.dropped:
            _log.warning(
                "meshkit: %d run event(s) not delivered to the registry (down, slow or "
                "refusing; check %s and %s)",
                self.dropped,
                URL_ENV,
                TOKEN_ENV,
            )

    def _count(self, *, dropped: int = 0, sent: int = 0) -> None:
        with self._lock:
            self._dropped += dropped
            self._sent += sent
        if dropped:
            metrics.LINEAGE_EVENTS.labels("dropped").inc(dropped)
        if sent:
            metrics.LINEAGE_EVENTS.labels("sent").inc(sent)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                assert isinstance(item, RunEvent)
                self._client.emit(item)
            except Exception:  # down, refused, timed out: drop it, the run goes on
                self._count(dropped=1)
            else:
                self._count(sent=1)

    def __enter__(self) -> LineageEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: LineageEmitter | None = None
_shared_lock = threading.Lock()


def shared_emitter() -> LineageEmitter:
    """The process's emitter (from the environment, made once, closed at exit)."""
    global _shared  # noqa: PLW0603 - one emitter (one thread, one buffer) per process
    with _shared_lock:
        if _shared is None:
            _shared = LineageEmitter.from_env()
            atexit.register(_shared.close)
        return _shared


class RunReporter:
    """One run of a job through an emitter: ``START``, a ``RUNNING`` event with the counts
    at most every ``every`` seconds (``MESHKIT_LINEAGE_INTERVAL_SECONDS``, default 30),
    then ``COMPLETE`` or ``FAIL``."""

    def __init__(
        self, job: LineageJob, emitter: LineageEmitter, every: float | None = None
    ) -> None:
        self.job = job
        self.emitter = emitter
        self.every = every if every is not None else float(os.environ.get(INTERVAL_ENV) or 30)
        self._last = 0.0
        self._done = False

    def start(self) -> None:
        self._last = time.monotonic()
        self.emitter.emit(self.job.event("START"))

    def progress(self, counts: Counts) -> None:
        now = time.monotonic()
        if not self._done and now - self._last >= self.every:
            self._last = now
            self.emitter.emit(self.job.event("RUNNING", counts=counts))

    def finish(self, counts: Counts | None = None, *, failed: bool = False) -> None:
        if not self._done:
            self._done = True
            self.emitter.emit(self.job.event("FAIL" if failed else "COMPLETE", counts=counts))
