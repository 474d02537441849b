"""JSON Schema (draft 2020-12) of a product's published records, as its Kafka port carries them.

Records are JSON objects with exactly the published fields (``additionalProperties:
false``); a required field must be present and not null, others may be left out or
null. Types: string → string, integer → integer, float → number, boolean → boolean,
decimal(p,s) → a string (exact, as the port writers send decimals) or a number, with a
pattern bounding its digits, date → string ``format: date``, timestamp → string
``format: date-time``, bytes → base64 text, json → any value, array<T> → array, struct
→ a nested object. Per-record quality rules of fields published unchanged become
keywords: ``not_null`` → required, ``accepted_values`` → ``enum``, ``range`` →
``minimum``/``maximum`` (numbers), ``regex`` → ``pattern`` (anchored). Rules of
transformed fields are left out: they hold for the value before its transform.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshkit.contracts import quality as q
from meshkit.contracts.exporters.base import Exporter, to_json
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import Contract
from meshkit.contracts.types import DataType

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
    "json": {},
}
# RE2 syntax JSON Schema's ECMA-262 patterns lack: named groups, \A \z, inline flags,
# Unicode and POSIX classes, \C, \Q...\E; such a rule is left out of the JSON Schema
_NOT_ECMA = ("(?P", "(?<", "\\A", "\\z", "(?i", "(?s", "(?m", "(?U", "(?-", "\\p", "\\P",
             "[[:", "\\C", "\\Q")  # fmt: skip


def _decimal(dtype: DataType) -> dict[str, Any]:
    digits = (dtype.precision or 0) - (dtype.scale or 0)
    whole = rf"\d{{1,{digits}}}" if digits > 0 else "0"
    frac = rf"(\.\d{{1,{dtype.scale}}})?" if dtype.scale else ""
    return {"type": ["string", "number"], "pattern": f"^-?{whole}{frac}$"}


class _Builder:
    def __init__(self, contract: Contract) -> None:
        self.rules: dict[str, list[Any]] = defaultdict(list)
        for rule in contract.quality:
            if isinstance(rule, q.NotNull | q.AcceptedValues | q.Range | q.Regex):
                self.rules[rule.field].append(rule)

    def type_schema(self, dtype: DataType, field: PublishedField, path: str) -> dict[str, Any]:
        if dtype.kind == "decimal":
            return _decimal(dtype)
        if dtype.kind == "array":
            assert dtype.element is not None
            return {"type": "array", "items": self.type_schema(dtype.element, field, path)}
        if dtype.kind == "struct":
            return self.object(field.fields, path + ".")
        return dict(_SCALARS[dtype.kind])

    def field(self, field: PublishedField, path: str) -> tuple[dict[str, Any], bool]:
        """The schema of a field and whether it is required."""
        schema = self.type_schema(field.type, field, path)
        required = field.required
        if field.transform_kind is None:
            for rule in self.rules.get(path, ()):
                required = self.apply(rule, schema, field.type) or required
        if field.description:
            schema = {"description": field.description, **schema}
        if not required and "type" in schema:
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            schema["type"] = [*kinds, "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema, required

    @staticmethod
    def apply(rule: Any, schema: dict[str, Any], dtype: DataType) -> bool:
        """Add ``rule`` to ``schema``; True when it makes the field required."""
        if isinstance(rule, q.NotNull):
            return True
        if isinstance(rule, q.AcceptedValues):
            schema["enum"] = list(rule.values)
        elif isinstance(rule, q.Range) and dtype.kind in {"integer", "float"}:
            if rule.min is not None:
                schema["minimum"] = rule.min
            if rule.max is not None:
                schema["maximum"] = rule.max
        elif isinstance(rule, q.Regex) and not any(p in rule.pattern for p in _NOT_ECMA):
            anchored = rule.pattern.startswith("^") and rule.pattern.endswith("$")
            schema["pattern"] = rule.pattern if anchored else f"^(?:{rule.pattern})$"
        return False

    def object(self, fields: tuple[PublishedField, ...], prefix: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in fields:
            properties[f.name], is_required = self.field(f, prefix + f.name)
            if is_required:
                required.append(f.name)
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        out["additionalProperties"] = False
        return out


def json_schema(contract: Contract) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the contract's published records."""
    head: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"urn:meshkit:{contract.address}",
        "title": f"{contract.id} {contract.version}",
    }
    if contract.description:
        head["description"] = contract.description
    return {**head, **_Builder(contract).object(published_fields(contract), "")}


class JsonSchemaExporter(Exporter):
    """JSON Schema (2020-12) of the published records (see the module docstring)."""

    name = "jsonschema"
    description = "JSON Schema (draft 2020-12) of the published records"
    extension = ".schema.json"

    def export(self, contract: Contract) -> str:
        return to_json(json_schema(contract))
