"""A product's whole record path over one batch: parse → map → validate → mask → guard.

``Pipeline(contract, masker)`` is what a declarative flow runs once per polled batch
(one Python call per batch, not per message): it returns a ``PortBatch`` with the
product changes ready for the output ports, the failures bound for the dead-letter
port, and the counts of the batch. Nothing here depends on Bytewax.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from meshkit.contracts import Contract
from meshkit.privacy import Masker
from meshkit.streaming.columnar import ColumnarPath
from meshkit.streaming.records import (
    ChangeRecord,
    Failure,
    Parsed,
    ProductChange,
    ProductKey,
    RawMessage,
    parse_envelopes,
    parse_product_message,
)
from meshkit.streaming.steps import (
    MAX_VALUE_BYTES,
    GuardStep,
    MapStep,
    MaskStep,
    StepResult,
    ValidateStep,
)

Parser = Callable[[Sequence[RawMessage]], Parsed]


@dataclass
class PortBatch:
    """What one input batch became: changes for the ports, failures, and the counts.

    ``received`` = ``len(changes)`` + ``skipped`` + ``len(failures)``: nothing is lost.
    ``checked``: the contract a ``Pipeline`` checked the changes against (validated, then
    masked), so the sink hands them to the writers as a ``CheckedBatch`` that a writer of
    the same contract need not check again; None for changes made any other way.
    """

    changes: list[ProductChange] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    received: int = 0
    skipped: int = 0
    checked: Contract | None = None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is processed (collected after it).

    A batch allocates tens of thousands of short-lived dicts and objects; the collector
    would otherwise run a generation-0 pass every 700 allocations and, now and then, a
    full pass over everything alive, a large share of the record path's time. The
    records form no reference cycles, so they are freed by reference counting either way;
    the collector runs as usual between batches. A caller that disabled the collector
    keeps it disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_products(messages: Sequence[RawMessage], *, key: ProductKey | None = None) -> Parsed:
    """``parse_envelopes`` for other products' topics (records and tombstones), the message
    keys read with ``key`` (see ``parse_product_message``)."""
    out = Parsed([], [])
    for m in messages:
        r = parse_product_message(m, key=key)
        if type(r) is ChangeRecord:
            out.records.append(r)
        else:
            out.failures.append(r)  # type: ignore[arg-type]
    return out


class Pipeline:
    """parse → map → validate → mask → (PII guard), over batches of raw messages.

    Example::

        pipeline = Pipeline(contract, Masker.from_contract(contract, store=store))
        port_batch = pipeline(messages)
    """

    def __init__(
        self,
        contract: Contract,
        masker: Masker,
        *,
        guard: bool = True,
        source: Literal["cdc", "product"] = "cdc",
        max_value_bytes: int = MAX_VALUE_BYTES,
        columnar: bool = True,
    ) -> None:
        self.contract = contract
        self.parse: Parser = (
            parse_envelopes
            if source == "cdc"
            else partial(parse_products, key=ProductKey.of(contract))
        )
        self.steps: list[Callable[[list[ProductChange]], StepResult[ProductChange]]] = [
            ValidateStep(contract),
            MaskStep(masker),
        ]
        guard_step = GuardStep(contract)
        guarded = guard and bool(guard_step.fields)
        if guarded:
            self.steps.append(guard_step)
        self.map = MapStep(contract, max_value_bytes=max_value_bytes)
        # What comes out is checked as a port's intake would check it (every record
        # validated, then masked), unless the masker changes a key field: then the record's
        # key is no longer the change's key, and the intake's check must run (and refuse).
        masked = {p.field.split(".")[0] for p in masker.plans.values()}
        self._checked = contract if not masked & set(contract.primary_key) else None
        self.columnar: ColumnarPath | None = None
        if columnar and source == "cdc":
            self.columnar = ColumnarPath(
                contract, masker, self.map, guard_step if guarded else None
            )

    def __call__(self, messages: Sequence[RawMessage]) -> PortBatch:
        with gc_paused():
            if self.columnar is not None:
                changes, failures, skipped = self.columnar(messages, self._outcomes)
                return PortBatch(changes, failures, len(messages), skipped, self._checked)
            batch = self._run(messages)
            batch.checked = self._checked
            return batch

    def _outcomes(self, messages: Sequence[RawMessage]) -> tuple[list[Any], int]:
        """The record path's changes and failures of ``messages``, and how many it skipped."""
        batch = self._run(messages)
        return [*batch.changes, *batch.failures], batch.skipped

    def _run(self, messages: Sequence[RawMessage]) -> PortBatch:
        """The record path: each step over the batch's records."""
        parsed = self.parse(messages)
        mapped = self.map(parsed.records)
        failures = parsed.failures + mapped.errs
        changes = mapped.oks
        for step in self.steps:
            result = step(changes)
            changes = result.oks
            failures += result.errs
        return PortBatch(changes, failures, len(messages), parsed.tombstones + mapped.skipped)
