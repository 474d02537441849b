"""A meshkit contract as an ODCS v3.1.0 document (``to_odcs``).

Where ODCS has a key, the contract's value goes there (see ``docs/contracts-tools.md``
for the table); what only meshkit knows travels in ``customProperties`` named
``meshkit*`` (the transform with its parameters, the data subject, the event time, the
ports and the mapping), so importing the document gives back the same contract.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meshkit.contracts import quality as q
from meshkit.contracts.model import Contract, FieldSpec
from meshkit.contracts.types import DataType

API_VERSION = "v3.1.0"
SQL_WRAPPER = "SELECT COUNT(*) FROM (\n{sql}\n) AS failing_rows"
LOGICAL = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "bytes": "string",
    "json": "object",
}
SEVERITY = {"error": "error", "warn": "warning"}


def custom(props: dict[str, Any]) -> list[dict[str, Any]]:
    """ODCS ``customProperties`` from a mapping (None values left out)."""
    return [{"property": k, "value": v} for k, v in props.items() if v is not None]


def sla_duration(value: timedelta) -> tuple[int, str]:
    """A duration as ODCS (value, unit): the largest of d, h, min, s that divides it."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "s"


def _type(dtype: DataType, spec: FieldSpec | None, rules: dict[str, list[Any]], path: str) -> Any:
    """The type keys of a property (or array item) of ``dtype``."""
    out: dict[str, Any] = {}
    if dtype.kind == "array":
        assert dtype.element is not None
        out["logicalType"] = "array"
        out["items"] = _type(dtype.element, spec, rules, path)
        return out
    if dtype.kind == "struct":
        out["logicalType"] = "object"
        members = spec.fields if spec is not None and spec.fields else ()
        out["properties"] = [_property(m, rules, f"{path}.{m.name}") for m in members]
        return out
    out["logicalType"] = LOGICAL[dtype.kind]
    out["physicalType"] = str(dtype)
    if dtype.kind == "timestamp":
        out["logicalTypeOptions"] = {"timezone": True}
    return out


def _property(f: FieldSpec, rules: dict[str, list[Any]], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name}
    out.update(_type(f.type, f, rules, path))
    out["required"] = f.required
    if f.description:
        out["description"] = f.description
    out["classification"] = f.classification
    if f.pii is not None:
        out["tags"] = ["pii", f.pii]
    if f.transform is not None and f.transform.kind == "encrypt":
        out["encryptedName"] = f.name  # encrypted in place, under its own name
    props: dict[str, Any] = {}
    if f.transform is not None:
        props["anonymizationStrategy"] = f.transform.kind
        props["meshkitTransform"] = f.transform.model_dump(mode="json", exclude_defaults=True)
        props["meshkitTransform"]["kind"] = f.transform.kind
    props["meshkitSubject"] = f.subject
    if props_list := custom(props):
        out["customProperties"] = props_list
    quality = [_property_rule(r) for r in rules.get(path, ())]
    if quality:
        out["quality"] = quality
    return out


def _common(rule: Any, out: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if rule.name:
        head["name"] = rule.name
    if rule.description:
        head["description"] = rule.description
    return {**head, **out, "severity": SEVERITY[rule.severity]}


def _meshkit_rule(rule: Any) -> dict[str, Any]:
    body = rule.model_dump(
        mode="json", exclude={"name", "description", "severity"}, exclude_none=True
    )
    return {"type": "custom", "engine": "meshkit", "implementation": body}


def _property_rule(rule: Any) -> dict[str, Any]:
    if isinstance(rule, q.NotNull):
        return _common(rule, {"metric": "nullValues", "mustBe": 0})
    if isinstance(rule, q.Unique):
        return _common(rule, {"metric": "duplicateValues", "mustBe": 0})
    if isinstance(rule, q.AcceptedValues):
        args: dict[str, Any] = {"validValues": list(rule.values)}
        return _common(rule, {"metric": "invalidValues", "arguments": args, "mustBe": 0})
    if isinstance(rule, q.Regex):
        args = {"pattern": rule.pattern}
        return _common(rule, {"metric": "invalidValues", "arguments": args, "mustBe": 0})
    return _common(rule, _meshkit_rule(rule))  # range


def _schema_rule(rule: Any) -> dict[str, Any]:
    if isinstance(rule, q.Unique):
        args = {"properties": list(rule.fields)}
        return _common(rule, {"metric": "duplicateValues", "arguments": args, "mustBe": 0})
    if isinstance(rule, q.RowCount):
        if rule.min is not None and rule.max is not None:
            bound: dict[str, Any] = {"mustBeBetween": [rule.min, rule.max]}
        elif rule.min is not None:
            bound = {"mustBeGreaterOrEqualTo": rule.min}
        else:
            bound = {"mustBeLessOrEqualTo": rule.max}
        return _common(rule, {"metric": "rowCount", **bound})
    if isinstance(rule, q.CustomSql):
        query = SQL_WRAPPER.format(sql=rule.sql.strip().replace("{table}", "{object}"))
        return _common(rule, {"type": "sql", "query": query, "mustBe": 0})
    return _common(rule, _meshkit_rule(rule))  # freshness


def _split_rules(contract: Contract) -> tuple[dict[str, list[Any]], list[Any]]:
    by_field: dict[str, list[Any]] = {}
    table: list[Any] = []
    for rule in contract.quality:
        if isinstance(rule, q.Unique) and len(rule.fields) == 1:
            by_field.setdefault(rule.fields[0], []).append(rule)
        elif isinstance(rule, q.NotNull | q.AcceptedValues | q.Regex | q.Range):
            by_field.setdefault(rule.field, []).append(rule)
        else:
            table.append(rule)
    return by_field, table


def _sla(contract: Contract) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    slo = contract.slo
    if slo is not None and slo.freshness is not None:
        value, unit = sla_duration(slo.freshness)
        out.append({"property": "latency", "value": value, "unit": unit})
    if slo is not None and slo.availability is not None:
        out.append({"property": "availability", "value": slo.availability})
    if slo is not None and slo.completeness is not None:
        out.append({"property": "completeness", "value": slo.completeness})
    if contract.sunset is not None:
        out.append({"property": "endOfLife", "value": contract.sunset.isoformat()})
    return out


def to_odcs(contract: Contract) -> dict[str, Any]:
    """The ODCS v3.1.0 document of ``contract`` (plain data, ready for YAML or JSON)."""
    by_field, table_rules = _split_rules(contract)
    pk = {name: i for i, name in enumerate(contract.primary_key, start=1)}
    properties = []
    for f in contract.fields:
        prop = _property(f, by_field, f.name)
        if f.name in pk:
            prop = {**prop, "primaryKey": True, "primaryKeyPosition": pk[f.name]}
        properties.append(prop)
    obj: dict[str, Any] = {
        "name": contract.name,
        "logicalType": "object",
        "physicalType": "table",
        "properties": properties,
    }
    if table_rules:
        obj["quality"] = [_schema_rule(r) for r in table_rules]
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": contract.id,
        "name": contract.name,
        "version": contract.version,
        "status": contract.status,
        "domain": contract.domain,
        "dataProduct": contract.name,
    }
    if contract.description:
        doc["description"] = {"purpose": contract.description}
    if contract.tags:
        doc["tags"] = list(contract.tags)
    doc["schema"] = [obj]
    owner = contract.owner
    doc["team"] = {"name": owner.team, "members": [{"username": owner.contact, "role": "owner"}]}
    doc["support"] = [{"channel": owner.team, "tool": "email", "url": f"mailto:{owner.contact}"}]
    if contract.access.readers:
        doc["roles"] = [{"role": r, "access": "read"} for r in contract.access.readers]
    if sla := _sla(contract):
        doc["slaProperties"] = sla
    extra = {
        "meshkitSubject": contract.subject,
        "meshkitEventTime": contract.event_time,
        "meshkitVisibility": contract.access.visibility,
        "meshkitPorts": contract.ports.model_dump(mode="json", exclude_defaults=True) or None,
        "meshkitMapping": contract.mapping.model_dump(mode="json", exclude_defaults=True)
        if contract.mapping is not None
        else None,
    }
    doc["customProperties"] = custom(extra)
    return doc
