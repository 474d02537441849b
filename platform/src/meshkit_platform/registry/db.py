"""The catalog's tables (SQLAlchemy 2 declarative models) and the engine.

The schema itself is created and changed only by the Alembic migrations in
``meshkit_platform.registry.migrations``; these models describe it for queries.

- ``Domain``: a domain, its owners, repository, template and SDK versions.
- ``Product``: one major line of a data product, named by its address
  ``<domain>.<product>.v<major>``: the current version's status, description, owner,
  tags, field names and search vector. Two majors of one product are two rows, both active
  during a migration.
- ``ProductVersion``: every published contract version (text, content hash, tags).
- ``OutputPort``: the ports of a line with their addresses; ``PersonalField``: each
  personal-data field with its transform on that port.
- ``InputEdge``: a declared input port, the lineage edge from the address it reads.
- ``ApiToken``: hashed API tokens with their role; ``AuditEntry``: the hash-chained log.
- ``Run``: an OpenLineage run; ``ProductRun``: the last run event seen for a line's ports;
  ``ObservedEdge``: lineage seen in runs (a job read the source and wrote the line).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: The full-text search vector of a product line (a stored generated column): its
#: keywords (domain, name, owner team, tags) weigh most, then the description, then field names.
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', keywords), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B') || "
    "setweight(to_tsvector('english', field_names), 'C')"
)


class Base(DeclarativeBase):
    """The declarative base of every registry table."""


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    owners: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    repository: Mapped[str | None] = mapped_column(Text)
    template_version: Mapped[str | None] = mapped_column(String(64))
    sdk_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("domain_id", "name", "major"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    name: Mapped[str] = mapped_column(String(128))
    major: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(300), unique=True)
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    owner_team: Mapped[str] = mapped_column(Text)
    owner_contact: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    field_names: Mapped[str] = mapped_column(Text)
    has_personal_data: Mapped[bool] = mapped_column(Boolean)
    content_hash: Mapped[str] = mapped_column(String(64))
    slo: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR, persisted=True), deferred=True
    )

    domain: Mapped[Domain] = relationship(lazy="joined")


class ProductVersion(Base):
    __tablename__ = "product_versions"
    __table_args__ = (UniqueConstraint("product_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    contract_text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutputPort(Base):
    __tablename__ = "output_ports"
    __table_args__ = (UniqueConstraint("product_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)


class PersonalField(Base):
    __tablename__ = "personal_fields"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    port_id: Mapped[int] = mapped_column(ForeignKey("output_ports.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    pii: Mapped[str | None] = mapped_column(String(64))
    classification: Mapped[str] = mapped_column(String(32))
    transform: Mapped[str | None] = mapped_column(String(32))


class InputEdge(Base):
    __tablename__ = "input_edges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    port_name: Mapped[str] = mapped_column(String(128))
    source_address: Mapped[str] = mapped_column(String(300), index=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str | None] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Run(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_namespace: Mapped[str] = mapped_column(Text)
    job_name: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(Integer)
    facets: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ProductRun(Base):
    __tablename__ = "product_runs"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    last_run_id: Mapped[str] = mapped_column(String(64))
    last_state: Mapped[str] = mapped_column(String(16))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProductCheck(Base):
    """A line's newest quality-check run: the ``dataQualityAssertions`` of the newest run
    event that read the line (name, success, severity each; never a value)."""

    __tablename__ = "product_checks"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(String(64))
    job: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assertions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    skipped: Mapped[int] = mapped_column(Integer)


class ObservedEdge(Base):
    __tablename__ = "observed_edges"

    source_address: Mapped[str] = mapped_column(String(300), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    job: Mapped[str] = mapped_column(Text)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a PostgreSQL URL (``postgresql://…`` uses psycopg2).

    The pool holds more connections (40 + 10 overflow) than the server has worker threads
    (40, FastAPI's thread pool): a request thread never waits for a connection another
    request can only give back on a thread of the same pool, which deadlocked the server
    under load with the default pool (5 + 10); and 40 kept connections are as many as
    the threads can use at once, so none is opened and closed per request under load. A
    checkout that still waits 10 s fails (answered 503). Connections are not pinged on
    checkout (a round trip per request): a connection found dead (the database restarted)
    invalidates the pool, and the API retries a read once on a fresh connection."""
    options: dict[str, Any] = {
        "pool_pre_ping": False,
        "pool_size": 40,
        "max_overflow": 10,
        "pool_timeout": 10,
    }
    return create_engine(url, **{**options, **kwargs})
