"""Shared helpers for benchmarks: timing, argument parsing and the machine-readable BENCH line.

Every benchmark compares meshkit against a baseline measured in the same run (the
machines are noisy, so absolute numbers mean little) and ends with one line::

    BENCH <name> value=<rate> baseline=<rate> ratio=<value/baseline> target=<ratio> PASS|FAIL

``higher_is_better=False`` flips the comparison for time-like ratios (e.g. overhead).
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WATCHDOG_ENV = "MESHKIT_BENCH_WATCHDOG"
"""Seconds after which a benchmark prints every thread's stack and exits (unset: never).

The smoke test sets it, so a benchmark that hangs fails with the place it hung instead of
running into the test's timeout with nothing to show."""

if os.environ.get(WATCHDOG_ENV):
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # keep progress
    faulthandler.dump_traceback_later(float(os.environ[WATCHDOG_ENV]), exit=True, file=sys.stderr)


@dataclass(frozen=True)
class BenchResult:
    """The outcome of one benchmark, printed as its BENCH line."""

    name: str
    value: float
    baseline: float
    target: float
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def line(self) -> str:
        parts = [
            f"BENCH {self.name}",
            f"value={self.value:.6g}",
            f"baseline={self.baseline:.6g}",
            f"ratio={self.ratio:.4g}",
            f"target={'>=' if self.higher_is_better else '<='}{self.target:g}",
        ]
        parts += [f"{k}={_fmt(v)}" for k, v in self.extra.items()]
        parts.append("PASS" if self.passed else "FAIL")
        return " ".join(parts)


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--quick`` flag every benchmark accepts."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    return p


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest wall-clock time of ``repeat`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def report(result: BenchResult) -> None:
    """Print the BENCH line (the last line of a benchmark's output)."""
    print(result.line(), flush=True)
