"""The one mapping from contract types to Apache Arrow types.

The Arrow schemas meshkit derives from a contract come from here: the table a batch
asset produces (before the privacy transforms) and the rows a port stores (after them,
from :mod:`meshkit.contracts.exporters.published`).

======================  ============================
contract type           Arrow type
======================  ============================
``string``, ``json``    ``string``
``integer``             ``int64``
``float``               ``float64``
``decimal(p,s)``        ``decimal128(p, s)``
``boolean``             ``bool``
``date``                ``date32``
``timestamp``           ``timestamp[us, tz=UTC]``
``bytes``               ``binary``
``array<T>``            ``list<T>``
``struct``              ``struct`` of its members
======================  ============================

A field is nullable unless it is required. With ``strict=False`` every field and struct
member is nullable: batch validation casts a table to that schema first and then reports
missing required values itself, with row numbers.

Example::

    arrow_schema(contract)                   # what an asset produces
    arrow_schema(contract, published=True)   # what the ports store (tokens as string, ...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

import pyarrow as pa

from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import FieldSpec
from meshkit.contracts.types import MAX_DECIMAL_PRECISION, DataType

if TYPE_CHECKING:
    from meshkit.contracts.model import Contract

SCALARS: Mapping[str, pa.DataType] = MappingProxyType(
    {
        "string": pa.string(),
        "json": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "bytes": pa.binary(),
    }
)

Field = FieldSpec | PublishedField


def _members(field: Field) -> Sequence[Field]:
    return field.fields or ()


def _type_of(field: Field) -> DataType:
    return field.data_type if isinstance(field, FieldSpec) else field.type


def arrow_type(
    data_type: DataType, members: Sequence[Field] = (), *, strict: bool = True
) -> pa.DataType:
    """The Arrow type of a contract type; ``members``: the fields of a struct (or its arrays)."""
    kind = data_type.kind
    if kind == "decimal":
        precision = data_type.precision or MAX_DECIMAL_PRECISION
        return pa.decimal128(precision, data_type.scale or 0)
    if kind == "array":
        if data_type.element is None:
            raise ValueError("array type without an element type")
        return pa.list_(arrow_type(data_type.element, members, strict=strict))
    if kind == "struct":
        return pa.struct([arrow_field(m, strict=strict) for m in members])
    return SCALARS[kind]


def arrow_field(field: Field, *, strict: bool = True) -> pa.Field:
    """The Arrow field of a contract field (declared or published).

    Nullable unless the field is required; ``strict=False``: always nullable.
    """
    typ = arrow_type(_type_of(field), _members(field), strict=strict)
    return pa.field(field.name, typ, nullable=not (field.required and strict))


def arrow_schema(contract: Contract, *, published: bool = False, strict: bool = True) -> pa.Schema:
    """The Arrow schema of a contract's fields.

    ``published=False``: the fields as declared (what a batch asset returns, before the
    privacy transforms); ``published=True``: as the ports store them (dropped fields
    absent, tokenized and encrypted fields as ``string``, see
    :mod:`meshkit.contracts.exporters.published`).
    """
    fields: Sequence[Field] = published_fields(contract) if published else contract.fields
    return pa.schema([arrow_field(f, strict=strict) for f in fields])
