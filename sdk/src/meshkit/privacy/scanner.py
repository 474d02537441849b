"""The PII scanner: finds personal data that a contract did not declare.

Batch: ``scan_table(table)`` samples each column of an Arrow table and reports, per field,
the categories found, the share of sampled values matching each, and a few masked
examples (``FieldFinding``); ``declared`` says which fields the contract already tags,
so ``finding.undeclared`` is what an asset check fails on.

Streaming: ``PiiGuard(allowed=...)`` checks one record and returns ``GuardResult`` (ok,
or quarantine with the reason), never raising, for a guard step before an output port.

Each value is read whole and, when it is text, inside: an e-mail address or a phone
number in a sentence is found too (``meshkit.privacy.detectors.find_all``; see that
module for every rule). A value holding several kinds of personal data counts once for
each kind.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from meshkit.privacy.detectors import EMAIL, detect, find_all
from meshkit.privacy.mask import EmailDomain, KeepLast

if TYPE_CHECKING:
    from meshkit.contracts import Contract

_EXAMPLES = 3
_mask_email = EmailDomain()
_mask_other = KeepLast(2)


def mask_example(value: Any, category: str) -> str:
    """An example safe to print: only the e-mail domain, or the last two characters."""
    text = str(value)
    return str(_mask_email.value(text) if category == EMAIL else _mask_other.value(text))


@dataclass(frozen=True)
class FieldFinding:
    """What the scanner found in one field of a sample."""

    field: str
    sampled: int
    matches: dict[str, int]
    examples: dict[str, list[str]]
    declared: str | None = None  # the PII category the contract declares, if any

    @property
    def categories(self) -> list[str]:
        return sorted(self.matches, key=lambda c: -self.matches[c])

    def share(self, category: str) -> float:
        return self.matches.get(category, 0) / self.sampled if self.sampled else 0.0

    @property
    def undeclared(self) -> bool:
        """Personal data found in a field the contract does not declare as personal."""
        return bool(self.matches) and self.declared is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "sampled": self.sampled,
            "declared": self.declared,
            "undeclared": self.undeclared,
            "categories": [
                {
                    "category": c,
                    "matches": self.matches[c],
                    "share": round(self.share(c), 4),
                    "examples": self.examples.get(c, []),
                }
                for c in self.categories
            ],
        }


def scan_values(
    name: str,
    values: Iterable[Any],
    *,
    declared: str | None = None,
    today: date | None = None,
) -> FieldFinding:
    """Scan the (already sampled) non-null values of one field."""
    matches: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    sampled = 0
    for v in values:
        if v is None:
            continue
        sampled += 1
        for category, text in _categories(v, name, today).items():
            matches[category] += 1
            seen = examples.setdefault(category, [])
            if len(seen) < _EXAMPLES:
                seen.append(mask_example(text, category))
    return FieldFinding(name, sampled, dict(matches), examples, declared)


def _categories(value: Any, name: str, today: date | None) -> dict[str, Any]:
    """Category -> the first piece of ``value`` found to hold it (the value itself, or the
    span of a text)."""
    if isinstance(value, str):
        out: dict[str, Any] = {}
        for f in find_all(value, name, today):
            out.setdefault(f.category, value[f.start : f.end])
        return out
    value = str(value) if type(value) is int else value
    hit = detect(value, name, today)
    return {} if hit is None else {hit.category: value}


def scan_table(
    table: pa.Table,
    *,
    declared: Mapping[str, str | None] | None = None,
    sample: int = 1000,
    seed: int = 0,
    today: date | None = None,
) -> list[FieldFinding]:
    """Scan up to ``sample`` random rows of every column (structs flattened as ``a.b``).

    ``declared`` maps field names to the PII category the contract declares (or None).
    Returns one finding per scanned column, in column order.
    """
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    if table.num_rows > sample:
        rows = sorted(random.Random(seed).sample(range(table.num_rows), sample))
        table = table.take(pa.array(rows, pa.int64()))
    decl = declared or {}
    findings = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        t = column.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
                or pa.types.is_date(t) or pa.types.is_dictionary(t)):  # fmt: skip
            continue
        findings.append(scan_values(name, column.to_pylist(), declared=decl.get(name), today=today))
    return findings


@dataclass(frozen=True)
class GuardResult:
    """The verdict on one record: ``ok``, or quarantine with ``reason``."""

    ok: bool
    reason: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # field -> category found


class PiiGuard:
    """A streaming guard: quarantine records that carry personal data where none is declared.

    ``allowed`` names fields allowed to hold personal data (declared in the contract and
    transformed on purpose, e.g. a masked e-mail); every other text, integer or date value
    at the top level or in nested dicts is checked.

    Example::

        guard = PiiGuard(allowed={"email"})
        guard.check({"id": 1, "note": "ada@example.com"}).ok      # False
    """

    def __init__(self, allowed: Collection[str] = (), *, today: date | None = None) -> None:
        self.allowed = frozenset(allowed)
        self.today = today

    def check(self, record: Mapping[str, Any]) -> GuardResult:
        found: dict[str, str] = {}
        self._walk(record, "", found)
        if not found:
            return GuardResult(True)
        reason = "; ".join(f"field {f!r} holds {c} (not declared)" for f, c in found.items())
        return GuardResult(False, reason, found)

    def _walk(self, record: Mapping[str, Any], prefix: str, found: dict[str, str]) -> None:
        for key, value in record.items():
            name = f"{prefix}{key}"
            if name in self.allowed or value is None:
                continue
            if isinstance(value, Mapping):
                self._walk(value, name + ".", found)
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, bool):
                    continue
                hits = _categories(item, str(key), self.today)
                if hits:
                    found[name] = next(iter(hits))
                    break


def declared_of(contract: Contract) -> dict[str, str | None]:
    """Field path -> the PII category a contract declares (None for non-personal fields)."""
    return {path: spec.pii for path, spec in contract.field_index.items()}


def guard_for(contract: Contract, *, today: date | None = None) -> PiiGuard:
    """The streaming guard of a contract: its declared personal fields are allowed."""
    allowed = {path for path, category in declared_of(contract).items() if category}
    return PiiGuard(allowed=allowed, today=today)
