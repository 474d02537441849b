"""The masker: applies every field's declared transform to a record or to a batch.

``Masker.from_contract(contract, store)`` reads each field's privacy declaration
(``meshkit.contracts``); ``Masker(plans, store)`` takes ``FieldPlan`` objects directly.
It has two faces with identical results, value for value:

- ``mask_record(dict) -> dict`` for streaming (one record at a time);
- ``mask_table(pyarrow.Table) -> pyarrow.Table`` for batch assets (vectorised).

Fields are named by dotted paths, so members of a ``struct`` field (``address.street``)
are transformed in place. Fields without a plan pass through unchanged; ``drop`` removes
the field, column or struct member. Nulls stay null. A value (or column) of the wrong
type raises ``TransformError`` naming the field, never a silent pass-through.
``encrypt`` reads the data subject from the plan's ``subject`` field of the same record
(its raw value, before that field's own transform); values of an erased subject become
null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.errors import PrivacyError, TransformError
from meshkit.privacy.generalize import Bucket, IpPrefix, PostalPrefix, TruncateTime
from meshkit.privacy.keys import KeyStore
from meshkit.privacy.mask import EmailDomain, KeepLast, Redact, ValueTransform
from meshkit.privacy.tokenize import Tokenizer

if TYPE_CHECKING:
    from meshkit.contracts import Contract, FieldSpec

KINDS = ("drop", "redact", "mask", "tokenize", "generalize", "encrypt")
_Op = Callable[[Any, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class FieldPlan:
    """How one field (a dotted path) is transformed.

    ``kind`` is one of ``KINDS``. ``kernel`` does the work for redact, mask and generalize
    (see ``meshkit.privacy.mask`` and ``meshkit.privacy.generalize``); ``key`` names the
    token key for tokenize; ``subject`` the field identifying the data subject for encrypt.
    """

    field: str
    kind: str
    kernel: ValueTransform | None = None
    key: str | None = None
    subject: str | None = None


class Masker:
    """Applies a product's privacy transforms.

    Example::

        masker = Masker.from_contract(contract, store=LocalKeyStore.open())
        masker.mask_record({"customer_id": "c-1", "email": "ada@example.com", ...})
        masker.mask_table(arrow_table)
    """

    def __init__(self, plans: Sequence[FieldPlan], *, store: KeyStore | None = None) -> None:
        self.plans = {p.field: p for p in plans}
        # Every struct that holds a planned member, at any depth.
        self._nested = {a for p in plans for a in _ancestors(p.field)}
        self._tokenizers: dict[str, Tokenizer] = {}
        self._cipher: SubjectCipher | None = None
        for p in plans:
            self._check(p, store)
        # The record path's per-field steps for top-level fields, built once.
        self._top: dict[str, _Op | None] = {}
        for p in plans:
            if "." not in p.field:
                self._top[p.field] = None if p.kind == "drop" else self._op(p)
        for path in self._nested:
            if "." not in path:
                self._top[path] = self._nested_op(path)

    def _op(self, plan: FieldPlan) -> _Op:
        slow = self._value
        if plan.kind == "tokenize":
            token = self._tokenizers[plan.field].token

            def tokenize(v: Any, root: Mapping[str, Any]) -> Any:
                return token(v) if type(v) is str else slow(plan, v, root)

            return tokenize
        return lambda v, root: slow(plan, v, root)

    def _nested_op(self, path: str) -> _Op:
        def nested(v: Any, root: Mapping[str, Any]) -> Any:
            return self._record(v, root, path + ".") if isinstance(v, Mapping) else v

        return nested

    def _check(self, p: FieldPlan, store: KeyStore | None) -> None:
        if p.kind not in KINDS:
            raise PrivacyError(f"field {p.field!r}: unknown transform {p.kind!r}")
        if p.kind in {"redact", "mask", "generalize"} and p.kernel is None:
            raise PrivacyError(f"field {p.field!r}: {p.kind} needs its parameters")
        if p.kind in {"tokenize", "encrypt"} and store is None:
            raise PrivacyError(f"field {p.field!r}: {p.kind} needs a key store")
        if p.kind == "tokenize":
            if not p.key or store is None:
                raise PrivacyError(f"field {p.field!r}: tokenize needs a key name")
            self._tokenizers[p.field] = Tokenizer(store.token_key(p.key))
        if p.kind == "encrypt":
            if p.subject is None or store is None:
                raise PrivacyError(
                    f"field {p.field!r}: encrypt needs the field that identifies the data subject"
                )
            self._cipher = self._cipher or SubjectCipher(store)

    @classmethod
    def from_contract(cls, contract: Contract, *, store: KeyStore | None = None) -> Masker:
        """The masker of a contract: one plan per field that declares a transform."""
        plans = []
        for path, spec in contract.field_index.items():
            if spec.transform is None:
                continue
            if any(_is_array(contract.field(p)) for p in _ancestors(path)):
                raise PrivacyError(
                    f"field {path!r}: transforms inside array<struct> fields are not supported; "
                    "declare the transform on the array field or flatten it"
                )
            plans.append(plan_for(path, spec, contract.subject_of(spec)))
        return cls(plans, store=store)

    # -- record path ----------------------------------------------------------------------

    def mask_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The masked copy of one record (dropped fields removed)."""
        out: dict[str, Any] = {}
        top = self._top
        for name, value in record.items():
            if name not in top:
                out[name] = value
                continue
            op = top[name]
            if op is None:
                continue
            out[name] = None if value is None else op(value, record)
        return out

    def mask_records(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.mask_record(r) for r in records]

    def _record(
        self, rec: Mapping[str, Any], root: Mapping[str, Any], prefix: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        plans = self.plans
        for name, value in rec.items():
            path = prefix + name if prefix else name
            plan = plans.get(path)
            if plan is None:
                nested = path in self._nested and isinstance(value, Mapping)
                out[name] = self._record(value, root, path + ".") if nested else value
            elif plan.kind == "drop":
                continue
            elif value is None:
                out[name] = None
            else:
                out[name] = self._value(plan, value, root)
        return out

    def _value(self, plan: FieldPlan, value: Any, root: Mapping[str, Any]) -> Any:
        try:
            if plan.kind == "tokenize":
                return self._tokenizers[plan.field].token(_tokenizable(value))
            if plan.kind == "encrypt":
                return self._encrypt_value(plan, value, root)
            assert plan.kernel is not None
            return plan.kernel.value(value)
        except TransformError:
            raise
        except PrivacyError as exc:
            raise TransformError(plan.field, str(exc)) from None

    def _encrypt_value(self, plan: FieldPlan, value: Any, root: Mapping[str, Any]) -> Any:
        assert self._cipher is not None
        assert plan.subject is not None
        subject: Any = root
        for part in plan.subject.split("."):
            subject = subject.get(part) if isinstance(subject, Mapping) else None
        if subject is None:
            raise PrivacyError(f"encrypt needs the data subject, but {plan.subject!r} is null")
        return self._cipher.encrypt(value, str(subject), plan.field)

    # -- batch path -----------------------------------------------------------------------

    def mask_table(self, table: pa.Table) -> pa.Table:
        """The masked copy of a table (dropped columns removed), identical to the record path."""
        names, columns = [], []
        for name, column in zip(table.column_names, table.columns, strict=True):
            array = column.combine_chunks()
            out = self._array(name, array, table)
            if out is not None:
                names.append(name)
                columns.append(out)
        return pa.table(columns, names=names)

    def _array(self, path: str, array: pa.Array, table: pa.Table) -> pa.Array | None:
        plan = self.plans.get(path)
        if plan is None:
            if path in self._nested and pa.types.is_struct(array.type):
                return self._struct(path, array, table)
            return array
        if plan.kind == "drop":
            return None
        try:
            if plan.kind == "tokenize":
                return self._tokenizers[plan.field].tokens(array)
            if plan.kind == "encrypt":
                return self._encrypt_array(plan, array, table)
            assert plan.kernel is not None
            return plan.kernel.array(array)
        except TransformError:
            raise
        except PrivacyError as exc:
            raise TransformError(plan.field, str(exc)) from None

    def _struct(self, path: str, array: pa.StructArray, table: pa.Table) -> pa.Array:
        names, children = [], []
        for i in range(array.type.num_fields):
            member = array.type.field(i).name
            child = self._array(f"{path}.{member}", pc.struct_field(array, [i]), table)
            if child is not None:
                names.append(member)
                children.append(child)
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, names=names, mask=mask)

    def _encrypt_array(self, plan: FieldPlan, array: pa.Array, table: pa.Table) -> pa.Array:
        assert self._cipher is not None
        assert plan.subject is not None
        subjects = _column_at(table, plan.subject)
        if subjects is None:
            raise PrivacyError(f"encrypt needs the column {plan.subject!r}")
        if (
            subjects.null_count
            and pc.any(pc.and_(pc.is_null(subjects), pc.is_valid(array))).as_py()
        ):
            raise PrivacyError(f"encrypt needs the data subject, but {plan.subject!r} is null")
        _check_encryptable(array.type)
        return self._cipher.encrypt_array(array, subjects, plan.field)


def plan_for(path: str, spec: FieldSpec, subject: str | None) -> FieldPlan:
    """The plan of one contract field's transform (``spec.transform`` must be set)."""
    t = spec.transform
    assert t is not None
    kind = t.kind
    kernel: ValueTransform | None = None
    if t.kind == "redact":
        constant = t.constant(is_string=spec.data_type.kind == "string")
        if spec.data_type.kind == "float" and constant is not None:
            constant = float(constant)
        kernel = Redact(constant)
    elif t.kind == "mask":
        kernel = EmailDomain(t.char) if t.keep_email_domain else KeepLast(t.keep_last or 0, t.char)
    elif t.kind == "generalize":
        if t.to in {"month", "year"}:
            kernel = TruncateTime(t.to)
        elif t.to == "ipv4_24":
            kernel = IpPrefix(24, 48)
        elif t.bucket is not None:
            kernel = Bucket(t.bucket)
        else:
            kernel = PostalPrefix(t.prefix or 1)
    key = t.key if t.kind == "tokenize" else None
    return FieldPlan(path, kind, kernel=kernel, key=key, subject=subject)


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_array(spec: FieldSpec | None) -> bool:
    return spec is not None and spec.data_type.kind == "array"


def _column_at(table: pa.Table, path: str) -> pa.Array | None:
    head, *rest = path.split(".")
    if head not in table.column_names:
        return None
    array = table.column(head).combine_chunks()
    for part in rest:
        if not pa.types.is_struct(array.type) or array.type.get_field_index(part) < 0:
            return None
        array = pc.struct_field(array, [array.type.get_field_index(part)])
    return array


def _tokenizable(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PrivacyError(f"tokenize applies to text and integers, got {type(value).__name__}")
    return value


def _check_encryptable(typ: pa.DataType) -> None:
    t = pa.types
    if not (t.is_string(typ) or t.is_large_string(typ) or t.is_binary(typ) or t.is_integer(typ)
            or t.is_date32(typ)):  # fmt: skip
        raise PrivacyError(f"encrypt applies to text, bytes, integers and dates, not {typ}")
