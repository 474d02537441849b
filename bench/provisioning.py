"""Provisioning: plan and apply for 1, 10 and 100 generated domains x 10 products.

    python -m bench.provisioning [--quick]

Each product's contract has all four output ports (topic, warehouse table, search index,
serving view), so a product is seven resources (its topic, its dead-letter topic, its
table, its index, its alias, its view table; plus one schema per domain). For each size,
against the embedded stack (Tansu, DuckDB, the search server, PostgreSQL), it times the
first plan, the apply, and the no-op re-plan after it (reading the contracts from disk
and the live state, best of three), and prints seconds per step.

The BENCH line: ``value=`` is the no-op plan of the largest size (``noop_plan_s=``
repeats it), ``baseline=`` is the no-op plan of the smallest size times the size ratio
(100: linear growth), ``ratio=`` their quotient (target <= 1: growth no worse than
linear), and ``noop_under_10s=`` says whether the largest no-op plan stays under 10 s
(the target for 100 x 10). ``--quick``: 1 and 3 domains x 3 products.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from bench._common import BenchResult, parser, report
from meshkit.local.kafka import KafkaBroker
from meshkit.local.postgres import Postgres
from meshkit.local.search import SearchServer
from meshkit.local.settings import LocalSettings
from meshkit_platform.provisioning import (
    Backend,
    Plan,
    Targets,
    apply_plan,
    load_domains,
    make_plan,
)

T = TypeVar("T")

CONTRACT = """domain: {domain}
name: {name}
version: 1.0.0
status: active
description: "Generated product {name}."
owner: {{team: "bench", contact: "bench@example.com"}}
fields:
  - {{name: id, type: string, required: true}}
  - {{name: amount, type: "decimal(12,2)", required: true}}
  - {{name: note, type: string}}
  - {{name: at, type: timestamp}}
primary_key: [id]
ports:
  outputs:
    - {{kind: kafka_topic, partitions: 2, compaction: true}}
    - {{kind: warehouse_table}}
    - {{kind: search_index, searchable: [note]}}
    - {{kind: serving_view}}
"""


def generate(root: Path, domains: int, products: int, tag: str) -> Path:
    """``domains`` x ``products`` contracts under ``root``."""
    for d in range(domains):
        folder = root / f"{tag}{d:03d}" / "contracts"
        folder.mkdir(parents=True)
        for p in range(products):
            text = CONTRACT.format(domain=f"{tag}{d:03d}", name=f"product{p:02d}")
            (folder / f"product{p:02d}.yaml").write_text(text)
    return root


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def replan(root: Path, backends: list[Backend]) -> Plan:
    """A re-plan as ``meshkit-platform plan`` makes it: contracts from disk, then the plan."""
    return make_plan(load_domains(root), backends)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    sizes, products = ((1, 3), 3) if args.quick else ((1, 10, 100), 10)
    quiet = Console(file=io.StringIO())
    noop: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-provisioning-") as tmp:
        settings = LocalSettings(state_dir=Path(tmp), kafka_port=0, postgres_port=0,
                                 search_port=0, postgres_url=None)  # fmt: skip
        postgres = Postgres(settings)
        services = [KafkaBroker(settings), postgres, SearchServer(settings)]
        with contextlib.ExitStack() as stack:
            for s in services:
                s.start()
                stack.callback(s.stop)
            targets = Targets(
                kafka=services[0].start().address,
                warehouse=str(Path(tmp) / "warehouse.duckdb"),
                search=services[2].start().address,
                postgres=postgres.dsn(),
            )
            backends = targets.open()
            for b in backends:
                stack.callback(b.close)
            print(f"{'domains x products':>20} {'resources':>9} {'plan s':>8} {'apply s':>8} "
                  f"{'no-op plan s':>12}", flush=True)  # fmt: skip
            for n in sizes:
                root = generate(Path(tmp) / f"domains{n}", n, products, f"b{n}x")
                contracts = load_domains(root)
                plan_s, plan = timed(partial(make_plan, contracts, backends))
                apply_s, _ = timed(partial(apply_plan, plan, backends, console=quiet))
                runs = []
                for _ in range(3):
                    took, again = timed(partial(replan, root, backends))
                    if again.pending:
                        raise SystemExit(f"a no-op plan of {n} domains has pending changes")
                    runs.append(took)
                noop[n] = min(runs)
                count = len(plan.changes)
                print(f"{f'{n} x {products}':>20} {count:>9} {plan_s:>8.2f} {apply_s:>8.2f} "
                      f"{noop[n]:>12.3f}", flush=True)  # fmt: skip
    small, large = sizes[0], sizes[-1]
    value = noop[large]
    baseline = noop[small] * (large / small)
    report(
        BenchResult(
            "provisioning",
            value,
            baseline,
            1.0,
            higher_is_better=False,
            extra={"noop_plan_s": value, "noop_under_10s": "yes" if value < 10 else "no"},
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
