"""A running flow's totals per product, read back from this process's flow metrics.

``flow_totals()`` reads the counters the flows' sinks and sources keep
(:mod:`meshkit.observability.metrics`: received, written per port, dead letters, skipped,
consumer lag) as they are now, without counting anything itself; a progress display
(``meshkit flow run``) takes two readings and shows what grew in between. After a
restart with recovery, the counters start from the counts the sinks restored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meshkit.observability import metrics


@dataclass
class ProductTotals:
    """One product's counts: changes in, written by each port, dead letters, skipped."""

    received: int = 0
    written: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    skipped: int = 0


@dataclass
class FlowTotals:
    """Every product of the process's flow, by address, and the input's total lag."""

    products: dict[str, ProductTotals] = field(default_factory=dict)
    lag: int | None = None  # messages left to read, over every source partition

    def product(self, name: str) -> ProductTotals:
        return self.products.setdefault(name, ProductTotals())


def _samples(collector: Any, suffix: str) -> Iterable[tuple[dict[str, str], float]]:
    for family in collector.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                yield sample.labels, sample.value


def flow_totals() -> FlowTotals:
    """The flow metrics of this process as they are now (see the module docstring)."""
    totals = FlowTotals()
    for labels, value in _samples(metrics.FLOW_RECEIVED, "_total"):
        totals.product(labels["product"]).received += int(value)
    for labels, value in _samples(metrics.FLOW_SKIPPED, "_total"):
        totals.product(labels["product"]).skipped += int(value)
    for labels, value in _samples(metrics.FLOW_DEAD_LETTERS, "_total"):
        totals.product(labels["product"]).dead_letters += int(value)
    for labels, value in _samples(metrics.PORT_WRITTEN, "_total"):
        written = totals.product(labels["product"]).written
        written[labels["port"]] = written.get(labels["port"], 0) + int(value)
    lags = [int(v) for _labels, v in _samples(metrics.CONSUMER_LAG, "_lag")]
    totals.lag = sum(lags) if lags else None
    return totals
