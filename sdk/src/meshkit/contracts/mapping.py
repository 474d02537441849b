"""The optional mapping: how a simple product's fields come from one input port.

With a mapping, a product needs no code: the streaming layer generates its dataflow::

    mapping:
      from: crm                 # an input port (may be left out when there is only one)
      filter: "status != 'test' and deleted_at is null"
      fields:
        customer_id: {source: id, cast: string}   # rename id -> customer_id, cast to text
        email: email_address                      # shorthand: just the source column
        # product fields not listed come from the source column of the same name

``filter`` is a small expression language (see ``meshkit.contracts.filter``), parsed
without ``eval``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from meshkit.contracts._base import ContractModel
from meshkit.contracts.types import FieldType


class FieldMapping(ContractModel):
    """Where one product field comes from."""

    source: str | None = Field(
        default=None,
        min_length=1,
        description="The source column (default: the product field's own name); a rename.",
    )
    cast: FieldType | None = Field(
        default=None, description="Convert the source value to this type (default: the field type)."
    )


class Mapping(ContractModel):
    """Product fields from one input port: source columns, renames, casts and a row filter."""

    from_: str | None = Field(
        default=None,
        alias="from",
        description="The input port read (its name); may be left out when there is only one.",
    )
    filter: str | None = Field(
        default=None, min_length=1, description="Keep only rows for which this expression holds."
    )
    fields: dict[str, FieldMapping] = Field(
        default_factory=dict,
        description="Per product field: `{source:, cast:}` or just the source column name.",
    )

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"source": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def source_of(self, field: str) -> str:
        """The source column of a product field."""
        m = self.fields.get(field)
        return m.source if m is not None and m.source else field
