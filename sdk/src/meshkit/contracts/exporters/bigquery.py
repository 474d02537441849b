"""BigQuery table schema JSON of a contract's warehouse table.

The schema is the JSON BigQuery's API and ``bq mk --schema`` take: a list of
``{"name", "type", "mode", "description", "fields", "policyTags"}``. Types: string →
STRING, integer → INT64, float → FLOAT64, decimal(p,s) → NUMERIC(p,s) (BIGNUMERIC when
it does not fit NUMERIC), boolean → BOOL, date → DATE, timestamp → TIMESTAMP, bytes →
BYTES, json → JSON, struct → RECORD, array<T> → mode REPEATED (BigQuery has no arrays of
arrays). Columns holding personal data carry a policy-tag placeholder,
``{taxonomy}/policyTags/<pii category>``: provisioning substitutes the taxonomy.
"""

from __future__ import annotations

from typing import Any

from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import Contract
from meshkit.contracts.ports import WarehouseTable
from meshkit.contracts.types import DataType
from meshkit.errors import ContractError

TAXONOMY_PLACEHOLDER = "{taxonomy}"
_SCALARS = {
    "string": "STRING",
    "integer": "INT64",
    "float": "FLOAT64",
    "boolean": "BOOL",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bytes": "BYTES",
    "json": "JSON",
    "struct": "RECORD",
}
_PARTITION_TYPES = {"hour": "HOUR", "day": "DAY", "month": "MONTH", "year": "YEAR"}


def policy_tag(category: str, taxonomy: str = TAXONOMY_PLACEHOLDER) -> str:
    """The policy tag of a PII category under ``taxonomy`` (a placeholder by default)."""
    return f"{taxonomy}/policyTags/{category}"


def bigquery_field(field: PublishedField, *, taxonomy: str | None = TAXONOMY_PLACEHOLDER) -> Any:
    """The schema JSON of one published field (``taxonomy=None``: no policy tags)."""
    dtype, mode = field.type, "REQUIRED" if field.required else "NULLABLE"
    if dtype.kind == "array":
        assert dtype.element is not None
        dtype, mode = dtype.element, "REPEATED"
        if dtype.kind == "array":
            raise ContractError(f"field {field.name!r}: BigQuery has no arrays of arrays")
    out: dict[str, Any] = {"name": field.name, "type": _type(dtype), "mode": mode}
    if dtype.kind == "decimal":
        out["precision"], out["scale"] = str(dtype.precision), str(dtype.scale)
    if field.description:
        out["description"] = field.description
    if dtype.kind == "struct":
        out["fields"] = [bigquery_field(m, taxonomy=taxonomy) for m in field.fields]
    if field.pii and taxonomy is not None and dtype.kind != "struct":
        out["policyTags"] = {"names": [policy_tag(field.pii, taxonomy)]}
    return out


def _type(dtype: DataType) -> str:
    if dtype.kind == "decimal":
        precision, scale = dtype.precision or 0, dtype.scale or 0
        fits = scale <= 9 and precision - scale <= 29
        return "NUMERIC" if fits else "BIGNUMERIC"
    return _SCALARS[dtype.kind]


def bigquery_schema(
    contract: Contract, *, taxonomy: str | None = TAXONOMY_PLACEHOLDER
) -> list[dict[str, Any]]:
    """The table schema JSON of the contract's warehouse table."""
    return [bigquery_field(f, taxonomy=taxonomy) for f in published_fields(contract)]


def bigquery_table_options(contract: Contract) -> dict[str, Any]:
    """Partitioning and clustering of the warehouse port, as the tables API spells them.

    ``{"timePartitioning": {"type": "DAY", "field": "signed_up_at"}, "clustering":
    {"fields": ["tier"]}, "description": ...}``; keys absent when not declared.
    """
    port = next(
        (p for p in contract.ports.outputs if isinstance(p, WarehouseTable)),
        WarehouseTable(kind="warehouse_table"),
    )
    out: dict[str, Any] = {}
    if port.partitioning is not None:
        out["timePartitioning"] = {
            "type": _PARTITION_TYPES[port.partitioning.granularity],
            "field": port.partitioning.field,
        }
    if port.clustering:
        out["clustering"] = {"fields": list(port.clustering)}
    if contract.description:
        out["description"] = contract.description
    return out
