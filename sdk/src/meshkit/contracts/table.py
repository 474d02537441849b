"""The one table validator: a contract's per-record checks over whole Arrow columns.

``TableValidator(contract)`` checks a table whose columns already have the contract's
Arrow types (``meshkit.contracts.arrow``) and reports, per field path and check, which
rows break it. It makes the checks the record validator (``meshkit.contracts.validator``)
makes of each record, with the same meaning, so both give every row the same verdict on
every field:

- ``required`` fields and ``not_null`` rules: not null (a member of a struct only where
  the struct itself is present);
- array elements: never null (at every level of nested arrays);
- ``float`` values: finite (no NaN, no infinity);
- per-record quality rules of severity ``error``: ``accepted_values``, ``range``
  (inclusive; text compared as text) and ``regex`` (a full match, in RE2).

A rule on a path through an array (``lines.sku``) applies to every element, and a row
breaks it when any of its elements does. The batch I/O manager (``meshkit.batch.validate``),
the ports' micro-batch intake (``meshkit.ports.intake``, with ``rules=False`` over the
published fields) and the streaming columnar path (``meshkit.streaming.columnar``) call it;
single records go through the record validator.

A :class:`TableProblem` names the field path, the check and what was expected, never a
value of the table.

Example::

    validator = TableValidator(contract)
    for problem in validator.problems(table):
        print(problem.field, problem.rule, problem.count, problem.first(5))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.contracts import quality as q
from meshkit.contracts.exporters.published import PublishedField
from meshkit.contracts.model import Contract, FieldSpec
from meshkit.contracts.regex import full_matcher
from meshkit.contracts.types import DataType

Field = FieldSpec | PublishedField
RecordRule = q.NotNull | q.AcceptedValues | q.Range | q.Regex
_Values = Callable[[pa.Array], pa.Array]  # values -> True where a value breaks the check
_ORDERED = frozenset({"integer", "float", "decimal", "date", "timestamp"})


@dataclass(frozen=True)
class TableProblem:
    """Rows of a table that break one check: ``rows`` is True for each of them."""

    field: str
    rule: str
    message: str
    rows: pa.Array

    @property
    def count(self) -> int:
        """How many rows break the check."""
        return int(pc.sum(self.rows).as_py() or 0)

    def first(self, n: int) -> tuple[int, ...]:
        """The indexes (0-based) of the first ``n`` rows that break the check."""
        return tuple(pc.indices_nonzero(self.rows).slice(0, n).to_pylist())


@dataclass(frozen=True)
class _Check:
    path: str
    rule: str
    message: str
    depth: int  # list levels of the field itself to unwrap first (-1: all of them)
    bad: _Values


class TableValidator:
    """A contract's per-record checks over Arrow tables (see the module docstring).

    ``fields`` replaces the contract's fields (e.g. the published fields a port stores);
    ``rules=False`` leaves out the quality rules (nulls, array elements and finite floats
    are still checked).
    """

    def __init__(
        self, contract: Contract, *, fields: Sequence[Field] | None = None, rules: bool = True
    ) -> None:
        self.contract = contract
        self._checks: list[_Check] = []
        kinds: dict[str, str] = {}  # field path -> its innermost kind
        for f in contract.fields if fields is None else fields:
            self._plan(f, f.name, kinds)
        for rule in contract.quality if rules else ():
            if rule.severity != "error" or not isinstance(rule, q.PER_RECORD_RULES):
                continue
            assert isinstance(rule, RecordRule)
            kind = kinds.get(rule.field)
            if kind is None:  # not among the fields checked (e.g. dropped before a port)
                continue
            if isinstance(rule, q.NotNull):
                message = "null where the contract says not_null"
                self._checks.append(_Check(rule.field, _label(rule), message, 0, pc.is_null))
                continue
            value_check = _value_check(rule, kind)
            if value_check is not None:
                bad, message = value_check
                self._checks.append(_Check(rule.field, _label(rule), message, -1, bad))
        self.columns: frozenset[str] = frozenset(c.path.split(".")[0] for c in self._checks)
        """The top-level columns the checks read (a table needs only these)."""
        self.null_only: frozenset[str] = self.columns - {
            c.path.split(".")[0] for c in self._checks if "." in c.path or c.bad is not pc.is_null
            or c.depth != 0
        }  # fmt: skip
        """The columns whose checks look at nulls only: any array of the right length with
        nulls in the same rows stands for them (e.g. booleans: present or null)."""

    # -- public ---------------------------------------------------------------------------

    def problems(self, table: pa.Table) -> list[TableProblem]:
        """Every check some row breaks; empty when the table is valid.

        In order: the checks of every field (nulls, array elements, finite floats) in field
        order, then the quality rules in the contract's order.
        """
        out = []
        for check in self._checks:
            values, rows, parent = values_at(table, check.path, depth=check.depth)
            bad = check.bad(values)
            if parent is not None:
                bad = pc.and_(bad, parent)
            if not pc.any(pc.fill_null(bad, False)).as_py():
                continue
            mask = _row_mask(pc.fill_null(bad, False), rows, table.num_rows)
            out.append(TableProblem(check.path, check.rule, check.message, mask))
        return out

    def invalid_rows(self, table: pa.Table) -> set[int]:
        """The indexes of the rows that break at least one check."""
        out: set[int] = set()
        for problem in self.problems(table):
            out.update(pc.indices_nonzero(problem.rows).to_pylist())
        return out

    # -- plan -----------------------------------------------------------------------------

    def _plan(self, f: Field, path: str, kinds: dict[str, str]) -> None:
        """The checks every value of a field gets (nulls, array elements, finite floats)."""
        add = self._checks.append
        if f.required:
            add(_Check(path, "required", "null in a required field", 0, pc.is_null))
        level, t = 0, _data_type(f)
        while t.element is not None:
            level, t = level + 1, t.element
            add(_Check(path, "element", "null element in an array", level, pc.is_null))
        kinds[path] = t.kind
        if t.kind == "float":
            message = "NaN or infinity where the contract says a finite float"
            add(_Check(path, "finite", message, -1, _not_finite))
        if t.kind == "struct":
            for member in f.fields or ():
                self._plan(member, f"{path}.{member.name}", kinds)


# -- reading values by path ---------------------------------------------------------------


def values_at(
    table: pa.Table, path: str, *, depth: int = -1
) -> tuple[pa.Array, pa.Array | None, pa.Array | None]:
    """``(values, rows, parent_present)`` of a field path (``a.b.c``) in ``table``.

    Arrays on the way are unwrapped: ``rows`` then gives each value's row (None: one
    value per row). ``depth`` is how many list levels of the field itself to unwrap (-1:
    all). ``parent_present`` is True where the struct holding the value is present (None
    for a top-level field or an array element).
    """
    head, *rest = path.split(".")
    array = whole(table.column(head))
    rows: pa.Array | None = None
    parent: pa.Array | None = None
    for part in rest:
        while pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            array, rows = _flatten(array, rows)
        parent = pc.is_valid(array)
        array = pc.struct_field(array, [array.type.get_field_index(part)])
    level = 0
    while (depth < 0 or level < depth) and (
        pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    ):
        array, rows = _flatten(array, rows)
        parent, level = None, level + 1
    return array, rows, parent


def whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one array (no copy when it has a single chunk)."""
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks()


def rule_rows(table: pa.Table, rule: RecordRule) -> pa.Array:
    """True for each row of ``table`` that breaks one per-record rule (of any severity).

    A ``not_null`` rule on a struct member counts only rows where the struct is present;
    a rule through an array counts a row when any of its elements breaks it.
    """
    if isinstance(rule, q.NotNull):
        values, rows, parent = values_at(table, rule.field, depth=0)
        bad = pc.is_null(values)
        if parent is not None:
            bad = pc.and_(bad, parent)
    else:
        values, rows, _ = values_at(table, rule.field)
        check = _value_check(rule, _kind_of(values.type))
        if check is None:
            return pa.repeat(pa.scalar(value=False), table.num_rows)
        bad = check[0](values)
    return _row_mask(pc.fill_null(bad, False), rows, table.num_rows)


def _flatten(array: pa.Array, rows: pa.Array | None) -> tuple[pa.Array, pa.Array]:
    parents = pc.list_parent_indices(array)
    return pc.list_flatten(array), parents if rows is None else rows.take(parents)


def _row_mask(bad: pa.Array, rows: pa.Array | None, n: int) -> pa.Array:
    if rows is None:
        return bad
    hit = pc.filter(rows, bad)
    numbers = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n)), 1)
    return pc.is_in(numbers, value_set=pc.unique(hit).cast(pa.int64()))


# -- value checks ---------------------------------------------------------------------------


def _label(rule: RecordRule) -> str:
    return rule.name or rule.kind


def _data_type(f: Field) -> DataType:
    return f.data_type if isinstance(f, FieldSpec) else f.type


def _kind_of(typ: pa.DataType) -> str:
    """The contract kind an Arrow type stands for, as far as the value checks care."""
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "string"
    if pa.types.is_integer(typ):
        return "integer"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_decimal(typ):
        return "decimal"
    if pa.types.is_date(typ):
        return "date"
    if pa.types.is_timestamp(typ):
        return "timestamp"
    if pa.types.is_boolean(typ):
        return "boolean"
    return "other"


def _not_finite(values: pa.Array) -> pa.Array:
    return pc.invert(pc.is_finite(values))


def _value_check(rule: RecordRule, kind: str) -> tuple[_Values, str] | None:
    """The check of one rule on values of ``kind``, and its message (None: not a value check).

    The kinds follow the record validator: accepted values on text, numbers, booleans,
    dates and timestamps; ranges on ordered kinds and text; patterns on text.
    """
    if isinstance(rule, q.AcceptedValues) and kind in _ORDERED | {"string", "boolean"}:
        allowed = list(rule.values)
        shown = ", ".join(str(v) for v in allowed)
        return _accepted(allowed), f"value not in [{shown}]"
    if isinstance(rule, q.Range) and (kind in _ORDERED or kind == "string"):
        parts = [f">= {rule.min}"] if rule.min is not None else []
        parts += [f"<= {rule.max}"] if rule.max is not None else []
        return _range(rule, kind), f"value out of range (expected {' and '.join(parts)})"
    if isinstance(rule, q.Regex) and kind == "string":
        return _regex(rule.pattern), f"value does not match /{rule.pattern}/"
    return None


def _accepted(allowed: list[Any]) -> _Values:
    def bad(values: pa.Array) -> pa.Array:
        found = pc.is_in(values, value_set=_value_set(allowed, values.type))
        return pc.and_(pc.invert(found), pc.is_valid(values))  # null is no value to check

    return bad


def _value_set(values: list[Any], typ: pa.DataType) -> pa.Array:
    kept = []
    for v in values:
        try:
            kept.append(pa.scalar(v, typ).as_py())
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            continue  # not a value of the column's type: no value can equal it
    return pa.array(kept, typ)


def _range(rule: q.Range, kind: str) -> _Values:
    low, high = rule.min, rule.max

    def bad(values: pa.Array) -> pa.Array:
        out = None
        if low is not None:
            out = pc.less(values, _bound(low, kind, values.type))
        if high is not None:
            above = pc.greater(values, _bound(high, kind, values.type))
            out = above if out is None else pc.or_(out, above)
        return out if out is not None else pa.repeat(pa.scalar(value=False), len(values))

    return bad


def _bound(value: Any, kind: str, typ: pa.DataType) -> pa.Scalar:
    """A rule's bound as a scalar comparable with values of ``typ`` (as the record validator
    reads it: text for text, ISO text for dates and timestamps, exact decimals)."""
    if kind == "string":
        return pa.scalar(str(value), typ)
    if kind == "date":
        day = value if type(value) is date else date.fromisoformat(str(value))
        return pa.scalar(day, typ)
    if kind == "timestamp":
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return pa.scalar(at).cast(typ)
    if kind == "decimal" or isinstance(value, Decimal):
        return pa.scalar(Decimal(str(value)))
    return pa.scalar(value)


def _regex(pattern: str) -> _Values:
    def bad(values: pa.Array) -> pa.Array:
        try:
            matched = pc.match_substring_regex(values, f"^(?:{pattern})$")
        except pa.ArrowInvalid:  # Arrow's RE2 build refused it: the same engine, row by row
            matches = full_matcher(pattern)
            matched = pa.array(
                [None if v is None else matches(v) for v in values.to_pylist()], pa.bool_()
            )
        return pc.invert(matched)

    return bad
