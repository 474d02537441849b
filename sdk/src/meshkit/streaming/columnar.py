"""The columnar path of a CDC batch: one poll's change events as columns, not records.

``ColumnarPath`` runs the same parse → map → validate → mask as the record steps
(``meshkit.streaming.steps``), but over a whole poll at once, column by column:

1. **parse**: every value of the poll is decoded with orjson in one pass; the envelope
   fields (``op``, ``after``, ``before``, ``source``) become lists, checked with set
   operations over the whole batch instead of per-record branches;
2. **map**: each product field is one list read from the ``after`` images, cast with the
   field's cast over the list (a text column that already holds text is taken as is); the
   TOAST marker and oversized values are looked for per column;
3. **validate**: the columns the contract's checks read become Arrow arrays of the
   contract's types, and the contract's table validator (``meshkit.contracts.table``,
   with the key fields required, as the record steps do) checks them: the same verdicts
   as the record validator, per row and field; a value that does not convert to its
   Arrow type flags its row;
4. **mask**: large polls as an Arrow table through ``Masker.mask_table`` (vectorised;
   tokens in one query; the arrays of step 3 are reused), small ones record by record
   (``mask_record``: the same values).

Only records that pass every column check come out of this path. Every other message
(tombstones, deletes, truncates, invalid JSON, filtered rows, a value that does not
cast, a record a check flags, a value the masker refuses) goes through the record path
(``Pipeline``'s steps) as before, which says exactly why it failed; its outcome is put
back at the message's place in the batch, so the order of changes per key is kept and
dead letters carry the same reasons as ever. The columnar path is at least as strict as
the record validator: a record it flags that the validator accepts (an integer beyond
64 bits, say) simply takes the record path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any

import orjson
import pyarrow as pa

from meshkit.contracts import Contract, FieldSpec
from meshkit.contracts.arrow import arrow_field, arrow_type
from meshkit.contracts.table import TableValidator
from meshkit.contracts.types import DataType
from meshkit.privacy import Masker, TransformError
from meshkit.streaming.cast import Cast, CastError, caster
from meshkit.streaming.records import Failure, ProductChange, RawMessage, SourcePosition
from meshkit.streaming.steps import (
    UNAVAILABLE,
    UNAVAILABLE_BYTES,
    GuardStep,
    MapStep,
    is_unavailable,
    with_required,
)

MASK_TABLE_MIN_ROWS = 2000
"""Below this many records a poll is masked record by record: ``mask_table`` tokenizes in
one DuckDB query whose fixed cost (~1 ms) only pays off for large polls."""

_STRING = caster(DataType("string"))
_DICT = frozenset({dict})
_DICT_OR_NONE = frozenset({dict, type(None)})
_TEXT = frozenset({str, type(None)})
_UPSERTS = frozenset({"c", "r", "u"})
_BAD = object()  # a value that is not JSON
_get: Callable[[Any, str], Any] = dict.get  # mapped over a column of dicts


class ColumnarPath:
    """A contract's parse → map → validate → mask over whole polls (module docstring)."""

    def __init__(
        self, contract: Contract, masker: Masker, map_step: MapStep, guard: GuardStep | None
    ) -> None:
        self.masker = masker
        self.guard = guard
        self.filter = map_step.filter
        self.limit = map_step.max_value_bytes
        specs = {f.name: f for f in contract.fields}
        self.plan: list[tuple[str, str, Cast, str]] = [
            (name, src, cast, specs[name].data_type.kind) for name, src, cast in map_step.plan
        ]
        names = [name for name, *_ in self.plan]
        self.key_index = [names.index(k) for k in contract.primary_key]
        # Whole-column casts for text decimals and timestamps (fields the mapping does not
        # cast first); None from one of them: the column takes the per-value cast.
        mapping = contract.mapping
        self.fast: dict[str, Callable[[list[Any], set[type]], list[Any] | None]] = {}
        for f in contract.fields:
            m = mapping.fields.get(f.name) if mapping is not None else None
            if m is not None and m.cast is not None and m.cast != f.data_type:
                continue
            if f.data_type.kind == "decimal":
                self.fast[f.name] = _decimals(f.data_type)
            elif f.data_type.kind == "timestamp":
                self.fast[f.name] = _timestamps
        keys = list(contract.primary_key)
        self.validator = TableValidator(with_required(contract, keys) if keys else contract)
        self.check_index = [i for i, n in enumerate(names) if n in self.validator.columns]
        self.check_types = [
            arrow_field(specs[names[i]], strict=False).type for i in self.check_index
        ]
        null_only = self.validator.null_only | {
            f.name for f in contract.fields if f.data_type.kind == "json"
        }  # a json field's checks look at nulls only
        self.presence_index = {i for i in self.check_index if names[i] in null_only}
        # Masking: the top-level fields the masker changes, and what mask_table needs.
        plans = masker.plans.values()
        touched = {p.field.split(".")[0] for p in plans}
        needed = touched | {p.subject.split(".")[0] for p in plans if p.subject}
        dropped = {p.field for p in plans if p.kind == "drop"}
        self.out_names = [n for n in names if n not in dropped]
        self.mask_index = [names.index(n) for n in names if n in needed]
        types = [_arrow_type(specs[names[i]]) for i in self.mask_index]
        known = [t for t in types if t is not None]
        self.mask_types: list[pa.DataType] | None = known if len(known) == len(types) else None
        self.touched = touched
        # pyarrow imports pandas on its first conversion of Python values (most of a second):
        # let that happen while the flow is built, not in the first poll's latency.
        pa.array([None], pa.string())

    def __call__(
        self,
        messages: Sequence[RawMessage],
        record_path: Callable[[Sequence[RawMessage]], tuple[list[Any], int]],
    ) -> tuple[list[ProductChange], list[Failure], int]:
        """(changes, failures, skipped) of a poll, in the order of its messages.

        ``record_path(messages)`` runs the record steps over the messages this path does
        not take and returns their outcomes (changes and failures) and skipped count.
        """
        n = len(messages)
        rows, columns, positions, ts = self._parse(messages)
        if rows and self.filter is not None:
            keep = self.filter
            flagged = {j for j, a in enumerate(columns) if not keep(a)}
            rows, columns, positions, ts = _drop(flagged, rows, columns, positions, ts)
        cols: list[list[Any]] = []
        arrays: dict[str, pa.Array] = {}
        if rows:
            cols, flagged = self._map(columns)
            invalid, arrays = self._validate(cols)
            flagged |= invalid
            if flagged:
                rows, positions, ts, *cols = _drop(flagged, rows, positions, ts, *cols)
                keep = pa.array([j not in flagged for j in range(len(columns))], pa.bool_())
                arrays = {n: a.filter(keep) for n, a in arrays.items()}
        records: list[dict[str, Any]] = []
        keys: list[tuple[Any, ...]] = []
        if rows:
            rows, records, keys, positions, ts = self._mask(rows, cols, positions, ts, arrays)
        sources = [messages[i].source for i in rows]
        changes = list(map(ProductChange, repeat("upsert"), keys, records, positions, sources, ts))
        failures: list[Failure] = []
        if self.guard is not None and changes:
            guarded = self.guard(changes)
            changes, failures = guarded.oks, guarded.errs
        if len(rows) == n and not failures:
            return changes, [], 0
        if len({m.source for m in messages}) != n:
            # Outcomes find their place by source position; a batch that repeats one (not
            # a Kafka poll: made by hand) takes the record path as a whole.
            outcomes, skipped = record_path(messages)
            return (
                [o for o in outcomes if type(o) is ProductChange],
                [o for o in outcomes if type(o) is Failure],
                skipped,
            )
        taken = set(rows)
        rest = [m for i, m in enumerate(messages) if i not in taken]
        outcomes, skipped = record_path(rest) if rest else ([], 0)
        at: dict[SourcePosition | None, Any] = {c.source: c for c in changes}
        at.update((f.source, f) for f in failures)
        at.update((o.source, o) for o in outcomes)
        ordered = [at[m.source] for m in messages if m.source in at]
        return (
            [o for o in ordered if type(o) is ProductChange],
            [o for o in ordered if type(o) is Failure],
            skipped,
        )

    # -- parse ------------------------------------------------------------------------------

    def _parse(
        self, messages: Sequence[RawMessage]
    ) -> tuple[list[int], list[dict[str, Any]], list[int], list[int | None]]:
        """(rows, after images, positions, commit times) of the plain upsert events."""
        values: list[Any] = [m.value for m in messages]
        try:
            events: list[Any] = list(map(orjson.loads, values))
        except (orjson.JSONDecodeError, TypeError):  # a tombstone or invalid JSON
            events = [_loads(v) for v in values]
        rows = list(range(len(events)))
        if set(map(type, events)) != _DICT:
            rows = [i for i in rows if type(events[i]) is dict]
            events = [events[i] for i in rows]
        get = _get
        ops = list(map(get, events, repeat("op")))
        afters = list(map(get, events, repeat("after")))
        befores = list(map(get, events, repeat("before")))
        sources = list(map(get, events, repeat("source")))
        if not (
            set(ops) <= _UPSERTS
            and set(map(type, afters)) == _DICT
            and set(map(type, befores)) <= _DICT_OR_NONE
            and set(map(type, sources)) == _DICT
        ):
            flagged = {
                j
                for j in range(len(rows))
                if ops[j] not in _UPSERTS
                or type(afters[j]) is not dict
                or type(befores[j]) not in _DICT_OR_NONE
                or type(sources[j]) is not dict
            }
            rows, events, afters, sources = _drop(flagged, rows, events, afters, sources)
        lsns = list(map(get, sources, repeat("lsn")))
        if set(map(type, lsns)) == {int} and min(lsns, default=0) >= 0:
            positions = lsns
        else:  # source.lsn when it is a position, else the Kafka offset
            positions = [
                lsn if type(lsn) is int and lsn >= 0 else messages[i].source.offset
                for i, lsn in zip(rows, lsns, strict=True)
            ]
        commits = list(map(get, sources, repeat("ts_ms")))
        ts: list[int | None]
        if set(map(type, commits)) == {int}:
            ts = commits
        else:  # the source's commit time, else the event's time
            ts = [
                c if type(c) is int else (t if type(t := get(e, "ts_ms")) is int else None)
                for c, e in zip(commits, events, strict=True)
            ]
        return rows, afters, positions, ts

    # -- map --------------------------------------------------------------------------------

    def _map(self, afters: list[dict[str, Any]]) -> tuple[list[list[Any]], set[int]]:
        """The cast columns, and the rows the record path must take (cast errors...)."""
        flagged: set[int] = set()
        cols = []
        get, limit = _get, self.limit
        for _name, src, cast, _kind in self.plan:
            col = list(map(get, afters, repeat(src)))
            types = set(map(type, col))
            if UNAVAILABLE in col or UNAVAILABLE_BYTES in col or [UNAVAILABLE] in col:
                flagged.update(j for j, v in enumerate(col) if is_unavailable(v))
            if str in types or bytes in types:
                if types <= _TEXT:
                    if max(map(len, filter(None, col)), default=0) > limit:
                        flagged.update(j for j, v in enumerate(col) if v and len(v) > limit)
                else:
                    flagged.update(
                        j for j, v in enumerate(col) if type(v) in (str, bytes) and len(v) > limit
                    )
            if cast is _STRING and types <= _TEXT:
                cols.append(col)
                continue
            if cast is _STRING and types == {int}:
                cols.append(list(map(str, col)))
                continue
            fast = self.fast.get(_name)
            done = None if fast is None else fast(col, types)
            if done is not None:
                cols.append(done)
                continue
            try:
                cols.append([None if v is None else cast(v) for v in col])
            except CastError:
                out = []
                for j, v in enumerate(col):
                    try:
                        out.append(None if v is None else cast(v))
                    except CastError:
                        out.append(None)
                        flagged.add(j)
                cols.append(out)
        return cols, flagged

    # -- validate ---------------------------------------------------------------------------

    def _validate(self, cols: list[list[Any]]) -> tuple[set[int], dict[str, pa.Array]]:
        """The rows the table validator flags (or whose values do not convert), and the
        Arrow arrays of the columns it read, by field name (those it reads for their
        values; a column whose checks look at nulls only is passed as presence)."""
        flagged: set[int] = set()
        arrays: dict[str, pa.Array] = {}
        values: dict[str, pa.Array] = {}
        for i, typ in zip(self.check_index, self.check_types, strict=True):
            col, name = cols[i], self.plan[i][0]
            if i in self.presence_index:
                arrays[name] = _presence(col)
                continue
            try:
                values[name] = arrays[name] = pa.array(col, typ)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                values[name] = arrays[name] = pa.array(_convertible(col, typ, flagged), typ)
        if arrays:
            table = pa.Table.from_arrays(list(arrays.values()), names=list(arrays))
            flagged |= self.validator.invalid_rows(table)
        return flagged, values

    # -- mask -------------------------------------------------------------------------------

    def _mask(
        self,
        rows: list[int],
        cols: list[list[Any]],
        positions: list[int],
        ts: list[int | None],
        arrays: dict[str, pa.Array],
    ) -> tuple[list[int], list[dict[str, Any]], list[tuple[Any, ...]], list[int], list[int | None]]:
        """(rows, masked records, keys, positions, times); rows the masker refuses leave.

        ``arrays``: columns already converted to Arrow (by the checks), by field name.
        """
        names = [name for name, *_ in self.plan]
        if len(self.key_index) == 1:
            keys = [(v,) for v in cols[self.key_index[0]]]
        else:
            keys = list(zip(*(cols[i] for i in self.key_index), strict=True))
        masked = self._mask_table(cols, arrays) if len(rows) >= MASK_TABLE_MIN_ROWS else None
        if masked is not None:
            out = self.out_names
            by_name = dict(zip(names, cols, strict=True)) | masked
            columns = [by_name[n] for n in out]  # equal lengths: no strict zips per row
            records = list(map(dict, map(zip, repeat(out), zip(*columns, strict=False))))
            return rows, records, keys, positions, ts
        mask = self.masker.mask_record
        records, flagged = [], set()
        for j, r in enumerate(zip(*cols, strict=False)):
            try:
                records.append(mask(dict(zip(names, r, strict=False))))
            except TransformError:
                flagged.add(j)
        if flagged:
            rows, keys, positions, ts = _drop(flagged, rows, keys, positions, ts)
        return rows, records, keys, positions, ts

    def _mask_table(
        self, cols: list[list[Any]], arrays: dict[str, pa.Array]
    ) -> dict[str, list[Any]] | None:
        """The touched columns masked by ``Masker.mask_table``; None: mask record by record."""
        if self.mask_types is None:
            return None
        names = [self.plan[i][0] for i in self.mask_index]
        try:
            typed = zip(self.mask_index, self.mask_types, names, strict=True)
            table = pa.table(
                [arrays[n] if n in arrays else pa.array(cols[i], t) for i, t, n in typed],
                names=names,
            )
            table = self.masker.mask_table(table)
        except (TransformError, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError,
                ValueError):  # fmt: skip
            return None  # the record path says which values and why
        return {n: table.column(n).to_pylist() for n in table.column_names if n in self.touched}


def _decimals(dtype: DataType) -> Callable[[list[Any], set[type]], list[Any] | None]:
    """A text column to decimals, as ``cast`` does it value by value (None: not all fit)."""
    precision, scale = dtype.precision or 38, dtype.scale or 0
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def column(col: list[Any], types: set[type]) -> list[Any] | None:
        if not types <= _TEXT:
            return None
        try:
            out = [None if v is None else Decimal(v).quantize(quantum) for v in col]
        except ArithmeticError:  # InvalidOperation: not a number, too many digits
            return None
        values = [d for d in out if d is not None]
        if not all(map(Decimal.is_finite, values)) or max(map(abs, values), default=0) >= limit:
            return None
        return out

    return column


def _timestamps(col: list[Any], types: set[type]) -> list[Any] | None:
    """A column of ISO text to aware datetimes, as ``cast`` does it (None: not all text)."""
    if not types <= _TEXT:
        return None
    try:
        out = [None if v is None else datetime.fromisoformat(v) for v in col]
    except ValueError:
        return None
    if None in set(map(_tzinfo, filter(None, out))):  # naive: read as UTC
        return [d if d is None or d.tzinfo is not None else d.replace(tzinfo=UTC) for d in out]
    return out


_tzinfo = attrgetter("tzinfo")


def _loads(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return _BAD


def _drop(flagged: set[int], *columns: list[Any]) -> list[list[Any]]:
    """``columns`` without the rows in ``flagged``."""
    if not flagged:
        return list(columns)
    keep = [j for j in range(len(columns[0])) if j not in flagged]
    return [[c[j] for j in keep] for c in columns]


def _arrow_type(f: FieldSpec) -> pa.DataType | None:
    """The Arrow type of a field masked as a column (None: JSON, arrays, structs)."""
    if f.data_type.kind in {"json", "array", "struct"}:
        return None
    return arrow_type(f.data_type)


def _presence(col: list[Any]) -> pa.Array:
    """True for each value, null for each None (all a null check needs of a column)."""
    if None not in col:
        return pa.repeat(pa.scalar(value=True), len(col))
    return pa.array([True if v is not None else None for v in col], pa.bool_())


def _convertible(col: list[Any], typ: pa.DataType, flagged: set[int]) -> list[Any]:
    """``col`` with None for each value Arrow cannot hold as ``typ`` (its row ``flagged``)."""
    out: list[Any] = []
    for j, v in enumerate(col):
        try:
            pa.array([v], typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            flagged.add(j)
            out.append(None)
        else:
            out.append(v)
    return out
