"""The runtime validator: checks records against a contract, never raising.

``ContractValidator(contract)`` compiles the contract's schema into one pydantic-core
validator (the Rust engine under pydantic), with the per-record quality rules folded in:

- types: ``string``, ``integer``, ``float`` (finite), ``decimal(p,s)`` (at most p digits,
  s after the point), ``boolean``, ``date``, ``timestamp`` (time-zone aware only),
  ``bytes``, ``json`` (anything), ``array<T>``, ``struct`` (its members, recursively);
  JSON-style input is accepted (ISO text for dates and timestamps, text or numbers for
  decimals), and valid records come back with Python values (``datetime``, ``Decimal``);
- ``required`` fields and ``not_null`` rules: present and not null; other fields may be
  absent or null;
- ``accepted_values``, ``range`` (inclusive) and ``regex`` (full match, RE2 as in the
  warehouses: linear in the value's length);
- keys the contract does not declare: failures (``extra="forbid"``, default) or dropped
  (``extra="ignore"``).

Batch-level rules (``unique``, ``row_count``, ``freshness``, ``custom_sql``) are asset
checks, not record checks. Faces, all returning the valid records and the failures:

- ``validate_record(record)`` for streaming (``RecordResult``);
- ``validate_batch(records)`` for a list of dicts and ``validate_table(table)`` for a
  pyarrow table (``BatchResult``; failures carry the record's index).

A failure names the field path (``lines[0].sku``) and what is wrong, never the value
(which may be personal data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError
from pydantic_core import CoreSchema, SchemaValidator
from pydantic_core import core_schema as cs

from meshkit.contracts import quality as q
from meshkit.contracts.model import Contract, FieldSpec
from meshkit.contracts.problem import display_path
from meshkit.contracts.regex import full_matcher
from meshkit.contracts.types import DataType

if TYPE_CHECKING:
    import pyarrow as pa

Extra = Literal["forbid", "ignore"]


@dataclass(frozen=True)
class Failure:
    """Why one record is invalid: its index in the batch, the field path, the message."""

    index: int
    field: str
    message: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "message": self.message,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class RecordResult:
    """One record's outcome: the validated record (None when invalid) and its failures."""

    record: dict[str, Any] | None
    failures: list[Failure]

    @property
    def ok(self) -> bool:
        return self.record is not None


@dataclass
class BatchResult:
    """A batch's outcome: the valid records (in order), their input indices, the failures."""

    valid: list[dict[str, Any]] = field(default_factory=list)
    valid_indices: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed_indices(self) -> list[int]:
        return sorted({f.index for f in self.failures})


@dataclass
class _Rules:
    """The per-record rules on one field path."""

    not_null: bool = False
    accepted: list[Any] | None = None  # None: no accepted_values rule; []: no value passes
    ranges: list[q.Range] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)


class ContractValidator:
    """Validates records against a contract (see the module docstring).

    Example::

        validator = ContractValidator(contract)
        result = validator.validate_batch(records)
        sink(result.valid)
        dead_letters(result.failures)
    """

    def __init__(self, contract: Contract, *, extra: Extra = "forbid") -> None:
        self.contract = contract
        self.extra: Extra = extra
        self._rules = _collect_rules(contract)
        self.record_schema = self._struct(contract.fields, "")
        self._one = SchemaValidator(self.record_schema)
        self._many = SchemaValidator(cs.list_schema(self.record_schema))

    # -- faces ----------------------------------------------------------------------------

    def validate_record(self, record: Any, index: int = 0) -> RecordResult:
        """Validate one record; the failures carry ``index``."""
        try:
            return RecordResult(self._one.validate_python(record), [])
        except ValidationError as exc:
            return RecordResult(None, _failures(exc, index, batch=False))

    def validate_batch(self, records: Sequence[Any]) -> BatchResult:
        """Validate a list of records: the valid ones (in order) and every failure."""
        if not isinstance(records, list):
            records = list(records)
        try:
            valid = self._many.validate_python(records)
        except ValidationError as exc:
            failures = _failures(exc, 0, batch=True)
        else:
            return BatchResult(valid, list(range(len(records))), [])
        bad = {f.index for f in failures}
        indices = [i for i in range(len(records)) if i not in bad]
        valid = self._many.validate_python([records[i] for i in indices])
        return BatchResult(valid, indices, failures)

    def validate_table(self, table: pa.Table) -> BatchResult:
        """Validate a pyarrow table, row by row (indices are row numbers)."""
        return self.validate_batch(table.to_pylist())

    def validate_records(self, records: Iterable[Any]) -> BatchResult:
        """Validate any iterable of records (consumed once)."""
        return self.validate_batch(list(records))

    # -- schema ---------------------------------------------------------------------------

    def _struct(self, fields: Iterable[FieldSpec], prefix: str) -> CoreSchema:
        members: dict[str, cs.TypedDictField] = {}
        for f in fields:
            path = prefix + f.name
            rules = self._rules.get(path, _Rules())
            required = f.required or rules.not_null
            schema = self._type(f.type, f, path, rules)
            if not required:
                schema = cs.nullable_schema(schema)
            members[f.name] = cs.typed_dict_field(schema, required=required)
        return cs.typed_dict_schema(members, extra_behavior=self.extra)

    def _type(self, t: DataType, f: FieldSpec, path: str, rules: _Rules) -> CoreSchema:
        kind = t.kind
        if kind == "array":
            assert t.element is not None
            return cs.list_schema(self._type(t.element, f, path, rules))
        if kind == "struct":
            return self._struct(f.fields or (), path + ".")
        schema: CoreSchema
        # an integer range needs the bounds of the integer schema, so no literal then
        literal = kind in {"string", "boolean"} or (kind == "integer" and not rules.ranges)
        if rules.accepted and literal:
            schema = cs.literal_schema(rules.accepted)
        else:
            schema = self._scalar(t, rules)
        for pattern in rules.patterns:
            schema = _with_pattern(schema, pattern)
        if kind == "string":
            for rule in rules.ranges:
                schema = cs.no_info_after_validator_function(_text_range(rule), schema)
        return schema

    def _scalar(self, t: DataType, rules: _Rules) -> CoreSchema:
        kind = t.kind
        bounds = _bounds(rules.ranges, t)
        schema: CoreSchema
        if kind == "string":
            schema = cs.str_schema()
        elif kind == "integer":
            schema = cs.int_schema(**bounds)
        elif kind == "float":
            schema = cs.float_schema(allow_inf_nan=False, **bounds)
        elif kind == "decimal":
            schema = cs.decimal_schema(
                allow_inf_nan=False, max_digits=t.precision, decimal_places=t.scale, **bounds
            )
        elif kind == "boolean":
            schema = cs.bool_schema()
        elif kind == "date":
            schema = cs.date_schema(**bounds)
        elif kind == "timestamp":
            schema = cs.datetime_schema(tz_constraint="aware", **bounds)
        elif kind == "bytes":
            schema = cs.bytes_schema()
        else:  # json
            schema = cs.any_schema()
        if rules.accepted is not None:
            schema = cs.no_info_after_validator_function(_member_of(rules.accepted), schema)
        return schema


def _collect_rules(contract: Contract) -> dict[str, _Rules]:
    rules: dict[str, _Rules] = {}
    for rule in contract.quality:
        if rule.severity != "error" or not isinstance(rule, q.PER_RECORD_RULES):
            continue
        assert isinstance(rule, q.NotNull | q.AcceptedValues | q.Range | q.Regex)
        r = rules.setdefault(rule.field, _Rules())
        if isinstance(rule, q.NotNull):
            r.not_null = True
        elif isinstance(rule, q.AcceptedValues):
            r.accepted = list(rule.values) if r.accepted is None else [
                v for v in r.accepted if v in rule.values
            ]  # fmt: skip
        elif isinstance(rule, q.Range):
            r.ranges.append(rule)
        else:
            r.patterns.append(rule.pattern)
    return rules


def _bound(value: Any, t: DataType) -> Any:
    if value is None:
        return None
    if t.kind == "date":
        return value if type(value) is date else date.fromisoformat(str(value))
    if t.kind == "timestamp":
        if isinstance(value, datetime):
            return value
        return datetime.fromisoformat(str(value))
    if t.kind == "decimal":
        return Decimal(str(value))
    return value


def _bounds(ranges: list[q.Range], t: DataType) -> dict[str, Any]:
    if t.kind == "string" or not ranges:
        return {}
    lows = [_bound(r.min, t) for r in ranges if r.min is not None]
    highs = [_bound(r.max, t) for r in ranges if r.max is not None]
    out: dict[str, Any] = {}
    if lows:
        out["ge"] = max(lows)
    if highs:
        out["le"] = min(highs)
    return out


def _with_pattern(schema: CoreSchema, pattern: str) -> CoreSchema:
    """``schema`` whose values fully match ``pattern``, in RE2 (``meshkit.contracts.regex``):
    the engine of the warehouses, linear in the value's length whatever the pattern."""
    return cs.no_info_after_validator_function(_full_match(pattern), schema)


def _full_match(pattern: str) -> Callable[[str], str]:
    matches = full_matcher(pattern)

    def check(value: str) -> str:
        if not matches(value):
            raise ValueError(f"does not match the pattern {pattern}")
        return value

    return check


def _text_range(rule: q.Range) -> Callable[[str], str]:
    low, high = rule.min, rule.max

    def check(value: str) -> str:
        if (low is not None and value < str(low)) or (high is not None and value > str(high)):
            raise ValueError(f"is outside the range {low!r}..{high!r}")
        return value

    return check


def _member_of(values: list[Any]) -> Callable[[Any], Any]:
    options = frozenset(values)

    def check(value: Any) -> Any:
        if value not in options:
            raise ValueError("is not one of the accepted values")
        return value

    return check


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "field not declared in the contract",
    "none_required": "must be null",
}


def _failures(exc: ValidationError, base: int, *, batch: bool) -> list[Failure]:
    out: list[Failure] = []
    for e in exc.errors(include_url=False, include_input=False):
        loc = e["loc"]
        index = base
        if batch and loc and isinstance(loc[0], int):
            index, loc = loc[0], loc[1:]
        path = tuple(p for p in loc if isinstance(p, int) or not _is_schema_tag(p))
        kind = e["type"]
        message = _MESSAGES.get(kind) or e["msg"].removeprefix("Value error, ")
        if kind == "string_pattern_mismatch":
            pattern = str((e.get("ctx") or {}).get("pattern", ""))
            message = "does not match the pattern " + pattern.removeprefix("^(?:").removesuffix(
                ")$"
            )
        out.append(Failure(index, display_path(path), message, kind))
    return out


def _is_schema_tag(part: str) -> bool:
    """Validator names pydantic-core mixes into ``loc`` (e.g. ``function-after[check()]``)."""
    return "[" in part and part.endswith("]")
