"""ODCS logical and physical types → meshkit field types.

``physicalType`` is read first: meshkit's own spelling (``decimal(12,2)``, as the
exporter writes it) or a common SQL type (``VARCHAR(18)``, ``NUMERIC(10,2)``,
``TIMESTAMP``, ``BIGINT``...). When it fits the ``logicalType`` it gives the exact type;
otherwise the logical type decides: string → string, integer → integer, number →
float, boolean → boolean, date → date, timestamp → timestamp, time → string.
"""

from __future__ import annotations

import re

from meshkit.contracts.types import DataType, TypeSyntaxError

_ALIASES: dict[str, str] = {}
for _kind, _names in {
    "string": "varchar char character nvarchar nchar text string clob uuid",
    "integer": "int integer bigint smallint tinyint mediumint int64 int32 int16 int8 int4 long",
    "float": "double float real float64 float32 float8 float4",
    "decimal": "numeric decimal number bignumeric bigdecimal",
    "boolean": "bool boolean bit",
    "date": "date",
    "timestamp": "timestamp timestamptz datetime timestamp_tz timestamp_ltz timestamp_ntz",
    "bytes": "bytes blob binary varbinary bytea",
    "json": "json jsonb variant",
}.items():
    for _name in _names.split(" "):
        _ALIASES[_name] = _kind
_ALIASES.update(
    {
        "character varying": "string",
        "double precision": "float",
        "timestamp with time zone": "timestamp",
    }
)
_SQL = re.compile(r"^([a-z_][a-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
DEFAULT_DECIMAL = DataType("decimal", precision=38, scale=9)

FITS = {
    "string": {"string", "bytes", "json"},
    "integer": {"integer"},
    "number": {"float", "decimal", "integer"},
    "boolean": {"boolean"},
    "date": {"date", "timestamp"},  # ODCS v3.0 had no timestamp: date + a physical timestamp
    "timestamp": {"timestamp"},
    "object": {"json"},
}
FROM_LOGICAL = {
    "string": "string",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "time": "string",
    "object": "json",
}


def physical_type(text: str) -> tuple[DataType | None, str | None]:
    """The meshkit type of a physical type, and what of it is lost (None: nothing)."""
    norm = " ".join(text.strip().lower().split())
    try:
        return DataType.parse(norm), None
    except TypeSyntaxError:
        pass
    m = _SQL.match(norm)
    if m is None or m.group(1) not in _ALIASES:
        return None, None
    kind, a, b = _ALIASES[m.group(1)], m.group(2), m.group(3)
    if kind == "decimal":
        if a is None:
            return DEFAULT_DECIMAL, f"no precision given: {DEFAULT_DECIMAL} assumed"
        precision, scale = int(a), int(b or 0)
        if not 1 <= precision <= 38 or scale > precision:
            return None, None
        return DataType("decimal", precision=precision, scale=scale), None
    loss = f"the size ({a}) is not kept" if a is not None else None
    if m.group(1) == "timestamp_ntz":
        loss = "meshkit timestamps are time-zone aware"
    return DataType(kind), loss  # type: ignore[arg-type]
