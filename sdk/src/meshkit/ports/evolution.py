"""Additive schema evolution of a table: what changes, and whether it may be applied in place.

``plan(port, existing, wanted)`` compares a table's columns with the contract's and
returns the ``Evolution`` to apply: new optional columns (``add``) and columns whose
``NOT NULL`` is dropped (``relax``). Anything else is refused with ``SchemaChangeError``,
listing every offending change: a removed field, a changed type (including new members
of a struct), a new required field, optional → required.

This compares the *live table* with the contract, so it is right whatever contract
version created the table; the contracts' ``diff`` gate explains the same changes at
review time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meshkit.ports.base import SchemaChangeError


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


def plan(port: str, existing: Mapping[str, Column], wanted: Sequence[Column]) -> Evolution:
    """The evolution from ``existing`` columns to ``wanted`` (see the module docstring)."""
    refused: list[str] = []
    evolution = Evolution()
    names = {c.name for c in wanted}
    for name in existing:
        if name not in names:
            refused.append(f"field {name!r} was removed (breaking: readers still select it)")
    for col in wanted:
        old = existing.get(col.name)
        if old is None:
            if col.nullable:
                evolution.add.append(col)
            else:
                refused.append(
                    f"field {col.name!r} is new and required (breaking: existing rows have no "
                    "value); add it as optional"
                )
            continue
        if old.type != col.type:
            refused.append(f"field {col.name!r} changes type {old.type} -> {col.type} (breaking)")
        elif old.nullable and not col.nullable:
            refused.append(
                f"field {col.name!r} changes optional -> required (breaking: existing rows may "
                "hold null)"
            )
        elif not old.nullable and col.nullable:
            evolution.relax.append(col)
    if refused:
        raise SchemaChangeError(port, refused)
    return evolution
