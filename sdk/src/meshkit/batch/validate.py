"""Validation of a whole table against its contract, vectorised (Arrow compute).

:func:`conform` is what the I/O manager runs before anything is written: it checks the
columns (none missing, none undeclared), casts each one to the contract's type where the
cast is lossless, runs the contract's table validator (``meshkit.contracts.table``:
required fields, array elements, finite floats and the per-record quality rules of
severity ``error``, the same verdicts as the record validator), and checks the primary
key (present and unique) and, for a partitioned asset, that every row lies in the
partition being written. It returns the table cast to the contract's schema, or raises
:class:`ContractViolationError` listing every problem with its column, the number of rows, the
first row indexes (0-based): never a value of the table (a field not declared personal may
still hold personal data).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from meshkit.contracts import AcceptedValues, Contract, FieldSpec, NotNull, Range, Regex
from meshkit.contracts.arrow import arrow_field
from meshkit.contracts.sql import quote_duckdb
from meshkit.contracts.table import TableValidator, rule_rows, values_at, whole
from meshkit.errors import MeshkitError

MAX_ROWS_SHOWN = 5
_ROW = "__meshkit_row"
_local = threading.local()


@dataclass(frozen=True)
class Violation:
    """One way a table breaks its contract."""

    column: str | None
    rule: str
    message: str
    count: int = 0
    rows: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        text = f"{where} [{self.rule}]: {self.message}"
        if self.count:
            shown = ", ".join(str(r) for r in self.rows)
            more = ", ..." if self.count > len(self.rows) else ""
            noun = "row" if self.count == 1 else "rows"
            text += f" — {self.count} {noun} (index {shown}{more})"
        return text


class ContractViolationError(MeshkitError):
    """A table that breaks its contract; nothing of it was written."""

    def __init__(self, address: str, violations: Sequence[Violation]) -> None:
        self.address = address
        self.violations = list(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(
            f"{address}: the table breaks its contract, so nothing was written "
            f"({len(self.violations)} problem{'s' if len(self.violations) != 1 else ''}):\n"
            f"{lines}"
        )

    @property
    def columns(self) -> list[str]:
        """The columns named by the violations, in order, once each."""
        return list(dict.fromkeys(v.column for v in self.violations if v.column))


@dataclass(frozen=True)
class PartitionWindow:
    """Rows of a partition: ``start <= field < end``."""

    field: str
    start: datetime
    end: datetime


def conform(
    contract: Contract, table: pa.Table, *, partition: PartitionWindow | None = None
) -> pa.Table:
    """The table cast to the contract's schema; ``ContractViolationError`` lists every problem."""
    problems: list[Violation] = []
    declared = {f.name for f in contract.fields}
    for name in table.column_names:
        if name not in declared:
            problems.append(
                Violation(name, "undeclared", "not in the contract; declare it or leave it out")
            )
    columns: list[pa.Array] = []
    fields: list[pa.Field] = []
    for spec in contract.fields:
        target = arrow_field(spec, strict=False)
        if spec.name not in table.column_names:
            if spec.required:
                problems.append(Violation(spec.name, "missing", "the required column is missing"))
                continue
            column: pa.Array = pa.nulls(table.num_rows, target.type)
        else:
            cast = _cast(spec, whole(table.column(spec.name)), target.type)
            if isinstance(cast, Violation):
                problems.append(cast)
                continue
            column = cast
        columns.append(column)
        fields.append(target)
    if problems:
        raise ContractViolationError(contract.address, problems)
    out = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    problems += [
        Violation(p.field, p.rule, p.message, p.count, p.first(MAX_ROWS_SHOWN))
        for p in TableValidator(contract).problems(out)
    ]
    problems += _primary_key(contract, out)
    if partition is not None:
        problems += _partition(out, partition)
    if problems:
        raise ContractViolationError(contract.address, problems)
    return out


# -- types -------------------------------------------------------------------------------

_FAMILIES: tuple[tuple[str, Callable[[pa.DataType], bool]], ...] = (
    ("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)),
    ("number", lambda t: pa.types.is_integer(t) or pa.types.is_floating(t)
        or pa.types.is_decimal(t)),
    ("boolean", pa.types.is_boolean),
    ("date", pa.types.is_date),
    ("timestamp", pa.types.is_timestamp),
    ("bytes", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)),
    ("list", lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)),
    ("struct", pa.types.is_struct),
)  # fmt: skip


def _family(t: pa.DataType) -> str | None:
    return next((name for name, test in _FAMILIES if test(t)), None)


def _cast(spec: FieldSpec, array: pa.Array, target: pa.DataType) -> pa.Array | Violation:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if array.type == target:
        return array
    source = _family(array.type)
    wanted = _family(target)
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if source != wanted and not (source == "text" and spec.data_type.kind == "json"):
        return Violation(
            spec.name, "type", f"has type {array.type}, the contract says {spec.data_type}"
        )
    if source == "number" and pa.types.is_floating(array.type) and not pa.types.is_floating(target):
        return Violation(
            spec.name,
            "type",
            f"has type {array.type}, the contract says {spec.data_type}: "
            "casting floats would round; cast them in the asset if that is intended",
        )
    if source == "timestamp" and array.type.tz is None:
        return Violation(
            spec.name,
            "type",
            f"has type {array.type} without a time zone, the contract says timestamp "
            "(time-zone aware); attach one in the asset (e.g. UTC)",
        )
    try:
        if pa.types.is_integer(array.type) and pa.types.is_decimal(target):
            array = array.cast(pa.decimal128(38, target.scale))  # room for any int64
        return array.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        return Violation(
            spec.name, "type", f"cannot be cast from {array.type} to {spec.data_type}: {exc}"
        )


# -- table-level checks ----------------------------------------------------------------


def _violation(path: str, rule: str, message: str, bad: pa.Array) -> Violation | None:
    bad = pc.fill_null(bad, False)
    count = pc.sum(bad).as_py() or 0
    if not count:
        return None
    rows = pc.indices_nonzero(bad).slice(0, MAX_ROWS_SHOWN)
    return Violation(path, rule, message, count, tuple(rows.to_pylist()))


def _primary_key(contract: Contract, table: pa.Table) -> list[Violation]:
    keys = [k for k in contract.primary_key if "." not in k]
    if not keys or table.num_rows == 0:
        return []
    # the common case, no duplicates, costs one distinct count; details only on failure
    if _distinct_keys(table, keys) == table.num_rows:
        return []
    indexed = table.select(keys).append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
    groups = indexed.group_by(keys, use_threads=False).aggregate([(_ROW, "count"), (_ROW, "max")])
    dup = groups.filter(pc.greater(groups[f"{_ROW}_count"], 1))
    if not dup.num_rows:
        return []
    extra = pc.sum(pc.subtract(dup[f"{_ROW}_count"], 1)).as_py()
    firsts = sorted(dup[f"{_ROW}_max"].to_pylist())[:MAX_ROWS_SHOWN]
    return [
        Violation(
            ", ".join(keys),
            "primary key",
            f"{dup.num_rows} key value(s) appear more than once",
            int(extra),
            tuple(firsts),
        )
    ]


_DISTINCT_IN_DUCKDB = (
    pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_date,
    pa.types.is_timestamp, pa.types.is_decimal, pa.types.is_boolean, pa.types.is_binary,
)  # fmt: skip


def _duckdb() -> duckdb.DuckDBPyConnection:
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(":memory:")
    return con


def _distinct_keys(table: pa.Table, keys: list[str]) -> int:
    """How many distinct key values (nulls count as one value, as in a ``GROUP BY``).

    DuckDB's parallel hash aggregate over the Arrow columns (no copy) counts a million
    text keys in about half the time of Arrow's ``group_by``; key types DuckDB might
    compare differently (floats: NaN, -0.0) take Arrow's path.
    """
    selected = table.select(keys)
    if not all(any(test(f.type) for test in _DISTINCT_IN_DUCKDB) for f in selected.schema):
        return int(selected.group_by(keys, use_threads=True).aggregate([]).num_rows)
    name = f"meshkit_keys_{uuid.uuid4().hex[:8]}"
    columns = ", ".join(quote_duckdb(k) for k in keys)
    con = _duckdb().cursor()
    try:
        con.register(name, selected)
        rows = con.execute(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT {columns} FROM {quote_duckdb(name)})"
        )
        return int(rows.fetchall()[0][0])
    finally:
        con.close()


def _partition(table: pa.Table, window: PartitionWindow) -> list[Violation]:
    column, _, _ = values_at(table, window.field)
    start = pa.scalar(window.start).cast(column.type)
    end = pa.scalar(window.end).cast(column.type)
    outside = pc.or_(pc.less(column, start), pc.greater_equal(column, end))
    outside = pc.or_kleene(outside, pc.is_null(column))
    v = _violation(
        window.field,
        "partition",
        f"outside the partition being written [{window.start.isoformat()}, "
        f"{window.end.isoformat()})",
        outside,
    )
    return [v] if v else []


# -- rules a port cannot evaluate, counted before the transform -----------------------------


def failing_rows(table: pa.Table, rule: NotNull | AcceptedValues | Range | Regex) -> int:
    """How many rows of a conformed table break a per-record rule (of any severity)."""
    return int(pc.sum(rule_rows(table, rule)).as_py() or 0)


def duplicates(table: pa.Table, fields: Sequence[str]) -> tuple[int, int]:
    """``(values, rows)``: key values of ``fields`` held by more than one row, and those rows.

    Nulls count as one value, as in a SQL ``GROUP BY``.
    """
    names = [f"k{i}" for i in range(len(fields))]
    keys = pa.Table.from_arrays([values_at(table, f)[0] for f in fields], names=names)
    groups = keys.group_by(names, use_threads=False).aggregate([([], "count_all")])
    counts = groups["count_all"]
    dup = pc.filter(counts, pc.greater(counts, 1))
    return len(dup), int(pc.sum(dup).as_py() or 0)
