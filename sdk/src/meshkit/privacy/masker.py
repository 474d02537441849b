"""The masker: applies every field's declared transform to a record or to a batch.

``Masker`` is built from a list of ``FieldPlan`` (one per transformed field; usually from a
contract with ``Masker.from_contract``) and a key store. It has two faces with identical
results, value for value:

- ``mask_record(dict) -> dict`` for streaming (one record at a time);
- ``mask_table(pyarrow.Table) -> pyarrow.Table`` for batch assets (vectorised).

Fields without a plan pass through unchanged; ``drop`` removes the field or column. Nulls
stay null. A value (or column) of the wrong type raises ``TransformError`` naming the
field, never a silent pass-through. ``encrypt`` reads the data subject from the
``subject_field`` of the same record (its raw value, before that field's own transform);
values of an erased subject become null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.errors import PrivacyError, TransformError
from meshkit.privacy.keys import KeyStore
from meshkit.privacy.mask import ValueTransform
from meshkit.privacy.tokenize import Tokenizer

KINDS = ("drop", "redact", "mask", "tokenize", "generalize", "encrypt")


@dataclass(frozen=True)
class FieldPlan:
    """How one field is transformed.

    ``kind`` is one of ``KINDS``. ``kernel`` does the work for redact, mask and generalize
    (see ``meshkit.privacy.mask`` and ``meshkit.privacy.generalize``); ``key`` names the
    token key for tokenize.
    """

    field: str
    kind: str
    kernel: ValueTransform | None = None
    key: str | None = None


class Masker:
    """Applies a product's privacy transforms.

    Example::

        masker = Masker(
            [FieldPlan("email", "tokenize", key="customer"),
             FieldPlan("phone", "mask", kernel=KeepLast(4)),
             FieldPlan("notes", "drop")],
            store=store,
        )
        masker.mask_record({"id": 1, "email": "ada@example.com", "phone": "0612345678"})
    """

    def __init__(
        self,
        plans: Sequence[FieldPlan],
        *,
        store: KeyStore | None = None,
        subject_field: str | None = None,
    ) -> None:
        self.plans = {p.field: p for p in plans}
        self.subject_field = subject_field
        self.dropped = frozenset(p.field for p in plans if p.kind == "drop")
        self._tokenizers: dict[str, Tokenizer] = {}
        self._cipher: SubjectCipher | None = None
        for p in plans:
            if p.kind not in KINDS:
                raise PrivacyError(f"field {p.field!r}: unknown transform {p.kind!r}")
            if p.kind in {"redact", "mask", "generalize"} and p.kernel is None:
                raise PrivacyError(f"field {p.field!r}: {p.kind} needs its parameters")
            if p.kind in {"tokenize", "encrypt"} and store is None:
                raise PrivacyError(f"field {p.field!r}: {p.kind} needs a key store")
            if p.kind == "tokenize":
                if not p.key:
                    raise PrivacyError(f"field {p.field!r}: tokenize needs a key name")
                assert store is not None
                self._tokenizers[p.field] = Tokenizer(store.token_key(p.key))
            if p.kind == "encrypt":
                if subject_field is None:
                    raise PrivacyError(
                        f"field {p.field!r}: encrypt needs the field that identifies the "
                        "data subject"
                    )
                assert store is not None
                self._cipher = self._cipher or SubjectCipher(store)

    # -- record path ----------------------------------------------------------------------

    def mask_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The masked copy of one record (dropped fields removed)."""
        out: dict[str, Any] = {}
        plans = self.plans
        for name, value in record.items():
            plan = plans.get(name)
            if plan is None:
                out[name] = value
            elif plan.kind == "drop":
                continue
            elif value is None:
                out[name] = None
            else:
                out[name] = self._value(plan, value, record)
        return out

    def mask_records(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.mask_record(r) for r in records]

    def _value(self, plan: FieldPlan, value: Any, record: Mapping[str, Any]) -> Any:
        try:
            if plan.kind == "tokenize":
                return self._tokenizers[plan.field].token(_tokenizable(value))
            if plan.kind == "encrypt":
                return self._encrypt_value(plan, value, record)
            assert plan.kernel is not None
            return plan.kernel.value(value)
        except TransformError:
            raise
        except PrivacyError as exc:
            raise TransformError(plan.field, str(exc)) from None

    def _encrypt_value(self, plan: FieldPlan, value: Any, record: Mapping[str, Any]) -> Any:
        assert self._cipher is not None
        assert self.subject_field is not None
        subject = record.get(self.subject_field)
        if subject is None:
            raise PrivacyError(
                f"encrypt needs the data subject, but {self.subject_field!r} is null"
            )
        return self._cipher.encrypt(value, str(subject), plan.field)

    # -- batch path -----------------------------------------------------------------------

    def mask_table(self, table: pa.Table) -> pa.Table:
        """The masked copy of a table (dropped columns removed), identical to the record path."""
        names, columns = [], []
        for name, column in zip(table.column_names, table.columns, strict=True):
            plan = self.plans.get(name)
            if plan is not None and plan.kind == "drop":
                continue
            names.append(name)
            columns.append(column if plan is None else self._column(plan, column, table))
        return pa.table(columns, names=names)

    def _column(self, plan: FieldPlan, column: pa.ChunkedArray, table: pa.Table) -> pa.Array:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        try:
            if plan.kind == "tokenize":
                return self._tokenizers[plan.field].tokens(array)
            if plan.kind == "encrypt":
                return self._encrypt_column(plan, array, table)
            assert plan.kernel is not None
            return plan.kernel.array(array)
        except TransformError:
            raise
        except PrivacyError as exc:
            raise TransformError(plan.field, str(exc)) from None

    def _encrypt_column(self, plan: FieldPlan, array: pa.Array, table: pa.Table) -> pa.Array:
        assert self._cipher is not None
        assert self.subject_field is not None
        if self.subject_field not in table.column_names:
            raise PrivacyError(f"encrypt needs the column {self.subject_field!r}")
        subjects = table.column(self.subject_field).combine_chunks()
        if (
            subjects.null_count
            and pc.any(pc.and_(pc.is_null(subjects), pc.is_valid(array))).as_py()
        ):
            raise PrivacyError(
                f"encrypt needs the data subject, but {self.subject_field!r} is null"
            )
        _check_encryptable(array.type)
        return self._cipher.encrypt_array(array, subjects, plan.field)


def _tokenizable(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PrivacyError(f"tokenize applies to text and integers, got {type(value).__name__}")
    return value


def _check_encryptable(typ: pa.DataType) -> None:
    t = pa.types
    if not (t.is_string(typ) or t.is_large_string(typ) or t.is_binary(typ) or t.is_integer(typ)
            or t.is_date32(typ)):  # fmt: skip
        raise PrivacyError(f"encrypt applies to text, bytes, integers and dates, not {typ}")
