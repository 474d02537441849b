"""Elasticsearch mapping of a contract's search index.

Text fields listed as ``searchable`` are ``text`` with a ``keyword`` sub-field; other
strings are ``keyword``. integer → long, float → double, decimal → scaled_float (factor
10^scale) , boolean → boolean, date and timestamp → date, bytes → binary, json → an
object that is stored but not indexed, struct → object (members mapped alike), array<T>
→ T (Elasticsearch fields hold arrays as they are). Personal data is indexed only as
tokens: a tokenized field is a ``keyword`` (exact lookups by token); every other field
declared as PII is left out of the mapping and of the documents. The mapping is
``dynamic: strict``, so a document with a field the contract does not declare is refused.
"""

from __future__ import annotations

from typing import Any

from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import Contract
from meshkit.contracts.ports import SearchIndex
from meshkit.contracts.types import DataType

_SCALARS: dict[str, dict[str, Any]] = {
    "integer": {"type": "long"},
    "float": {"type": "double"},
    "boolean": {"type": "boolean"},
    "date": {"type": "date", "format": "strict_date"},
    "timestamp": {"type": "date", "format": "strict_date_optional_time"},
    "bytes": {"type": "binary"},
    "json": {"type": "object", "enabled": False},
}


def indexed(field: PublishedField) -> bool:
    """Whether a field goes into the search index (PII only as tokens)."""
    return field.pii is None or field.transform_kind == "tokenize"


def searchable_fields(contract: Contract) -> tuple[str, ...]:
    port = next((p for p in contract.ports.outputs if isinstance(p, SearchIndex)), None)
    return port.searchable if port is not None else ()


def _mapping(field: PublishedField, path: str, searchable: tuple[str, ...]) -> dict[str, Any]:
    dtype: DataType = field.type.innermost
    if dtype.kind == "struct":
        return {"type": "object", "properties": _properties(field.fields, path + ".", searchable)}
    if dtype.kind == "string":
        if path in searchable and field.pii is None:
            return {"type": "text", "fields": {"keyword": {"type": "keyword"}}}
        return {"type": "keyword"}
    if dtype.kind == "decimal":
        return {"type": "scaled_float", "scaling_factor": 10 ** (dtype.scale or 0)}
    return dict(_SCALARS[dtype.kind])


def _properties(
    fields: tuple[PublishedField, ...], prefix: str, searchable: tuple[str, ...]
) -> dict[str, Any]:
    return {f.name: _mapping(f, prefix + f.name, searchable) for f in fields if indexed(f)}


def elasticsearch_mapping(contract: Contract) -> dict[str, Any]:
    """The ``mappings`` body of the contract's search index."""
    searchable = searchable_fields(contract)
    return {
        "dynamic": "strict",
        "properties": _properties(published_fields(contract), "", searchable),
    }
