"""A contract's schema as Arrow types and as Dagster table-schema metadata.

Two schemas per product:

- the **produced** schema (:func:`arrow_schema`): what an asset returns, before the
  privacy transforms; the I/O manager validates and casts the asset's table to it;
- the **published** schema (``meshkit.contracts.exporters.published``): what leaves the
  domain, after the transforms (dropped fields gone; tokenized and encrypted fields are
  text). The column-schema metadata that Dagster shows (:func:`table_schema`) is this one.

Type mapping: ``string``/``json`` → ``string``, ``integer`` → ``int64``, ``float`` →
``float64``, ``decimal(p,s)`` → ``decimal128(p,s)``, ``boolean`` → ``bool``, ``date`` →
``date32``, ``timestamp`` → ``timestamp[us, UTC]``, ``bytes`` → ``binary``, ``array<T>`` →
``list<T>``, ``struct`` → ``struct`` of its members.
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from meshkit.contracts import Contract, DataType, FieldSpec
from meshkit.contracts.exporters.published import published_fields

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "bytes": pa.binary(),
}


def arrow_type(
    data_type: DataType, members: tuple[FieldSpec, ...] | None = None, *, strict: bool = True
) -> pa.DataType:
    """The Arrow type of a contract type (``members``: the fields of a struct).

    ``strict=False``: every struct member nullable (required members are checked apart).
    """
    if data_type.kind == "decimal":
        assert data_type.precision is not None
        return pa.decimal128(data_type.precision, data_type.scale or 0)
    if data_type.kind == "array":
        assert data_type.element is not None
        return pa.list_(arrow_type(data_type.element, members, strict=strict))
    if data_type.kind == "struct":
        return pa.struct([arrow_field(m, strict=strict) for m in members or ()])
    return _SCALARS[data_type.kind]


def arrow_field(spec: FieldSpec, *, strict: bool = True) -> pa.Field:
    """The Arrow field of a contract field (nullable unless required and ``strict``)."""
    typ = arrow_type(spec.data_type, spec.fields, strict=strict)
    return pa.field(spec.name, typ, nullable=not (spec.required and strict))


def arrow_schema(contract: Contract) -> pa.Schema:
    """The schema an asset produces for ``contract`` (before the privacy transforms)."""
    return pa.schema([arrow_field(f) for f in contract.fields])


def _member_tags(spec: FieldSpec) -> dict[str, str]:
    tags: dict[str, str] = {"classification": spec.classification}
    if spec.pii:
        tags["pii"] = spec.pii
    if spec.transform is not None:
        tags["transform"] = spec.transform.kind
    return tags


def table_schema(contract: Contract) -> dg.TableSchema:
    """The published columns as Dagster ``TableSchema`` (``dagster/column_schema`` metadata).

    Each column carries its description, nullability, uniqueness (a one-field primary
    key) and tags: ``classification``, and for personal data ``pii`` and ``transform``.
    Struct members that hold personal data are listed in the column's description.
    """
    single_key = contract.primary_key[0] if len(contract.primary_key) == 1 else None
    columns = []
    for col in published_fields(contract):
        spec = col.spec
        description = spec.description or ""
        personal = [
            f"{m.name} ({m.pii}, {m.transform.kind if m.transform else 'no transform'})"
            for m in spec.fields or ()
            if m.pii
        ]
        if personal:
            description = (description + " " if description else "") + (
                "Personal members: " + ", ".join(personal) + "."
            )
        columns.append(
            dg.TableColumn(
                name=col.name,
                type=str(col.type),
                description=description or None,
                constraints=dg.TableColumnConstraints(
                    nullable=not col.required, unique=col.name == single_key
                ),
                tags=_member_tags(spec),
            )
        )
    return dg.TableSchema(columns=columns)
