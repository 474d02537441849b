"""A contract's schema as Arrow types and as Dagster table-schema metadata.

Two schemas per product:

- the **produced** schema (:func:`arrow_schema`): what an asset returns, before the
  privacy transforms; the I/O manager validates and casts the asset's table to it;
- the **published** schema (``meshkit.contracts.exporters.published``): what leaves the
  domain, after the transforms (dropped fields gone; tokenized and encrypted fields are
  text). The column-schema metadata that Dagster shows (:func:`table_schema`) is this one.

The type mapping is the one of :mod:`meshkit.contracts.arrow` (re-exported here).
"""

from __future__ import annotations

import dagster as dg

from meshkit.contracts import Contract, FieldSpec
from meshkit.contracts.arrow import arrow_field, arrow_schema, arrow_type
from meshkit.contracts.exporters.published import published_fields

__all__ = ["arrow_field", "arrow_schema", "arrow_type", "table_schema"]


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
