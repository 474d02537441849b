"""The schema of a product as it leaves the domain: every field after its privacy transform.

A transform can change what a port stores: ``drop`` removes the field; ``tokenize`` and
``encrypt`` turn any value into text (``tok:…``, ``enc:v2:…``); ``encrypt`` writes null
for an erased data subject and ``redact`` may write null, so those fields are nullable
in every port. ``mask``, ``generalize`` and ``redact`` keep the field's type.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.contracts.model import Contract, FieldSpec
from meshkit.contracts.transforms import Redact
from meshkit.contracts.types import DataType

STRING = DataType("string")


@dataclass(frozen=True)
class PublishedField:
    """One field as a port stores it: its type after the transform, and its declaration."""

    name: str
    type: DataType
    required: bool
    spec: FieldSpec
    fields: tuple[PublishedField, ...] = ()  # struct members (or array<struct> elements)

    @property
    def description(self) -> str | None:
        return self.spec.description

    @property
    def pii(self) -> str | None:
        return self.spec.pii

    @property
    def transform_kind(self) -> str | None:
        return self.spec.transform.kind if self.spec.transform is not None else None


def published_field(spec: FieldSpec) -> PublishedField | None:
    """``spec`` as stored in ports, or None when its transform drops it."""
    t = spec.transform
    kind = t.kind if t is not None else None
    if kind == "drop":
        return None
    dtype = spec.data_type
    required = spec.required
    if kind in {"tokenize", "encrypt"}:
        dtype = STRING
    if kind == "encrypt":
        required = False  # an erased subject's values are written as null
    elif isinstance(t, Redact) and t.constant(is_string=dtype.kind == "string") is None:
        required = False
    members: tuple[PublishedField, ...] = ()
    if spec.fields and dtype.has_members:
        members = tuple(p for p in (published_field(m) for m in spec.fields) if p is not None)
    return PublishedField(spec.name, dtype, required, spec, members)


def published_fields(contract: Contract) -> tuple[PublishedField, ...]:
    """The top-level fields of ``contract`` as stored in its ports, in declaration order."""
    return tuple(p for p in (published_field(f) for f in contract.fields) if p is not None)
