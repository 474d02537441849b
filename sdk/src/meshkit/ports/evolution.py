"""Additive schema evolution of a table, decided and explained by the contracts' diff.

``plan(port, existing, wanted, contract)`` compares a table's live columns with the
contract's published fields and returns the ``Evolution`` to apply: new optional columns
(``add``) and columns whose ``NOT NULL`` is dropped (``relax``). Anything else is refused
with ``SchemaChangeError``, which lists every change of the diff that is not one of those
two, each with the diff's kind and the catalogue's reason (``meshkit.contracts.diff``):
a removed or renamed field, a changed, narrowed or even widened type (a column's type is
not changed in place), a new required field, optional → required.

The comparison itself is the contracts' ``diff_fields`` (one implementation of "what
changed"): the live table is read back as the field list it publishes (each column's
type spelled by the backend is mapped to a contract type; a column whose spelling equals
the contract's is taken as exactly the contract's type, struct members included), and
diffed against the contract's published fields. Comparing with the *live table* keeps
this right whatever contract version created the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meshkit.contracts import Contract
from meshkit.contracts.diff import KINDS, diff_fields
from meshkit.contracts.diff import Change as DiffChange
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.model import FieldSpec
from meshkit.contracts.types import DataType
from meshkit.ports.base import SchemaChangeError

APPLIED = frozenset({"field_added_optional", "made_optional"})
"""The diff's kinds a port applies in place (top-level fields only)."""
IGNORED = frozenset({"fields_reordered"})
"""Kinds that need nothing: every port reads columns by name."""


@dataclass(frozen=True)
class Column:
    """A column as the backend spells its type, and whether it may hold null."""

    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class Evolution:
    """The additive changes to apply (both empty: the table already matches)."""

    add: list[Column] = field(default_factory=list)
    relax: list[Column] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.add and not self.relax


def plan(
    port: str, existing: Mapping[str, Column], wanted: Sequence[Column], contract: Contract
) -> Evolution:
    """The evolution from ``existing`` columns to ``wanted`` (see the module docstring).

    ``wanted`` are the contract's published fields as the backend spells them (same
    names as ``published_fields(contract)``).
    """
    published = {f.name: f for f in published_fields(contract)}
    by_name = {c.name: c for c in wanted}
    retyped: list[DiffChange] = []
    old: list[FieldSpec] = []
    for name, col in existing.items():
        want, spec = by_name.get(name), published.get(name)
        if want is not None and spec is not None and want.type == col.type:
            old.append(_spec(name, spec.type, not col.nullable, spec.fields))
            continue
        dtype = contract_type(col.type)
        if spec is not None and want is not None and (dtype is None or dtype.has_members):
            # a struct spelled differently, or a spelling with no contract type: the diff
            # cannot see inside it, so it is reported as what it is, a change of type
            retyped.append(
                DiffChange("type_changed", name, f"{col.type} → {want.type}", col.type, want.type)
            )
            old.append(_spec(name, spec.type, not col.nullable, spec.fields))
            continue
        old.append(_spec(name, dtype or DataType("json"), not col.nullable, ()))
    new = [
        _spec(c.name, published[c.name].type, not c.nullable, published[c.name].fields)
        for c in wanted
    ]
    changes = [*retyped, *diff_fields(tuple(old), tuple(new))]
    evolution = Evolution()
    refused: list[DiffChange] = []
    for change in changes:
        if change.kind in IGNORED:
            continue
        if change.kind in APPLIED and "." not in change.path:
            target = evolution.add if change.kind == "field_added_optional" else evolution.relax
            target.append(by_name[change.path])
            continue
        refused.append(change)
    if refused:
        spelled = {n: (c.type, by_name[n].type) for n, c in existing.items() if n in by_name}
        raise SchemaChangeError(port, [_explain(c, spelled) for c in refused], diff=refused)
    return evolution


def _spec(
    name: str, dtype: DataType, required: bool, members: Sequence[PublishedField]
) -> FieldSpec:
    """A field as the diff compares it: name, type, required and members (no privacy:
    transforms are already applied to what a table holds)."""
    fields = tuple(_spec(m.name, m.type, m.required, m.fields) for m in members) or None
    return FieldSpec.model_construct(name=name, type=dtype, required=required, fields=fields)


def _explain(change: DiffChange, spelled: Mapping[str, tuple[str, str]]) -> str:
    """One refused change: where, the diff's kind and detail, and why a port refuses it."""
    kind = KINDS[change.kind]
    if kind.breaking:
        why = f"breaking: {kind.why}"
    else:
        why = f"compatible for readers ({kind.why}), but a column's type is not changed in place"
    text = f"{change.path}: {change.kind}, {change.detail} ({why})"
    column = spelled.get(change.path)
    if change.kind.startswith("type_") and column is not None and column[0] != column[1]:
        text += f"; column {column[0]} -> {column[1]}"
    return text


_SCALARS = {
    "VARCHAR": "string",
    "TEXT": "string",
    "STRING": "string",
    "BIGINT": "integer",
    "INT64": "integer",
    "INTEGER": "integer",
    "DOUBLE": "float",
    "DOUBLE PRECISION": "float",
    "FLOAT64": "float",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "BOOL": "boolean",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "TIMESTAMP": "timestamp",
    "BLOB": "bytes",
    "BYTEA": "bytes",
    "BYTES": "bytes",
    "JSON": "json",
    "JSONB": "json",
}
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC|BIGNUMERIC)\s*\((\d+)\s*,\s*(\d+)\)$")
_ARRAY = re.compile(r"^(?:ARRAY<(.+)>|(.+)\[\])$")


def contract_type(spelled: str) -> DataType | None:
    """The contract type of a column type as DuckDB, PostgreSQL or BigQuery spell it
    (``BIGINT``, ``numeric(12,2)``, ``ARRAY<STRING>``, ``VARCHAR[]``, ``STRUCT(...)``), or
    None when there is none. A struct comes back without its members."""
    text = spelled.strip().upper()
    if text in _SCALARS:
        return DataType(_SCALARS[text])  # type: ignore[arg-type]
    decimal = _DECIMAL.match(text)
    if decimal:
        return DataType("decimal", int(decimal[1]), int(decimal[2]))
    array = _ARRAY.match(text)
    if array:
        element = contract_type(array[1] or array[2])
        return None if element is None else DataType("array", element=element)
    if text.startswith(("STRUCT", "RECORD")):
        return DataType("struct")
    return None
