"""Precision and recall of the PII scanner on a labelled set generated independently of it.

    python -m bench.pii_scan [--quick] [--seed N] [--rows N]

Generates ``bench._pii_corpus`` (46 labelled columns; another generator and seed than the
set the rules were written with, see that module) and prints precision and recall per
category, per value and per column, then the values it got wrong. With ``--seed`` it
draws another sample of the same distributions (the default seed is the one the test
uses). The BENCH line's value is the worst precision or recall of any category at
either level (target >= 0.95); ``values_per_s`` is the scanning rate of ``find_all`` over
the set (whole values and text), for information.
"""

from __future__ import annotations

import time

from bench._common import BenchResult, parser, report
from bench._pii_corpus import ROWS, SEED, TODAY, evaluate, generate
from meshkit.privacy.detectors import find_all

TARGET = 0.95


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--rows", type=int, default=None, help=f"values per column (default {ROWS})")
    args = ap.parse_args()
    rows = args.rows or (ROWS if args.quick else 4 * ROWS)
    corpus = generate(rows=rows, seed=args.seed)
    result = evaluate(corpus)
    print(result.table())
    for line in result.misses[:50] + result.column_misses:
        print("  miss:", line)

    texts = [(c.name, v.text) for c in corpus.columns for v in c.values]
    start = time.perf_counter()
    for name, text in texts:
        find_all(text, name, TODAY)
    rate = len(texts) / (time.perf_counter() - start)
    print(f"find_all: {rate:,.0f} values/s")
    worst = min(result.worst_value, result.worst_column)
    report(
        BenchResult(
            name="pii_scan",
            value=worst,
            baseline=1.0,
            target=TARGET,
            extra={
                "seed": args.seed,
                "values": result.n_values,
                "columns": result.n_columns,
                "worst_value": round(result.worst_value, 4),
                "worst_column": round(result.worst_column, 4),
                "values_per_s": round(rate),
            },
        )
    )


if __name__ == "__main__":
    main()
