"""The intake every writer runs first: check a micro-batch against the contract, as Arrow.

``Intake(contract, port)`` checks a whole batch before anything is written, and raises
``RecordRefusedError`` naming the change (by its source position) and the field at fault,
never a value of the record:

- an upsert's record has a field the contract does not declare (or one it drops), lacks
  a key field, or its key fields disagree with the change's key;
- a value does not fit the field's type (found by converting the batch to Arrow with the
  contract's schema; only when that fails is each value looked at, to name the culprit);
- a value breaks a check of the contract's table validator over the published fields
  (``meshkit.contracts.table``): a required field (or struct member) is null, an array
  holds a null element, a float is NaN or infinite;
- a personal-data field still looks untransformed (cheap, vectorised checks of the
  transform's output shape: a token starts ``tok:``, a ciphertext ``enc:v…:``, a masked
  value with the mask character, a generalized date on the first of the month, ...).
  This is a guard against forgetting the masker, not a proof: the scanner verifies data.

A ``CheckedBatch`` is a micro-batch whose maker already made these checks against a
contract (``meshkit.streaming.Pipeline``: it validated every record and masked it with
the contract's masker). ``Intake.trusts(batch)`` is true only for such a batch checked
against the intake's own contract; a writer that only checks (the Kafka topic writer)
skips its check for it. Every other batch, a list, a tuple, a batch checked against
another contract, is checked as before.

``Intake.table(batch, compact=True)`` returns the batch as an Arrow table of the
published columns plus ``_meshkit_pos`` (int64) and ``_meshkit_delete`` (bool); with
``compact`` only the newest change per key is kept (what a table needs to apply).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import attrgetter, eq, is_, itemgetter
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from meshkit.contracts import Contract, Generalize, Mask, Redact
from meshkit.contracts.arrow import arrow_field
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.table import TableValidator, values_at
from meshkit.ports.base import POSITION_COLUMN, Change, RecordRefusedError, kind_of

DELETE_COLUMN = "_meshkit_delete"
_Check = Callable[[pa.Array], pa.Array]  # True where a non-null value looks transformed
_OPS = frozenset({"upsert", "delete"})
_OP = attrgetter("op")
_KEY = attrgetter("key")
_RECORD = attrgetter("record")
_POSITION = attrgetter("position")


def json_text(value: Any) -> Any:
    """A ``json`` field's value as JSON text (text already given is kept as is)."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class CheckedBatch(tuple[Change, ...]):
    """Changes already checked against ``contract`` by their maker (module docstring).

    Immutable, so nothing joins the batch after its check. Example::

        batch = CheckedBatch(changes, contract)  # only after checking them all
    """

    contract: Contract

    def __new__(cls, changes: Iterable[Change], contract: Contract) -> CheckedBatch:
        batch = super().__new__(cls, changes)
        batch.contract = contract
        return batch


class Intake:
    """Checks and converts micro-batches for one contract (see the module docstring)."""

    def __init__(self, contract: Contract, port: str) -> None:
        self.contract = contract
        self.port = port
        self.fields = published_fields(contract)
        self.names = [f.name for f in self.fields]
        self.allowed = frozenset(self.names)
        self.dropped = frozenset(f.name for f in contract.fields) - self.allowed
        self.key_fields = tuple(contract.primary_key)
        if not self.key_fields:
            raise RecordRefusedError(port, None, None, "the contract declares no primary_key")
        if any("." in k for k in self.key_fields):
            raise RecordRefusedError(port, None, None, "key fields must be top-level fields")
        self.schema = pa.schema([arrow_field(f) for f in self.fields])
        self.struct = pa.struct(list(self.schema))
        self.json_fields = [f.name for f in self.fields if f.type.kind == "json"]
        self.validator = TableValidator(contract, fields=self.fields, rules=False)
        self.checks = _privacy_checks(self.fields)

    # -- public ---------------------------------------------------------------------------

    def table(self, batch: Sequence[Change], *, compact: bool = True) -> pa.Table:
        """The checked batch as Arrow (see the module docstring); ``RecordRefusedError`` if bad.

        The common case costs a few C-level passes over the batch (``map`` of attribute
        getters, set unions, Arrow kernels); only when one of them finds something odd
        does the per-change loop run, to name the change at fault.
        """
        changes = self.compact(batch) if compact else list(batch)
        records: list[Any] = list(map(_RECORD, changes))
        deletes = list(map(eq, map(_OP, changes), repeat("delete")))
        keys = list(map(_KEY, changes))
        positions = list(map(_POSITION, changes))
        if not self._shape_looks_ok(changes, records, deletes, keys, positions):
            self._check_shape(changes)  # raises, naming the change at fault
        rows = self._rows(changes, records, deletes)
        try:
            array = pa.array(rows, type=self.struct)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            self._check_shape(changes)
            self._find_bad_value(changes, rows)
            raise
        table = pa.Table.from_struct_array(array)
        if not self._keys_agree(table, keys):
            self._check_shape(changes)
        delete_column = pa.array(deletes, pa.bool_())
        self._check_values(table, changes, delete_column)
        self._check_privacy(table, changes)
        table = table.append_column(POSITION_COLUMN, pa.array(positions, pa.int64()))
        return table.append_column(DELETE_COLUMN, delete_column)

    def trusts(self, batch: Sequence[Change]) -> bool:
        """Whether ``batch`` is a ``CheckedBatch`` checked against this intake's contract."""
        if type(batch) is not CheckedBatch:
            return False
        return batch.contract is self.contract or batch.contract == self.contract

    def check(self, batch: Sequence[Change]) -> None:
        """Only the checks of ``table`` (for writers that send the records as they are)."""
        self.table(batch, compact=False)

    @staticmethod
    def compact(batch: Sequence[Change]) -> list[Change]:
        """The newest change per key (by position; the later one on a tie), in batch order."""
        newest: dict[tuple[Any, ...], Change] = {}
        for c in batch:
            seen = newest.get(c.key)
            if seen is None or c.position >= seen.position:
                newest[c.key] = c
        return list(newest.values()) if len(newest) != len(batch) else list(batch)

    # -- checks ---------------------------------------------------------------------------

    def _refuse(self, change: Change | None, field: str | None, message: str) -> RecordRefusedError:
        return RecordRefusedError(self.port, change, field, message)

    def _check_shape(self, changes: Sequence[Change]) -> None:
        allowed, keys = self.allowed, self.key_fields
        single = keys[0] if len(keys) == 1 else None
        for c in changes:
            record = c.record
            if c.op == "upsert" and record is not None:
                if record.keys() - allowed:
                    self._shape_problem(c)
                if single is not None:
                    if record.get(single) != c.key[0] or len(c.key) != 1:
                        self._shape_problem(c)
                elif tuple(record.get(k) for k in keys) != c.key:
                    self._shape_problem(c)
            elif c.op != "delete" or record is not None or len(c.key) != len(keys):
                self._shape_problem(c)
        positions = [c.position for c in changes]
        if min(positions, default=0) < 0 or not all(type(p) is int for p in positions):
            bad = next(c for c in changes if type(c.position) is not int or c.position < 0)
            raise self._refuse(bad, None, "the source position must be an integer >= 0")

    def _shape_problem(self, c: Change) -> None:
        """Raise the precise error for a change the fast loop found wrong."""
        keys = self.key_fields
        if c.op not in ("upsert", "delete"):
            raise self._refuse(c, None, f"op must be 'upsert' or 'delete', not {c.op!r}")
        if len(c.key) != len(keys):
            raise self._refuse(c, None, f"the key has {len(c.key)} parts; expected {keys}")
        record = c.record
        if c.op == "delete":
            raise self._refuse(c, None, "a delete carries no record")
        if record is None:
            raise self._refuse(c, None, "an upsert needs its record")
        extra = record.keys() - self.allowed
        if extra:
            name = sorted(extra)[0]
            if name in self.dropped:
                raise self._refuse(
                    c,
                    name,
                    "personal data the contract drops is still in the record "
                    "(apply meshkit.privacy.Masker before writing)",
                )
            raise self._refuse(c, name, f"not a field of {self.contract.address}")
        for i, k in enumerate(keys):
            if record.get(k) != c.key[i]:
                raise self._refuse(c, k, "the record's key value is not the change's key")

    def _shape_looks_ok(
        self,
        changes: Sequence[Change],
        records: list[Any],
        deletes: list[bool],
        keys: list[tuple[Any, ...]],
        positions: list[Any],
    ) -> bool:
        """True when the batch certainly passes ``_check_shape`` (keys compared later).

        C-level passes only: the ops, records present exactly for upserts, key lengths,
        every record field declared, positions integers >= 0.
        """
        if not set(map(_OP, changes)) <= _OPS:
            return False
        if list(map(is_, records, repeat(None))) != deletes:
            return False
        if set(map(len, keys)) - {len(self.key_fields)}:
            return False
        if not self.allowed.issuperset(set().union(*filter(None, records))):
            return False
        return set(map(type, positions)) <= {int} and min(positions, default=0) >= 0

    def _keys_agree(self, table: pa.Table, keys: list[tuple[Any, ...]]) -> bool:
        """True when every record's key fields equal its change's key (no nulls involved)."""
        for i, name in enumerate(self.key_fields):
            column = table.column(name)
            try:
                given = pa.array(list(map(itemgetter(i), keys)), column.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                return False
            if column.null_count or given.null_count:
                return False
            if not pc.all(pc.equal(column, given)).as_py():
                return False
        return True

    def _rows(
        self, changes: Sequence[Change], records: list[Any], deletes: list[bool]
    ) -> list[Any]:
        rows = records
        if any(deletes):
            keys = self.key_fields
            rows = [
                r if r is not None else dict(zip(keys, c.key, strict=True))
                for c, r in zip(changes, records, strict=True)
            ]
        if self.json_fields:
            names = self.json_fields
            rows = [{**r, **{n: json_text(r.get(n)) for n in names}} for r in rows]
        return rows

    def _find_bad_value(self, changes: Sequence[Change], records: Sequence[Any]) -> None:
        for c, record in zip(changes, records, strict=True):
            for f in self.schema:
                value = record.get(f.name)
                try:
                    pa.array([value], type=f.type)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError,
                        ValueError):  # fmt: skip
                    spec = next(p for p in self.fields if p.name == f.name)
                    raise self._refuse(
                        c, f.name, f"{kind_of(value)} does not fit type {spec.type}"
                    ) from None

    def _check_values(self, table: pa.Table, changes: Sequence[Change], deletes: pa.Array) -> None:
        """The table validator's checks of the published fields, on the upserts."""
        upserts = pc.invert(deletes)
        for problem in self.validator.problems(table):
            index = _first_true(pc.and_(upserts, problem.rows))
            if index is not None:
                message = "required, but null or missing"
                if problem.rule != "required":
                    message = problem.message
                raise self._refuse(changes[index], problem.field, message)

    def _check_privacy(self, table: pa.Table, changes: Sequence[Change]) -> None:
        for path, (check, expected) in self.checks.items():
            column, rows, _ = values_at(table, path)
            if column.null_count == len(column):
                continue
            looks_ok = check(column)
            index = _first_true(pc.and_(pc.is_valid(column), pc.invert(looks_ok)))
            if index is not None:
                row = index if rows is None else rows[index].as_py()
                raise self._refuse(
                    changes[row],
                    path,
                    f"personal data not transformed: expected {expected} "
                    "(apply meshkit.privacy.Masker before writing)",
                )


def _first_true(mask: pa.Array | pa.ChunkedArray) -> int | None:
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())


def _regex(pattern: str) -> _Check:
    return lambda a: pc.match_substring_regex(a, pattern)


def _privacy_checks(fields: Sequence[PublishedField], prefix: str = "") -> dict[str, Any]:
    """Field path -> (check, what a transformed value looks like), for PII fields."""
    out: dict[str, tuple[_Check, str]] = {}
    for f in fields:
        path = prefix + f.name
        if f.fields:
            out.update(_privacy_checks(f.fields, path + "."))
        check = _privacy_check(f) if f.pii else None
        if check is not None:
            out[path] = check
    return out


def _privacy_check(f: PublishedField) -> tuple[_Check, str] | None:
    t = f.spec.transform
    kind = f.type.innermost.kind
    if t is None:
        return None
    if t.kind == "tokenize":
        return _regex(r"^tok:[^:]+:[0-9a-f]{64}$"), "a token 'tok:<key>.<version>:<hex>'"
    if t.kind == "encrypt":
        return (lambda a: pc.starts_with(a, "enc:v")), "a ciphertext 'enc:v2:...'"
    if isinstance(t, Mask):
        char = re.escape(t.char)
        if t.keep_email_domain:
            return _regex(f"^{char}{{3}}(@.*)?$"), f"a masked e-mail '{t.char * 3}@domain'"
        n = t.keep_last or 0
        return _regex(f"(?s)^(?:{char}+.{{0,{n}}})?$"), f"a value masked with {t.char!r}"
    if isinstance(t, Redact):
        constant = t.constant(is_string=kind == "string")
        if constant is None:
            return (lambda a: pc.is_null(a)), "null (redacted)"
        return (lambda a: pc.equal(a, pa.scalar(constant, a.type))), f"{constant!r} (redacted)"
    if isinstance(t, Generalize):
        return _generalized(t, kind)
    return None


def _generalized(t: Generalize, kind: str) -> tuple[_Check, str] | None:
    if t.to in {"month", "year"}:

        def period(a: pa.Array) -> pa.Array:
            ok = pc.equal(pc.day(a), 1)
            if t.to == "year":
                ok = pc.and_(ok, pc.equal(pc.month(a), 1))
            if kind == "timestamp":
                ok = pc.and_(
                    ok, pc.equal(pc.cast(pc.cast(a, pa.int64()) % 86_400_000_000, pa.int64()), 0)
                )
            return ok

        return period, f"the first instant of a {t.to}"
    if t.to == "ipv4_24":
        return _regex(r"(\.0|::)$"), "a network address (x.y.z.0)"
    if t.prefix is not None:
        n = t.prefix
        return (lambda a: pc.less_equal(pc.utf8_length(a), n)), f"at most {n} characters"
    if t.bucket is not None and kind in {"integer", "float"}:
        width = t.bucket

        def bucketed(a: pa.Array) -> pa.Array:
            f = pc.cast(a, pa.float64())
            return pc.equal(pc.multiply(pc.floor(pc.divide(f, width)), width), f)

        return bucketed, f"a multiple of {width:g}"
    return None
