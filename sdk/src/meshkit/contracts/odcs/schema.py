"""The structure of an Open Data Contract Standard (ODCS) v3.0 / v3.1 document.

Used only to check a document before it is imported, so a malformed file gets the same
file:line:column problems as ``meshkit contract lint`` (unknown keys with a
did-you-mean, wrong types). Every key of ODCS v3.0.x and v3.1.0 is accepted; keys the
importer does not use are typed loosely. Servers and authoritative definitions, whose
shapes vary by type, are not checked beyond being mappings.
"""

# ruff: noqa: N815 - the attribute names are the ODCS keys, which are camelCase
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSIONS = ("v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0")


class _Odcs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CustomProperty(_Odcs):
    property: str = Field(description="The property name.")
    value: Any = Field(default=None, description="Its value.")
    id: str | None = None
    description: str | None = None


class _Element(_Odcs):
    id: str | None = None
    name: str = Field(description="The element name.")
    physicalName: str | None = None
    physicalType: str | None = None
    businessName: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    customProperties: list[CustomProperty] | None = None
    authoritativeDefinitions: list[_Open] | None = None
    quality: list[Quality] | None = None
    relationships: list[_Open] | None = None


class Quality(_Odcs):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: Literal["text", "library", "sql", "custom"] | None = None
    metric: str | None = None
    rule: str | None = Field(default=None, description="Deprecated: use metric.")
    arguments: dict[str, Any] | None = None
    validValues: list[Any] | None = None
    unit: str | None = None
    query: str | None = None
    engine: str | None = None
    implementation: str | dict[str, Any] | None = None
    dimension: str | None = None
    method: str | None = None
    severity: str | None = None
    businessImpact: str | None = None
    customProperties: list[CustomProperty] | None = None
    tags: list[str] | None = None
    authoritativeDefinitions: list[_Open] | None = None
    scheduler: str | None = None
    schedule: str | None = None
    mustBe: Any = None
    mustNotBe: Any = None
    mustBeGreaterThan: float | None = None
    mustBeGreaterOrEqualTo: float | None = None
    mustBeLessThan: float | None = None
    mustBeLessOrEqualTo: float | None = None
    mustBeBetween: list[float] | None = Field(default=None, min_length=2, max_length=2)
    mustNotBeBetween: list[float] | None = Field(default=None, min_length=2, max_length=2)


class Property(_Element):
    logicalType: (
        Literal["string", "date", "timestamp", "time", "number", "integer", "object", "array",
                "boolean"] | None
    ) = None  # fmt: skip
    logicalTypeOptions: dict[str, Any] | None = None
    required: bool | None = None
    unique: bool | None = None
    primaryKey: bool | None = None
    primaryKeyPosition: int | None = None
    partitioned: bool | None = None
    partitionKeyPosition: int | None = None
    classification: str | int | None = None
    encryptedName: str | None = None
    transformSourceObjects: list[str] | None = None
    transformLogic: str | None = None
    transformDescription: str | None = None
    examples: list[Any] | None = None
    criticalDataElement: bool | None = None
    properties: list[Property] | None = None
    items: Item | None = None


class Item(Property):
    name: str = ""  # array items have no name


class SchemaObject(_Element):
    logicalType: Literal["object"] | None = None
    dataGranularityDescription: str | None = None
    properties: list[Property] | None = None


class Description(_Odcs):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None
    authoritativeDefinitions: list[_Open] | None = None
    customProperties: list[CustomProperty] | None = None


class Member(_Odcs):
    id: str | None = None
    username: str = Field(description="The member's user name or e-mail address.")
    name: str | None = None
    description: str | None = None
    role: str | None = None
    dateIn: str | None = None
    dateOut: str | None = None
    replacedByUsername: str | None = None
    tags: list[str] | None = None
    customProperties: list[CustomProperty] | None = None
    authoritativeDefinitions: list[_Open] | None = None


class Team(_Odcs):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    members: list[Member] | None = None
    tags: list[str] | None = None
    customProperties: list[CustomProperty] | None = None
    authoritativeDefinitions: list[_Open] | None = None


class Role(_Odcs):
    id: str | None = None
    role: str = Field(description="The role (a group) granted access.")
    description: str | None = None
    access: str | None = None
    firstLevelApprovers: str | None = None
    secondLevelApprovers: str | None = None
    customProperties: list[CustomProperty] | None = None


class SlaProperty(_Odcs):
    id: str | None = None
    property: str = Field(description="The SLA property, e.g. latency or availability.")
    value: Any = Field(description="The agreed value.")
    valueExt: Any = None
    unit: str | None = None
    element: str | None = None
    driver: str | None = None
    description: str | None = None
    scheduler: str | None = None
    schedule: str | None = None


class Support(_Odcs):
    id: str | None = None
    channel: str = Field(description="The channel name.")
    url: str | None = None
    description: str | None = None
    tool: str | None = None
    scope: str | None = None
    invitationUrl: str | None = None
    customProperties: list[CustomProperty] | None = None


class OdcsDocument(_Odcs):
    """An ODCS v3.0 or v3.1 data contract."""

    apiVersion: Literal["v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"] = Field(
        description="The ODCS version: v3.0.0, v3.0.1, v3.0.2 or v3.1.0."
    )
    kind: Literal["DataContract"] = Field(description="Always DataContract.")
    id: str = Field(description="The contract id.")
    version: str = Field(description="The contract version (semantic).")
    status: str = Field(description="proposed, draft, active, deprecated or retired.")
    name: str | None = None
    tenant: str | None = None
    tags: list[str] | None = None
    domain: str | None = None
    dataProduct: str | None = None
    description: Description | str | None = None
    schema_: list[SchemaObject] | None = Field(default=None, alias="schema")
    servers: list[_Open] | None = None
    support: list[Support] | None = None
    price: _Open | None = None
    team: Team | list[Member] | None = None
    roles: list[Role] | None = None
    slaDefaultElement: str | None = None
    slaProperties: list[SlaProperty] | None = None
    authoritativeDefinitions: list[_Open] | None = None
    customProperties: list[CustomProperty] | None = None
    contractCreatedTs: str | None = None


_Element.model_rebuild()
Property.model_rebuild()
Item.model_rebuild()
SchemaObject.model_rebuild()
