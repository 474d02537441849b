"""The access-request and grant tables (migration ``0004``) and the API's models.

``AccessRequest``: a request for read access to a product line (purpose, reader group,
ports, fields, days) and its decision; ``Grant``: one approved port of a request, its
columns, expiry, revocation and the state provisioning reported. The pydantic models are
what ``access_api`` reads and answers. The rules live in ``access`` (service) and
``access_preview`` (what a reader gets).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from meshkit_platform.registry.db import Base

PortKind = Literal["kafka_topic", "warehouse_table", "search_index", "serving_view"]
Treatment = Literal[
    "clear", "tokenized", "encrypted", "generalized", "masked", "redacted", "dropped"
]
GrantState = Literal["pending", "applied", "removed"]
GRANTEE = r"^[a-z][a-z0-9_]{0,47}$"
MAX_DAYS = 366
DEFAULT_DAYS = 90


class AccessError(Exception):
    """A request the caller may not make, or that cannot be carried out; ``status`` is the
    HTTP answer (403, 404, 409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- tables (created by migration 0004) --------------------------------------------------


class AccessRequest(Base):
    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(32))
    grantee: Mapped[str] = mapped_column(String(63))
    purpose: Mapped[str] = mapped_column(Text)
    ports: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)


class Grant(Base):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    grantee: Mapped[str] = mapped_column(String(63))
    port_kind: Mapped[str] = mapped_column(String(32))
    port_address: Mapped[str] = mapped_column(String(300))
    columns: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(32))
    applied: Mapped[str] = mapped_column(String(16), default="pending")
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def active(self, now: datetime) -> bool:
        """Approved, not revoked and not expired at ``now``."""
        return self.revoked_at is None and self.expires_at > now


# -- API models ---------------------------------------------------------------------------


def _meanings() -> dict[str, str]:
    from meshkit_platform.registry.access_preview import MEANING

    return dict(MEANING)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccessIn(_Model):
    """A request for read access."""

    purpose: str = Field(min_length=3, max_length=2000, description="What the data is for.")
    grantee: str = Field(
        pattern=GRANTEE,
        description="The reader group that gets access (database role meshkit_reader_<grantee>).",
    )
    ports: list[PortKind] = Field(min_length=1, max_length=4, description="The ports asked for.")
    fields: list[str] | None = Field(
        default=None,
        max_length=500,
        description="Top-level fields asked for (default: every field the ports publish).",
    )
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="How long, in days.")


class DecisionIn(_Model):
    """An owner's decision, or a revocation: the reason is kept in the audit log."""

    reason: str = Field(min_length=3, max_length=2000)
    days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="Approve for fewer days than asked."
    )


class FieldPreview(_Model):
    path: str
    type: str
    published_type: str | None
    classification: str
    pii: str | None
    treatment: Treatment
    detail: str
    requested: bool


class PortPreview(_Model):
    kind: str
    address: str
    fields: list[FieldPreview]


class PreviewOut(_Model):
    """What the grantee gets on each port, field by field."""

    address: str
    version: str
    ports: list[PortPreview]
    meaning: dict[str, str] = Field(default_factory=_meanings)


class GrantOut(_Model):
    id: int
    request_id: int
    address: str
    grantee: str
    role: str
    port_kind: str
    port_address: str
    columns: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
    applied: GrantState
    applied_at: datetime | None


class RequestOut(_Model):
    id: int
    address: str
    domain: str
    version: str
    requester: str
    grantee: str
    purpose: str
    ports: list[str]
    fields: list[str]
    days: int
    status: Literal["pending", "approved", "denied"]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    grants: list[GrantOut]


class GrantStateIn(_Model):
    id: int
    state: GrantState


class GrantStatesIn(_Model):
    """What provisioning found after an apply, grant by grant."""

    states: list[GrantStateIn] = Field(max_length=10_000)


class GrantStatesOut(_Model):
    changed: int


class SeenField(_Model):
    path: str
    treatment: Treatment
    detail: str


class ReaderOut(_Model):
    """One reader group reading one port of a product."""

    group: str
    role: str
    source: Literal["contract", "grant"]
    grant_id: int | None
    port_kind: str
    port_address: str
    fields: list[SeenField]
    expires_at: datetime | None
    applied: GrantState | None


class ReadersOut(_Model):
    """Who can read a product, through which ports, seeing which fields how."""

    address: str
    version: str
    readers: list[ReaderOut]
