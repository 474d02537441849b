"""The record logic of a dataflow, as plain functions over batches (no engine types).

Each step takes a batch and returns a ``StepResult``: the records that passed, the
``Failure`` of each one that did not (reason, step, source position, payload), and how
many were skipped on purpose (filtered out). Bytewax wires them in
``meshkit.streaming.operators``; any other engine could call them the same way.

- ``MapStep(contract)``: a change event to a product change by the contract's mapping:
  projection, renaming, casting (Debezium values to the contract's types) and the row
  filter. A delete (or an update whose new row no longer passes the filter) becomes a
  delete of the product key.
- ``ValidateStep(contract)``: the contract's runtime validator (types, required fields,
  the primary key, per-record quality rules of severity ``error``), shared with batch.
- ``MaskStep(masker)``: the contract's privacy transforms (``meshkit.privacy.Masker``).
- ``GuardStep(contract)``: quarantines a record when the scanner finds personal data in
  a text field the contract does not declare as personal (the whole value, or inside
  free text: ``meshkit.privacy.detectors.find_all``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from meshkit.contracts import Contract, ContractValidator, FieldSpec, Mapping, parse_filter
from meshkit.contracts import Failure as ContractFailure
from meshkit.privacy import Masker, TransformError
from meshkit.privacy.detectors import find_all
from meshkit.streaming.cast import Cast, CastError, caster
from meshkit.streaming.records import ChangeRecord, Failure, ProductChange

T = TypeVar("T")
UNAVAILABLE = "__debezium_unavailable_value"
UNAVAILABLE_BYTES = "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="
"""Debezium's placeholder for an unchanged TOAST value as it reaches a ``bytea`` column
(base64 of :data:`UNAVAILABLE`); text, json and other columns carry :data:`UNAVAILABLE`
itself, arrays ``[UNAVAILABLE]``."""


def is_unavailable(value: object) -> bool:
    """Whether a source value is Debezium's unchanged-TOAST placeholder, in any form."""
    if type(value) is str:
        return value == UNAVAILABLE or value == UNAVAILABLE_BYTES  # noqa: PLR1714
    return type(value) is list and len(value) == 1 and value[0] == UNAVAILABLE


MAX_VALUE_BYTES = 1 << 20
"""Text and bytes values longer than this (1 MiB) are refused as oversized."""


@dataclass
class StepResult(Generic[T]):
    """What a step made of a batch: passed records, failures, and records skipped on purpose."""

    oks: list[T]
    errs: list[Failure] = field(default_factory=list)
    skipped: int = 0


class MapStep:
    """Change events to product changes by the contract's mapping (see the module docstring)."""

    name = "map"

    def __init__(self, contract: Contract, *, max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.contract = contract
        mapping = contract.mapping or Mapping()
        self.filter = parse_filter(mapping.filter) if mapping.filter else None
        self.max_value_bytes = max_value_bytes
        self.plan: list[tuple[str, str, Cast]] = []
        for f in contract.fields:
            m = mapping.fields.get(f.name)
            cast = caster(f.data_type, f.fields)
            if m is not None and m.cast is not None and m.cast != f.data_type:
                first, then = caster(m.cast, f.fields), cast
                cast = _chain(first, then)
            self.plan.append((f.name, mapping.source_of(f.name), cast))
        self.types = {f.name: str(f.data_type) for f in contract.fields}
        self.key_fields = tuple(contract.primary_key)
        by_name = {name: (src, cast) for name, src, cast in self.plan}
        self.key_plan = [(k, *by_name[k]) for k in self.key_fields]

    def __call__(self, records: Iterable[ChangeRecord]) -> StepResult[ProductChange]:
        out: StepResult[ProductChange] = StepResult([])
        oks, errs = out.oks, out.errs
        keep = self.filter
        for r in records:
            try:
                if r.op == "d":
                    oks.append(self._delete(r, r.before or r.key or {}))
                    continue
                if r.op == "t":
                    errs.append(
                        Failure(
                            self.name,
                            "a truncate event is not applied to a product "
                            "(re-snapshot the table instead)",
                            r.source,
                            None,
                        )
                    )
                    continue
                row = r.after
                assert row is not None
                if keep is not None and not keep(row):
                    if r.op == "u":  # the row left the product
                        oks.append(self._delete(r, row))
                    else:
                        out.skipped += 1
                    continue
                record = self._record(row)
                key = tuple(record[k] for k in self.key_fields)
                oks.append(ProductChange("upsert", key, record, r.position, r.source, r.ts_ms))
            except CastError as exc:
                name = exc.args[1] if len(exc.args) > 1 else None
                errs.append(Failure(self.name, str(exc.args[0]), r.source, r.row, name))
        return out

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        limit = self.max_value_bytes
        for name, src, cast in self.plan:
            v = row.get(src)
            if v is None:
                record[name] = None
                continue
            if is_unavailable(v):
                raise CastError(
                    f"field {name!r}: source column {src!r} holds an unchanged TOAST value that "
                    "the event does not carry (set REPLICA IDENTITY FULL on the table)",
                    name,
                )
            if isinstance(v, str | bytes) and len(v) > limit:
                raise CastError(
                    f"field {name!r}: oversized value ({len(v):,} > {limit:,} bytes)", name
                )
            try:
                record[name] = cast(v)
            except CastError as exc:
                raise CastError(
                    f"field {name!r} (column {src!r}, type {self.types[name]}): {exc}", name
                ) from None
        return record

    def _delete(self, r: ChangeRecord, row: dict[str, Any]) -> ProductChange:
        key = []
        for name, src, cast in self.key_plan:
            v = row.get(src)
            if v is None and r.key is not None:
                v = r.key.get(src)
            if v is None:
                raise CastError(f"a delete without the key column {src!r}", name)
            try:
                key.append(cast(v))
            except CastError as exc:
                raise CastError(
                    f"key field {name!r} (column {src!r}, type {self.types[name]}): {exc}", name
                ) from None
        return ProductChange("delete", tuple(key), None, r.position, r.source, r.ts_ms)


def _chain(first: Cast, then: Cast) -> Cast:
    return lambda v: then(first(v))


class ValidateStep:
    """The contract's record checks (``meshkit.contracts.ContractValidator``), per batch.

    Types, required fields (the primary key included), struct members and the per-record
    quality rules of severity ``error`` — the same checks the batch path runs. Deletes
    carry no record and pass. A failure's reason names every broken rule by field path.
    """

    name = "validate"

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        key = [k for k in contract.primary_key if not _required(contract, k)]
        self.validator = ContractValidator(with_required(contract, key) if key else contract)

    def __call__(self, changes: Iterable[ProductChange]) -> StepResult[ProductChange]:
        out: StepResult[ProductChange] = StepResult([])
        changes = list(changes)
        upserts = [c for c in changes if c.record is not None]
        if not upserts:
            out.oks.extend(changes)
            return out
        result = self.validator.validate_batch([c.record for c in upserts])
        if not result.failures:
            valid = iter(result.valid)
            out.oks.extend(c if c.record is None else c.with_record(next(valid)) for c in changes)
            return out
        records = dict(zip(result.valid_indices, result.valid, strict=True))
        by_index: dict[int, list[ContractFailure]] = {}
        for f in result.failures:
            by_index.setdefault(f.index, []).append(f)
        i = 0
        for c in changes:
            if c.record is None:
                out.oks.append(c)
                continue
            if i in records:
                out.oks.append(c.with_record(records[i]))
            else:
                failures = by_index[i]
                reason = "; ".join(_reason(c.record, f) for f in failures)
                out.errs.append(Failure(self.name, reason, c.source, c.record, failures[0].field))
            i += 1
        return out


def _required(contract: Contract, name: str) -> bool:
    return any(f.name == name and f.required for f in contract.fields)


def with_required(contract: Contract, names: list[str]) -> Contract:
    """``contract`` with its key fields required (a product record always has its key)."""
    fields = [
        f.model_copy(update={"required": True}) if f.name in names else f for f in contract.fields
    ]
    return contract.model_copy(update={"fields": type(contract.fields)(fields)})


def _reason(record: dict[str, Any], failure: ContractFailure) -> str:
    """``field 'a.b': message``, saying "required, but null" for a null where one is needed."""
    message = failure.message
    if failure.kind.endswith("_type") and _get(record, failure.field) is None:
        message = "is required, but null"
    return f"field {failure.field!r}: {message}"


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in re.split(r"[.\[\]]+", path):
        if not part:
            continue
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class MaskStep:
    """The contract's privacy transforms; a value the transform cannot take is a failure."""

    name = "mask"

    def __init__(self, masker: Masker) -> None:
        self.masker = masker

    def __call__(self, changes: Iterable[ProductChange]) -> StepResult[ProductChange]:
        out: StepResult[ProductChange] = StepResult([])
        oks, errs = out.oks, out.errs
        mask = self.masker.mask_record
        for c in changes:
            if c.record is None:
                oks.append(c)
                continue
            try:
                oks.append(c.with_record(mask(c.record)))
            except TransformError as exc:
                errs.append(Failure(self.name, str(exc), c.source, c.record, exc.field))
        return out


class GuardStep:
    """Quarantine records with undeclared personal data in their text fields.

    ``fields``: the fields checked (default: every top-level text field the contract does
    not declare as personal data). Each value is checked whole, then inside, so an e-mail
    address or a phone number inside a comment is found too.

    The scanner's verdict on a value of a field is remembered (up to ``MEMO_SIZE``
    values, for the current day: a date's plausibility as a birth date depends on today),
    so the codes and categories that recur in every batch are scanned once.
    """

    name = "pii_guard"
    MEMO_SIZE = 100_000

    def __init__(self, contract: Contract, *, fields: Sequence[str] | None = None) -> None:
        if fields is None:
            fields = [f.name for f in contract.fields if _free_text(f)]
        self.fields = list(fields)
        self._memo: dict[tuple[str, str], str | None] = {}
        self._day = date.today()

    def _detect(self, text: str, name: str) -> str | None:
        """The category the scanner finds in ``text`` of field ``name`` (remembered)."""
        key = (text, name)
        try:
            return self._memo[key]
        except KeyError:
            pass
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()
        hits = find_all(text, name)
        found = self._memo[key] = hits[0].category if hits else None
        return found

    def __call__(self, changes: Iterable[ProductChange]) -> StepResult[ProductChange]:
        out: StepResult[ProductChange] = StepResult([])
        self._today()
        check = self._check
        for c in changes:
            found = check(c.record) if c.record is not None else None
            if found is None:
                out.oks.append(c)
            else:
                name, category = found
                reason = f"field {name!r} holds personal data ({category}) it does not declare"
                out.errs.append(Failure(self.name, reason, c.source, c.record, name))
        return out

    def check(self, record: dict[str, Any]) -> tuple[str, str] | None:
        """(field, category) of the first undeclared personal data found, or None."""
        self._today()
        return self._check(record)

    def _today(self) -> None:
        if date.today() != self._day:
            self._memo.clear()
            self._day = date.today()

    def _check(self, record: dict[str, Any]) -> tuple[str, str] | None:
        scan = self._detect
        for name in self.fields:
            value = record.get(name)
            if not isinstance(value, str) or len(value) < 5:
                continue
            hit = scan(value, name)
            if hit is not None:
                return name, hit
        return None


def _free_text(f: FieldSpec) -> bool:
    return f.data_type.kind == "string" and f.pii is None
