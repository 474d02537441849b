"""The registry's API models (pydantic): requests, answers and typed errors.

Every error answer has an ``error`` sentence; a refused publish adds the conflicts (the
breaking changes and the consumers they would break), a malformed contract its problems
located to file, line and column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_CONTRACTS = 500
MAX_CONTRACT_CHARS = 1_000_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Model):
    """Any refused request: what is wrong and what to do."""

    error: str


class ProblemOut(_Model):
    """One problem of a contract, where it is and what was expected."""

    file: str
    line: int
    column: int
    field: str
    message: str
    expected: str | None = None
    hint: str | None = None


class ContractProblemsOut(ErrorOut):
    """A publish refused because contracts do not parse or validate (422)."""

    problems: list[ProblemOut]


class ChangeOut(_Model):
    """One change between the registered version and the published one."""

    kind: str
    path: str
    breaking: bool
    detail: str
    old: str | None = None
    new: str | None = None


class ConflictOut(_Model):
    """Why one contract cannot be registered as it is."""

    address: str
    version: str
    registered_version: str | None
    reason: str
    suggested_version: str | None = None
    breaking_changes: list[ChangeOut] = Field(default_factory=list)
    consumers: list[str] = Field(
        default_factory=list, description="Products reading the line through an input port."
    )


class PublishConflictOut(ErrorOut):
    """A publish refused by the compatibility gate (409); nothing was registered."""

    conflicts: list[ConflictOut]


class ContractDocument(_Model):
    """One contract file as published: its name in the domain repo and its YAML/JSON text."""

    file: str = Field(min_length=1, max_length=500)
    text: str = Field(max_length=MAX_CONTRACT_CHARS)


class PublishRequest(_Model):
    """A domain's contracts and what the registry records about the domain."""

    contracts: list[ContractDocument] = Field(min_length=1, max_length=MAX_CONTRACTS)
    owners: list[str] | None = Field(default=None, max_length=50)
    repository: str | None = Field(default=None, max_length=500)
    template_version: str | None = Field(default=None, max_length=64)
    sdk_version: str | None = Field(default=None, max_length=64)


class PublishedOut(_Model):
    """The outcome for one contract: newly registered, or already there (idempotent)."""

    address: str
    version: str
    outcome: Literal["published", "unchanged"]
    content_hash: str


class PublishOut(_Model):
    domain: str
    results: list[PublishedOut]


class PersonalFieldOut(_Model):
    path: str
    pii: str | None
    classification: str
    transform: str | None


class PortOut(_Model):
    kind: str
    address: str
    description: str | None
    personal_fields: list[PersonalFieldOut]


class InputOut(_Model):
    port: str
    source: str


class VersionOut(_Model):
    version: str
    status: str
    content_hash: str
    tags: list[str] = Field(default_factory=list, description="The version's contract tags.")
    published_at: datetime


class OwnerOut(_Model):
    team: str
    contact: str


class RunsAccepted(_Model):
    """Run events recorded, and the product lines they were matched to."""

    accepted: int
    products: list[str]


class Freshness(_Model):
    """The age of a line's newest successful run against its contract's SLO."""

    status: Literal["fresh", "stale", "unknown"]
    slo_seconds: float | None
    age_seconds: float | None


class RunStatus(_Model):
    """A line's newest observed run event and its freshness."""

    last_run_id: str
    last_state: str
    last_event_at: datetime
    last_success_at: datetime | None
    freshness: Freshness


class CheckResult(_Model):
    """One quality check of a run: passed (true), failed (false) or skipped (null)."""

    name: str
    success: bool | None
    severity: str | None


class LastChecks(_Model):
    """A line's newest quality-check run, from OpenLineage ``dataQualityAssertions``."""

    run_id: str
    job: str
    checked_at: datetime
    passed: int
    failed: int
    skipped: int = Field(
        description="Checks without a result (not listed when the "
        "reporter leaves them out of the assertions, as OpenLineage's spec asks)."
    )
    checks: list[CheckResult]


class ProductOut(_Model):
    """One product line (``<domain>.<product>.v<major>``) with everything registered on it."""

    address: str
    domain: str
    name: str
    major: int
    version: str
    status: str
    description: str | None
    tags: list[str] = Field(description="The current version's contract tags.")
    owner: OwnerOut
    has_personal_data: bool
    slo: dict[str, Any] | None
    ports: list[PortOut]
    inputs: list[InputOut]
    consumers: list[str]
    versions: list[VersionOut]
    updated_at: datetime
    run_status: RunStatus | None = Field(
        default=None, description="From OpenLineage run events; null before the first."
    )
    last_checks: LastChecks | None = Field(
        default=None,
        description="The newest checks run reported for the line; null before the first.",
    )


class ProductSummary(_Model):
    address: str
    domain: str
    name: str
    major: int
    version: str
    status: str
    description: str | None
    tags: list[str] = Field(default_factory=list)
    owner_team: str
    has_personal_data: bool
    rank: float | None = None


class SearchPage(_Model):
    total: int
    limit: int
    offset: int
    items: list[ProductSummary]


class LineageNode(_Model):
    address: str
    registered: bool
    status: str | None = None
    depth: int


class LineageEdge(_Model):
    """``source`` is read by ``target``: through input ``port`` (declared), or by ``job``
    in a run (observed)."""

    source: str
    target: str
    kind: Literal["declared", "observed"]
    via: str = Field(description="The input port (declared) or the job (observed).")


class LineageOut(_Model):
    root: str
    direction: Literal["upstream", "downstream", "both"]
    depth: int
    truncated: bool = Field(
        default=False, description="True when the graph had more nodes than the limit (500)."
    )
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class DomainOut(_Model):
    name: str
    owners: list[str]
    repository: str | None
    template_version: str | None
    sdk_version: str | None
    products: list[str]
    updated_at: datetime


class AuditVerifyOut(_Model):
    ok: bool
    entries: int
    first_bad: int | None
    reason: str | None


class HealthOut(_Model):
    status: Literal["ok"]
    schema_revision: str | None
