"""The contract of a data product: one YAML file, ``contracts/<product>.yaml``.

``Contract`` is the root. Structure is checked by the pydantic models (unknown keys are
errors); meaning by ``meshkit.contracts.semantics`` (references between fields, ports,
quality rules and mapping; privacy transforms that fit their field's type; ...), run as
the root model's validator, so a ``Contract`` that exists is a valid one. Every error
carries its location (``loc``), which the loader turns into file:line:column.

A minimal contract::

    domain: customers
    name: customer
    version: 1.0.0
    owner: {team: customer-data, contact: customer-data@example.com}
    fields:
      - {name: customer_id, type: string, required: true}
    primary_key: [customer_id]
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from meshkit.contracts._base import ContractModel
from meshkit.contracts.mapping import Mapping
from meshkit.contracts.ports import Ports
from meshkit.contracts.quality import FieldPath, QualityRule, Slo
from meshkit.contracts.transforms import Classification, PiiCategory, Transform
from meshkit.contracts.types import DataType, FieldType

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TAG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
"""A tag: lower-case letters and digits in words joined by single hyphens (``finance``,
``customer-360``), the form Backstage accepts for its entities' tags."""
MAX_TAG_LENGTH = 63
MAX_TAGS = 20
RESERVED_PREFIX = "_meshkit"
"""Field names starting with this (in any case) are refused: the ports add internal
columns named so (``_meshkit_pos``, ``_meshkit_delete``, ``_meshkit_row``, ...), and a field
of the same name would be taken for one (a delete marker, a source position)."""
BIGQUERY_RESERVED_PREFIXES = (
    "_table_",
    "_file_",
    "_partition",
    "_row_timestamp",
    "__root__",
    "_colidentifier",
)
"""Column-name prefixes BigQuery refuses (in any case)."""
MAX_NAME_LENGTH = 63
"""The longest identifier PostgreSQL keeps whole (longer ones are cut, silently)."""
Status = Literal["draft", "active", "deprecated", "retired"]


Tag = Annotated[str, Field(pattern=TAG_PATTERN, max_length=MAX_TAG_LENGTH)]
"""One tag of a product (see ``TAG_PATTERN``)."""


class Owner(ContractModel):
    """Who owns the product and how to reach them."""

    team: str = Field(min_length=1, description="The owning team (e.g. `customer-data`).")
    contact: str = Field(
        pattern=EMAIL_PATTERN, description="An e-mail address that reaches the team."
    )


class FieldSpec(ContractModel):
    """One field of the product's schema, with its privacy declaration."""

    name: str = Field(pattern=FIELD_NAME_PATTERN, description="The field name.")
    type: FieldType = Field(
        description=(
            "`string`, `integer`, `float`, `decimal(p,s)`, `boolean`, `date`, `timestamp` "
            "(time-zone aware), `bytes`, `json`, `array<T>` or `struct` (members in `fields`)."
        )
    )
    required: bool = Field(default=False, description="True when the value is never null.")
    description: str | None = Field(default=None, description="What the field means.")
    fields: tuple[FieldSpec, ...] | None = Field(
        default=None, description="Members of a `struct` (or of the elements of `array<struct>`)."
    )
    classification: Classification = Field(
        default="internal",
        description="`public`, `internal`, `confidential` or `restricted`.",
    )
    pii: PiiCategory | None = Field(
        default=None,
        description=(
            "The kind of personal data held: `email`, `phone`, `name`, `address`, `ip`, "
            "`government_id`, `payment_card`, `date_of_birth`, `free_text` or `other`. "
            "A personal-data field needs a `transform`."
        ),
    )
    transform: Transform | None = Field(
        default=None, description="What happens to the value before it leaves the domain."
    )
    subject: FieldPath | None = Field(
        default=None,
        description="The field identifying this value's data subject (overrides the contract's).",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        lowered = value.lower()
        if lowered.startswith(RESERVED_PREFIX):
            raise ValueError(
                f"field names starting with {RESERVED_PREFIX!r} are reserved for the ports' "
                "internal columns (source position, delete marker, ...); rename the field"
            )
        prefix = next((p for p in BIGQUERY_RESERVED_PREFIXES if lowered.startswith(p)), None)
        if prefix is not None:
            raise ValueError(
                f"BigQuery reserves column names starting with {prefix.upper()!r} (in any "
                "case); rename the field"
            )
        if len(value) > MAX_NAME_LENGTH:
            raise ValueError(
                f"the name has {len(value)} characters; PostgreSQL (the serving view) cuts "
                f"names at {MAX_NAME_LENGTH}, so two long names could become one"
            )
        return value

    @property
    def data_type(self) -> DataType:
        """The parsed type (``type`` is already a ``DataType``; this reads better)."""
        return self.type


class Access(ContractModel):
    """Who may read the product's output ports."""

    visibility: Literal["public", "domain_private"] = Field(
        default="public",
        description="`public`: any team of the mesh may request access; `domain_private`: "
        "only the owning domain.",
    )
    readers: tuple[str, ...] = Field(
        default=(), description="Groups granted read access without a request."
    )


class Contract(ContractModel):
    """The contract of one data product: identity, schema, privacy, quality, ports, access."""

    domain: str = Field(pattern=NAME_PATTERN, description="The owning domain (e.g. `customers`).")
    name: str = Field(pattern=NAME_PATTERN, description="The product name within the domain.")
    version: str = Field(
        pattern=SEMVER_PATTERN,
        description="Semantic version `MAJOR.MINOR.PATCH`; a breaking change bumps MAJOR.",
    )
    status: Status = Field(
        default="draft",
        description="`draft`, `active`, `deprecated` (needs `sunset`) or `retired`.",
    )
    sunset: date | None = Field(
        default=None, description="The date a deprecated product stops being served."
    )
    description: str | None = Field(default=None, description="What the product is for.")
    tags: tuple[Tag, ...] = Field(
        default=(),
        max_length=MAX_TAGS,
        description=(
            "Words the catalog finds and filters the product by (`finance`, `customer-360`): "
            "lower-case letters and digits, words joined by single hyphens."
        ),
    )
    owner: Owner = Field(description="The owning team and its contact.")
    subject: FieldPath | None = Field(
        default=None,
        description="The field identifying the data subject (the person) of each record.",
    )
    fields: tuple[FieldSpec, ...] = Field(min_length=1, description="The schema: the fields.")
    primary_key: tuple[FieldPath, ...] = Field(
        default=(), description="The fields that identify a record (required, scalar)."
    )
    event_time: FieldPath | None = Field(
        default=None, description="The timestamp (or date) field telling when the event happened."
    )
    quality: tuple[QualityRule, ...] = Field(default=(), description="Quality rules.")
    slo: Slo | None = Field(default=None, description="Service-level objectives.")
    ports: Ports = Field(default_factory=Ports, description="Input and output ports.")
    mapping: Mapping | None = Field(
        default=None, description="How fields come from one input port (products without code)."
    )
    access: Access = Field(default_factory=Access, description="Visibility and readers.")

    @field_validator("tags")
    @classmethod
    def _distinct_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({t for t in value if value.count(t) > 1})
        if repeated:
            raise ValueError(f"tag(s) {', '.join(repeated)} listed more than once")
        return value

    @model_validator(mode="after")
    def _semantics(self) -> Contract:
        from meshkit.contracts.semantics import raise_problems

        raise_problems(self)
        return self

    @property
    def id(self) -> str:
        """``<domain>.<product>``."""
        return f"{self.domain}.{self.name}"

    @property
    def major(self) -> int:
        """The major version."""
        return int(self.version.split(".", 1)[0])

    @property
    def address(self) -> str:
        """``<domain>.<product>.v<major>``: the name of the product's output ports."""
        return f"{self.domain}.{self.name}.v{self.major}"

    @cached_property
    def field_index(self) -> dict[str, FieldSpec]:
        """Every field by dotted path (``address.city`` for struct members)."""
        index: dict[str, FieldSpec] = {}

        def walk(fields: tuple[FieldSpec, ...], prefix: str) -> None:
            for f in fields:
                path = prefix + f.name
                index.setdefault(path, f)
                if f.fields:
                    walk(f.fields, path + ".")

        walk(self.fields, "")
        return index

    def field(self, path: str) -> FieldSpec | None:
        """The field at a dotted path, or None."""
        return self.field_index.get(path)

    def subject_of(self, field: FieldSpec) -> str | None:
        """The field identifying the data subject of ``field``'s values."""
        return field.subject or self.subject
