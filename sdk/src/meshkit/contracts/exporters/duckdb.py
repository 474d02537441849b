"""DuckDB DDL of a contract's warehouse table.

Types: string → VARCHAR, integer → BIGINT, float → DOUBLE, decimal(p,s) → DECIMAL(p,s),
boolean → BOOLEAN, date → DATE, timestamp → TIMESTAMPTZ, bytes → BLOB, json → JSON,
array<T> → T[], struct → STRUCT(...). Required fields are NOT NULL at the top level.
DuckDB has no table partitioning or clustering; those port options are for BigQuery.

Tokenized and encrypted columns are stored uncompressed (``USING COMPRESSION
uncompressed``): their values are random-looking text that DuckDB's string compression
(FSST) shrinks by about half at about three times the write cost; writes are what the
ports and the batch path wait on, and the local warehouse is a development store.
"""

from __future__ import annotations

from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import Contract
from meshkit.contracts.ports import WarehouseTable
from meshkit.contracts.sql import quote_duckdb
from meshkit.contracts.types import DataType

_SCALARS = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "bytes": "BLOB",
    "json": "JSON",
}


def quote(name: str) -> str:
    """A quoted DuckDB identifier (``meshkit.contracts.sql.quote_duckdb``)."""
    return quote_duckdb(name)


def duckdb_type(field: PublishedField) -> str:
    """The DuckDB type of a published field."""
    return _type(field.type, field.fields)


def _type(dtype: DataType, members: tuple[PublishedField, ...]) -> str:
    if dtype.kind == "decimal":
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if dtype.kind == "array":
        assert dtype.element is not None
        return _type(dtype.element, members) + "[]"
    if dtype.kind == "struct":
        return "STRUCT(" + ", ".join(f"{quote(m.name)} {duckdb_type(m)}" for m in members) + ")"
    return _SCALARS[dtype.kind]


UNCOMPRESSED = " USING COMPRESSION uncompressed"
_HIGH_ENTROPY = frozenset({"tokenize", "encrypt"})


def duckdb_columns(contract: Contract) -> list[tuple[str, str, bool]]:
    """``(name, type, not_null)`` of every column of the contract's table."""
    return [(f.name, duckdb_type(f), f.required) for f in published_fields(contract)]


def uncompressed_columns(contract: Contract) -> frozenset[str]:
    """Columns stored without compression: tokens and ciphertexts (see the module doc)."""
    return frozenset(
        f.name for f in published_fields(contract) if f.transform_kind in _HIGH_ENTROPY
    )


def column_sql(name: str, type_: str, not_null: bool, *, uncompressed: bool = False) -> str:
    """One column definition of ``CREATE TABLE`` / ``ADD COLUMN``."""
    return (
        f"{quote(name)} {type_}{' NOT NULL' if not_null else ''}"
        f"{UNCOMPRESSED if uncompressed else ''}"
    )


def duckdb_table_name(contract: Contract) -> tuple[str, str]:
    """``(schema, table)``: the domain and ``<product>_v<major>``."""
    port = WarehouseTable(kind="warehouse_table")
    return port.dataset(contract), port.table(contract)


def duckdb_ddl(contract: Contract, *, extra_columns: str = "") -> str:
    """``CREATE SCHEMA`` + ``CREATE TABLE IF NOT EXISTS`` statements for the contract's table.

    ``extra_columns`` (e.g. ``'"_meshkit_pos" BIGINT NOT NULL'``) is appended to the
    column list; the output-port writer adds its bookkeeping column this way.
    """
    schema, table = duckdb_table_name(contract)
    plain = uncompressed_columns(contract)
    cols = [
        f"  {column_sql(n, t, nn, uncompressed=n in plain)}"
        for n, t, nn in duckdb_columns(contract)
    ]
    if extra_columns:
        cols.append(f"  {extra_columns}")
    body = ",\n".join(cols)
    return (
        f"CREATE SCHEMA IF NOT EXISTS {quote(schema)};\n"
        f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} (\n{body}\n);\n"
    )
