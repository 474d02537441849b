"""The API models of erasure requests (pydantic): what is filed, reported and shown.

Evidence holds counts only, and every model forbids other keys, so a worker cannot send
a value of a record along with its report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PortKind = Literal["kafka_topic", "warehouse_table", "search_index", "serving_view"]
ProductStatus = Literal["pending", "reported", "verified", "failed", "overdue"]
DEFAULT_DUE_HOURS = 720.0  # 30 days: the GDPR's "one month"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErasureIn(_Model):
    """File an erasure: the subject as ``<type>:<id>`` and the deadline for the domains."""

    subject: str = Field(max_length=270, description="The data subject, e.g. `customer:4711`.")
    due_in_hours: float = Field(
        default=DEFAULT_DUE_HOURS,
        gt=0,
        le=2160,
        description="Hours the domains have to report before a product shows overdue.",
    )


class PortEvidence(_Model):
    """What a worker found in one output port: counts only, never a value."""

    kind: PortKind
    subject_records_before: int = Field(ge=0, description="The subject's records found.")
    subject_records_after: int = Field(ge=0, description="The subject's records still live.")
    ciphertexts_checked: int = Field(ge=0, description="The subject's encrypted values read.")
    ciphertexts_readable: int = Field(ge=0, description="Of those, how many still decrypt.")
    control_checked: int = Field(ge=0, description="Another subject's encrypted values read.")
    control_readable: int = Field(ge=0, description="Of those, how many decrypt.")


class ReportIn(_Model):
    """A domain worker's evidence for one product."""

    key_erased: bool = Field(description="The subject's key is deleted from the key store.")
    ports: list[PortEvidence] = Field(max_length=16)


class ErasureProductOut(_Model):
    address: str
    domain: str
    subject_field: str
    reason: str
    status: ProductStatus
    reported_at: datetime | None
    verified_at: datetime | None
    problem: str | None
    evidence: dict[str, Any] | None


class ExcludedOut(_Model):
    address: str
    reason: str


class ErasureOut(_Model):
    """One erasure request: per-product status; the subject only as a hash prefix."""

    id: str
    subject_type: str
    subject_digest: str = Field(description="The first 16 hex digits of the keyed hash.")
    filed_by: str
    filed_at: datetime
    due_at: datetime
    status: Literal["open", "overdue", "complete"]
    completed_at: datetime | None
    products: list[ErasureProductOut]
    excluded: list[ExcludedOut]


class WorkProduct(_Model):
    address: str
    subject_field: str


class WorkItem(_Model):
    """What a domain's worker must erase: the subject id, for that domain only."""

    request_id: str
    subject_type: str
    subject_id: str
    due_at: datetime
    products: list[WorkProduct]
