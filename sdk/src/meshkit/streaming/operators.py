"""Bytewax operators for a product's dataflow; the record logic lives in plain functions.

Streams carry **batches** (``list`` items, one per Kafka poll), so every step costs one
Python call per batch. Operators that can fail return ``OksErrs``: the records that
passed and the ``Failure`` batches, Bytewax style::

    raw = op.input("in", flow, cdc_source(brokers, contract))
    parsed = ms.parse("parse", raw)
    mapped = ms.map_changes("map", parsed.oks, contract)
    valid = ms.validate("validate", mapped.oks, contract)
    masked = ms.mask("mask", valid.oks, masker)
    errs = op.merge("errs", parsed.errs, mapped.errs, valid.errs, masked.errs)
    ms.write_ports("ports", masked.oks, errs, sink)

``top_n`` aggregates keyed state for serving views; ``process`` runs a whole
``Pipeline`` in one step (what declarative flows use).
"""

# Bytewax operators take their step_id first even when they do not read it.
# ruff: noqa: ARG001

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import StatefulBatchLogic

from meshkit.contracts import Contract
from meshkit.privacy import Masker
from meshkit.streaming.aggregate import TopN, TopNState
from meshkit.streaming.pipeline import PortBatch
from meshkit.streaming.records import (
    ChangeRecord,
    Failure,
    ProductChange,
    RawMessage,
    parse_envelopes,
)
from meshkit.streaming.sinks import PortSink
from meshkit.streaming.steps import GuardStep, MapStep, MaskStep, StepResult, ValidateStep

X = TypeVar("X")
Y = TypeVar("Y")


@dataclass(frozen=True)
class OksErrs(Generic[Y]):
    """The two streams of a step that can fail: batches that passed, batches of failures."""

    oks: Stream[list[Y]]
    errs: Stream[list[Failure]]


def _split(up: Stream[list[X]], fn: Callable[[list[X]], StepResult[Y]]) -> OksErrs[Y]:
    results = op.map("run", up, fn)
    oks = op.filter_map("oks", results, lambda r: r.oks or None)
    errs = op.filter_map("errs", results, lambda r: r.errs or None)
    return OksErrs(oks, errs)


def _parse(batch: list[RawMessage]) -> StepResult[ChangeRecord]:
    parsed = parse_envelopes(batch)
    return StepResult(parsed.records, parsed.failures, parsed.tombstones)


@operator
def parse(step_id: str, up: Stream[list[RawMessage]]) -> OksErrs[ChangeRecord]:
    """Debezium envelopes to ``ChangeRecord`` batches; tombstones are dropped."""
    return _split(up, _parse)


@operator
def map_changes(
    step_id: str, up: Stream[list[ChangeRecord]], contract: Contract
) -> OksErrs[ProductChange]:
    """Change events to product changes by the contract's mapping (``MapStep``)."""
    return _split(up, MapStep(contract))


@operator
def validate(
    step_id: str, up: Stream[list[ProductChange]], contract: Contract
) -> OksErrs[ProductChange]:
    """Required fields, key and per-record quality rules (``ValidateStep``)."""
    return _split(up, ValidateStep(contract))


@operator
def mask(step_id: str, up: Stream[list[ProductChange]], masker: Masker) -> OksErrs[ProductChange]:
    """The contract's privacy transforms (``MaskStep``)."""
    return _split(up, MaskStep(masker))


@operator
def pii_guard(
    step_id: str,
    up: Stream[list[ProductChange]],
    contract: Contract,
    fields: Sequence[str] | None = None,
) -> OksErrs[ProductChange]:
    """Quarantine records with undeclared personal data in text fields (``GuardStep``)."""
    return _split(up, GuardStep(contract, fields=fields))


@operator
def process(
    step_id: str, up: Stream[list[RawMessage]], pipeline: Callable[[list[RawMessage]], PortBatch]
) -> Stream[tuple[str, PortBatch]]:
    """Run a whole ``Pipeline`` per batch; items are routed by source partition."""

    def run(batch: list[RawMessage]) -> tuple[str, PortBatch]:
        route = str(batch[0].source.partition) if batch else "0"
        return route, pipeline(batch)

    return op.map("run", up, run)


class _TopNLogic(StatefulBatchLogic[ProductChange, ProductChange, TopNState]):
    def __init__(self, topn: TopN, state: TopNState | None) -> None:
        self.topn = topn
        self.state = state

    def on_batch(self, values: list[ProductChange]) -> tuple[list[ProductChange], bool]:
        self.state, outputs = self.topn.apply(self.state, values)
        return outputs, StatefulBatchLogic.RETAIN

    def snapshot(self) -> TopNState:
        return self.state.copy() if self.state is not None else TopNState()


@operator
def top_n(step_id: str, up: Stream[list[ProductChange]], topn: TopN) -> Stream[list[ProductChange]]:
    """Top-N per group with retractions (``TopN``), keyed and snapshotted by Bytewax."""
    changes = op.flat_map("explode", up, lambda batch: batch)
    keyed = op.key_on("group", changes, topn.route)
    out = op.stateful_batch("state", keyed, lambda state: _TopNLogic(topn, state))
    return op.map("batch", out, lambda kv: [kv[1]])


def _route(batch: list[Any]) -> str:
    first = batch[0] if batch else None
    source = getattr(first, "source", None)
    return str(source.partition) if source is not None else "0"


@operator
def write_ports(
    step_id: str,
    changes: Stream[list[ProductChange]],
    failures: Stream[list[Failure]],
    sink: PortSink,
) -> None:
    """Write change batches to the ports and failures to the dead-letter port (``PortSink``)."""
    ok = op.map("changes", changes, lambda b: (_route(b), PortBatch(b, [], len(b))))
    bad = op.map("failures", failures, lambda b: (_route(b), PortBatch([], b, len(b))))
    op.output("sink", op.merge("merge", ok, bad), sink)
