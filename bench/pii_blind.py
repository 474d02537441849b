"""Blind measurement of the personal-data detector on an independently written corpus.

    python -m bench.pii_blind [--quick] [--seed N] [--per-column N]

The corpus (``bench/_pii_blind_corpus.py``) is generated with ``random.Random(20261204)``
from templates written without reading the detector's code: 58 e-commerce columns of 200
values (``--quick``: 30), personal data as whole values and inside sentences, and the
look-alikes a shop stores. Each value is labelled by construction.

A value is predicted positive for a category when
``meshkit.privacy.detectors.find_all(value, column_name, TODAY)`` returns a finding of
that category (and positive at all when it returns any finding). Scores:

- per value and category: precision and recall over all values;
- per value, any category: a value holding personal data found or not;
- per column: a column is positive (for a category, or at all) when any of its values is;
  it is predicted positive when the detector flags at least ``COLUMN_THRESHOLD`` (5 %) of
  its values (for that category, or with any finding). Every positive column holds each
  of its categories in at least 10 % of its values.

The BENCH line's value is the worst precision or recall of all those scores (baseline 1.0,
a perfect detector; target 0.95). The misses printed (at most 40) show the column, the
value, what it holds and what was found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench._common import BenchResult, parser, report
from bench._pii_blind_corpus import CATEGORIES, SEED, TODAY, Column, columns
from meshkit.privacy.detectors import find_all

COLUMN_THRESHOLD = 0.05
TARGET = 0.95
MAX_MISSES = 40
ANY = "any"


@dataclass
class Score:
    """True positives, false positives and false negatives of one category."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, truth: bool, predicted: bool) -> None:
        self.tp += truth and predicted
        self.fp += predicted and not truth
        self.fn += truth and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True)
class Miss:
    """A value whose predicted categories differ from its labels."""

    column: str
    text: str
    labels: frozenset[str]
    found: frozenset[str]


def evaluate(
    corpus: list[Column],
) -> tuple[dict[str, Score], dict[str, Score], list[Miss], list[tuple[str, float, bool]]]:
    """Scores per value and per column (by category and ``any``), the misses, column shares."""
    keys = (*CATEGORIES, ANY)
    per_value = {k: Score() for k in keys}
    per_column = {k: Score() for k in keys}
    misses: list[Miss] = []
    shares: list[tuple[str, float, bool]] = []
    for col in corpus:
        truth_count: Counter[str] = Counter()
        found_count: Counter[str] = Counter()
        for value in col.values:
            found = frozenset(f.category for f in find_all(value.text, col.name, TODAY))
            for cat in CATEGORIES:
                per_value[cat].add(cat in value.labels, cat in found)
            per_value[ANY].add(bool(value.labels), bool(found))
            truth_count.update(value.labels | ({ANY} if value.labels else set()))
            found_count.update(found | ({ANY} if found else set()))
            if found != value.labels:
                misses.append(Miss(col.name, value.text, value.labels, found))
        n = len(col.values)
        for key in keys:
            per_column[key].add(truth_count[key] > 0, found_count[key] / n >= COLUMN_THRESHOLD)
        shares.append((col.name, found_count[ANY] / n, truth_count[ANY] > 0))
    return per_value, per_column, misses, shares


def _spread(misses: list[Miss], limit: int) -> list[Miss]:
    """At most ``limit`` misses, taken round-robin over columns so one column cannot fill it."""
    by_column: dict[str, list[Miss]] = {}
    for m in misses:
        by_column.setdefault(m.column, []).append(m)
    out: list[Miss] = []
    while len(out) < limit and any(by_column.values()):
        for ms in by_column.values():
            if ms and len(out) < limit:
                out.append(ms.pop(0))
    return out


def _fmt(labels: frozenset[str]) -> str:
    return ",".join(sorted(labels)) or "-"


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--per-column", type=int, default=None)
    args = ap.parse_args()
    n = args.per_column or (30 if args.quick else 200)
    corpus = columns(n, args.seed)
    total = sum(len(c.values) for c in corpus)
    per_value, per_column, misses, shares = evaluate(corpus)
    print(f"blind PII corpus: {len(corpus)} columns x {n} values = {total:,} values")
    print(f"seed {args.seed}, today {TODAY}, column threshold {COLUMN_THRESHOLD:.0%}")
    print(f"\n{'column':<27}{'what it holds':<46}{'personal':>9}{'flagged':>8}  verdict")
    for col, (_, share, positive) in zip(corpus, shares, strict=True):
        held = sum(1 for v in col.values if v.labels) / len(col.values)
        predicted = share >= COLUMN_THRESHOLD
        verdict = "ok" if predicted == positive else ("MISSED" if positive else "FALSE ALARM")
        print(f"{col.name:<27}{col.kind:<46}{held:>9.0%}{share:>8.0%}  {verdict}")
    heads = ("category", "support", "P value", "R value", "columns", "P column", "R column")
    print("\n" + "".join(f"{c:>10}" if i else f"{c:<15}" for i, c in enumerate(heads)))
    worst = (1.0, "")
    for key in (*CATEGORIES, ANY):
        v, c = per_value[key], per_column[key]
        print(
            f"{key:<15}{v.tp + v.fn:>10}{v.precision:>10.3f}{v.recall:>10.3f}"
            f"{c.tp + c.fn:>10}{c.precision:>10.3f}{c.recall:>10.3f}"
        )
        for level, s in (("value", v), ("column", c)):
            for metric, x in (("precision", s.precision), ("recall", s.recall)):
                if x < worst[0]:
                    worst = (x, f"{key}_{level}_{metric}")
    kinds = Counter(
        ("missed " if m.labels - m.found else "spurious ") + _fmt((m.labels - m.found) or m.found)
        for m in misses
    )
    print(f"\nvalues with a wrong prediction: {len(misses)} {dict(kinds.most_common())}")
    for m in _spread(misses, MAX_MISSES):
        print(f"  [{m.column}] {m.text!r}  holds={_fmt(m.labels)} found={_fmt(m.found)}")
    worst_value = min(min(s.precision, s.recall) for s in per_value.values())
    worst_column = min(min(s.precision, s.recall) for s in per_column.values())
    report(
        BenchResult(
            name="pii_blind",
            value=max(worst[0], 1e-9),
            baseline=1.0,
            target=TARGET,
            extra={
                "worst": worst[1] or "none",
                "worst_value": round(worst_value, 4),
                "worst_column": round(worst_column, 4),
                "values": total,
                "wrong_values": len(misses),
            },
        )
    )


if __name__ == "__main__":
    main()
