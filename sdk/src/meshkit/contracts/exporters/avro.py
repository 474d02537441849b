"""Avro schema of a product's published records (after privacy transforms).

One record named after the product in the domain's namespace. Types: string → string,
integer → long, float → double, boolean → boolean, bytes → bytes, json → string (the
JSON text), decimal(p,s) → bytes with logical type ``decimal``, date → int with
``date``, timestamp → long with ``timestamp-micros`` (an instant, UTC), array<T> →
array, struct → a nested record named by its path (``customer_address``). A field that
may be null is the union ``["null", T]`` with default null, as Avro's schema evolution
needs; required fields have no default.
"""

from __future__ import annotations

from typing import Any

from meshkit.contracts.exporters.base import Exporter, to_json
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import Contract
from meshkit.contracts.types import DataType

_SCALARS: dict[str, Any] = {
    "string": "string",
    "integer": "long",
    "float": "double",
    "boolean": "boolean",
    "bytes": "bytes",
    "json": "string",
    "date": {"type": "int", "logicalType": "date"},
    "timestamp": {"type": "long", "logicalType": "timestamp-micros"},
}


def _type(dtype: DataType, field: PublishedField, record_name: str) -> Any:
    if dtype.kind == "decimal":
        return {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": dtype.precision,
            "scale": dtype.scale,
        }
    if dtype.kind == "array":
        assert dtype.element is not None
        return {"type": "array", "items": _type(dtype.element, field, record_name)}
    if dtype.kind == "struct":
        return {
            "type": "record",
            "name": record_name,
            "fields": [_field(m, f"{record_name}_{m.name}") for m in field.fields],
        }
    return _SCALARS[dtype.kind]


def _field(field: PublishedField, record_name: str) -> dict[str, Any]:
    avro_type = _type(field.type, field, record_name)
    out: dict[str, Any] = {"name": field.name}
    if field.description:
        out["doc"] = field.description
    if field.required:
        out["type"] = avro_type
    else:
        out["type"] = ["null", avro_type]
        out["default"] = None
    return out


def avro_schema(contract: Contract) -> dict[str, Any]:
    """The Avro schema (as JSON data) of the contract's published records."""
    schema: dict[str, Any] = {
        "type": "record",
        "name": contract.name,
        "namespace": contract.domain,
    }
    if contract.description:
        schema["doc"] = contract.description
    schema["fields"] = [_field(f, f"{contract.name}_{f.name}") for f in published_fields(contract)]
    return schema


class AvroExporter(Exporter):
    """Avro schema of the published records (see the module docstring)."""

    name = "avro"
    description = "Avro schema: decimal/date/timestamp-micros logical types, nullable unions"
    extension = ".avsc"

    def export(self, contract: Contract) -> str:
        return to_json(avro_schema(contract))
