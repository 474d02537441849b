"""Erasure of one data subject across the mesh, with proof.

A request names a data subject as ``<type>:<id>`` (``customer:4711``) and is filed once.
The registry finds every product that holds data of that subject type:

- a product *declares* the subject when its contract's ``subject`` (or a field's
  ``subject``) is a published field named ``<type>_id`` or ``<type>``;
- a product downstream of a holder (declared input ports and observed lineage) holds the
  subject's data when it publishes the holder's subject field too (it carries the id);
  one that does not (an aggregate) is listed as excluded, with the reason.

Each holding product's domain worker asks for its work (``work``), erases the subject
and reports evidence per output port (``report``). The registry judges the evidence
against what it knows of the product: every registered port must be covered, no record
of the subject may be left in it, none of the subject's encrypted values may still
decrypt, and in a port with encrypted fields another subject's value must still decrypt
(proof that "unreadable" means erased, not a broken key store). A product is then
``verified``; otherwise ``failed`` with the reason (the worker may report again), or
``reported`` when the evidence cannot prove it either way. A product still ``pending``
after the request's deadline shows as ``overdue``. The request is complete when every
product is verified.

The subject id is never stored in clear: the request keeps a keyed hash of it
(HMAC-SHA256 under a key derived from ``MESHKIT_REGISTRY_ERASURE_KEY``: the same subject
cannot be filed twice while open) and the id encrypted under that key (AES-256-GCM) for
the domain workers, only until the request completes; then the sealed id is deleted.
Answers show the first 16 hex digits of the hash; only a domain's work list holds the
id, for that domain's owner. The audit log records the hash prefix, never the id.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from meshkit_platform.registry import audit
from meshkit_platform.registry.db import Base, OutputPort, PersonalField, Product
from meshkit_platform.registry.erasure_holders import holders
from meshkit_platform.registry.erasure_models import (
    ErasureIn,
    ErasureOut,
    ErasureProductOut,
    ExcludedOut,
    ReportIn,
    WorkItem,
    WorkProduct,
)

SUBJECT = re.compile(r"^([a-z][a-z0-9_]{0,63}):([^\s:][^\s]{0,199})$")


class ErasureError(ValueError):
    """A request that cannot be filed or a report that cannot be taken (HTTP ``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# -- tables ---------------------------------------------------------------------------


class ErasureRequest(Base):
    __tablename__ = "erasure_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_digest: Mapped[str] = mapped_column(String(64))
    subject_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    filed_by: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    excluded: Mapped[list[dict[str, str]]] = mapped_column(JSONB)


class ErasureProduct(Base):
    __tablename__ = "erasure_products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("erasure_requests.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str] = mapped_column(String(128))
    subject_field: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    problem: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


# -- keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureKeys:
    """The two keys derived from the registry's erasure key: hashing and sealing."""

    digest_key: bytes
    seal_key: bytes

    @classmethod
    def derive(cls, secret: str) -> ErasureKeys:
        raw = secret.encode()
        if len(raw) < 32:
            raise ErasureError(
                "MESHKIT_REGISTRY_ERASURE_KEY must be at least 32 characters of secret", 503
            )

        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)

        return cls(derive(b"meshkit registry erasure digest"), derive(b"meshkit erasure seal"))

    def hash(self, subject: str) -> str:
        return hmac.digest(self.digest_key, subject.encode(), "sha256").hex()

    def seal(self, request_id: str, subject_id: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self.seal_key).encrypt(
            nonce, subject_id.encode(), request_id.encode()
        )

    def open(self, request_id: str, sealed: bytes) -> str:
        return AESGCM(self.seal_key).decrypt(sealed[:12], sealed[12:], request_id.encode()).decode()


# -- requests -------------------------------------------------------------------------


def parse_subject(subject: str) -> tuple[str, str]:
    """``(type, id)`` of ``<type>:<id>``; the message never repeats the value."""
    m = SUBJECT.match(subject)
    if m is None:
        raise ErasureError(
            "subject: expected '<type>:<id>' (a lower-case type such as 'customer', a colon, "
            "then the subject's id without spaces, at most 200 characters)",
            422,
        )
    return m.group(1), m.group(2)


def file_request(
    session: Session, body: ErasureIn, *, keys: ErasureKeys, actor: str, domain: str | None
) -> ErasureOut:
    """File a request: find the holders, store the request, audit it.

    ``domain`` is the filing domain owner's domain (None for a platform admin): an owner
    may file only for a subject type their own domain holds."""
    subject_type, subject_id = parse_subject(body.subject)
    digest = keys.hash(f"{subject_type}:{subject_id}")
    open_one = session.scalars(
        select(ErasureRequest.id).where(
            ErasureRequest.subject_digest == digest, ErasureRequest.completed_at.is_(None)
        )
    ).first()
    if open_one is not None:
        raise ErasureError(f"this subject already has an open erasure request: {open_one}", 409)
    found, excluded = holders(session, subject_type)
    if not found:
        raise ErasureError(
            f"no registered product holds data of subject type {subject_type!r} (no contract "
            f"declares a subject field named {subject_type}_id or {subject_type})",
            422,
        )
    if domain is not None and all(h.domain != domain for h in found):
        raise ErasureError(
            f"a domain-owner token may file only for subjects its domain holds; domain "
            f"{domain!r} holds no {subject_type} data",
            403,
        )
    now = datetime.now(UTC)
    request_id = f"er_{secrets.token_hex(8)}"
    request = ErasureRequest(
        id=request_id,
        subject_type=subject_type,
        subject_digest=digest,
        subject_sealed=keys.seal(request_id, subject_id),
        filed_by=actor,
        filed_at=now,
        due_at=now + timedelta(hours=body.due_in_hours),
        completed_at=None,
        excluded=excluded,
    )
    session.add(request)
    session.flush()  # the request row before its products (no ORM relationship orders them)
    for h in found:
        session.add(
            ErasureProduct(
                request_id=request_id,
                address=h.address,
                domain=h.domain,
                subject_field=h.subject_field,
                reason=h.reason,
                status="pending",
            )
        )
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="erasure.file",
        subject=f"erasure:{request_id}",
        detail={
            "subject_type": subject_type,
            "subject_digest": digest[:16],
            "products": [h.address for h in found],
            "due_at": request.due_at.isoformat(),
        },
    )
    return describe(session, request)


def describe(session: Session, request: ErasureRequest) -> ErasureOut:
    """The request as the API shows it, with ``overdue`` computed now."""
    now = datetime.now(UTC)
    rows = session.scalars(
        select(ErasureProduct)
        .where(ErasureProduct.request_id == request.id)
        .order_by(ErasureProduct.address)
    ).all()
    late = request.completed_at is None and now > request.due_at
    products = [
        ErasureProductOut(
            address=p.address,
            domain=p.domain,
            subject_field=p.subject_field,
            reason=p.reason,
            status="overdue" if late and p.status == "pending" else p.status,
            reported_at=p.reported_at,
            verified_at=p.verified_at,
            problem=p.problem,
            evidence=p.evidence,
        )
        for p in rows
    ]
    status: Literal["open", "overdue", "complete"] = (
        "complete"
        if request.completed_at is not None
        else "overdue"
        if any(p.status == "overdue" for p in products)
        else "open"
    )
    return ErasureOut(
        id=request.id,
        subject_type=request.subject_type,
        subject_digest=request.subject_digest[:16],
        filed_by=request.filed_by,
        filed_at=request.filed_at,
        due_at=request.due_at,
        status=status,
        completed_at=request.completed_at,
        products=products,
        excluded=[ExcludedOut(**e) for e in request.excluded],
    )


def domains_of(session: Session, request_id: str) -> set[str]:
    return set(
        session.scalars(
            select(ErasureProduct.domain).where(ErasureProduct.request_id == request_id)
        ).all()
    )


def requests(session: Session, domain: str | None = None) -> list[ErasureOut]:
    """Every request, newest first; with ``domain``, those concerning that domain."""
    stmt = select(ErasureRequest).order_by(ErasureRequest.filed_at.desc())
    if domain is not None:
        stmt = stmt.where(
            ErasureRequest.id.in_(
                select(ErasureProduct.request_id).where(ErasureProduct.domain == domain)
            )
        )
    return [describe(session, r) for r in session.scalars(stmt.limit(500)).all()]


def work(session: Session, domain: str, *, keys: ErasureKeys) -> list[WorkItem]:
    """The open requests with products of ``domain`` not yet verified."""
    rows = session.execute(
        select(ErasureRequest, ErasureProduct)
        .join(ErasureProduct, ErasureProduct.request_id == ErasureRequest.id)
        .where(
            ErasureProduct.domain == domain,
            ErasureProduct.status.in_(("pending", "failed", "reported")),
            ErasureRequest.completed_at.is_(None),
        )
        .order_by(ErasureRequest.filed_at, ErasureProduct.address)
    ).all()
    items: dict[str, WorkItem] = {}
    for request, product in rows:
        if request.subject_sealed is None:
            continue
        item = items.get(request.id)
        if item is None:
            item = items[request.id] = WorkItem(
                request_id=request.id,
                subject_type=request.subject_type,
                subject_id=keys.open(request.id, request.subject_sealed),
                due_at=request.due_at,
                products=[],
            )
        item.products.append(
            WorkProduct(address=product.address, subject_field=product.subject_field)
        )
    return list(items.values())


def _judge(session: Session, address: str, body: ReportIn) -> tuple[str, str | None]:
    """``(status, problem)`` of a product's evidence against its registered ports."""
    line = session.scalars(select(Product).where(Product.address == address)).first()
    ports: dict[str, bool] = {}
    if line is not None:
        for kind, encrypted in session.execute(
            select(OutputPort.kind, PersonalField.id)
            .outerjoin(
                PersonalField,
                (PersonalField.port_id == OutputPort.id) & (PersonalField.transform == "encrypt"),
            )
            .where(OutputPort.product_id == line.id)
        ).all():
            # a search index holds personal data only as tokens (the SDK's search mapping)
            holds = encrypted is not None and kind != "search_index"
            ports[kind] = ports.get(kind, False) or holds
    given = {p.kind: p for p in body.ports}
    problems: list[str] = []
    undecided: list[str] = []
    if not body.key_erased:
        problems.append("the subject's key is not reported erased")
    for kind in sorted(set(ports) - set(given)):
        problems.append(f"no evidence for its {kind} port")
    for kind, ev in sorted(given.items()):
        if kind not in ports:
            problems.append(f"evidence for a {kind} port the product does not register")
            continue
        if ev.subject_records_after:
            problems.append(f"{kind}: {ev.subject_records_after} record(s) of the subject left")
        if ev.ciphertexts_readable:
            problems.append(
                f"{kind}: {ev.ciphertexts_readable} encrypted value(s) of the subject still decrypt"
            )
        if ev.ciphertexts_readable > ev.ciphertexts_checked:
            problems.append(f"{kind}: more values readable than checked")
        if ports[kind]:
            if ev.control_checked == 0:
                undecided.append(f"{kind}: no other subject's encrypted value to check against")
            elif ev.control_readable != ev.control_checked:
                problems.append(
                    f"{kind}: another subject's encrypted values do not decrypt either "
                    "(the key store, not the erasure, may make them unreadable)"
                )
    if problems:
        return "failed", "; ".join(problems)
    if undecided:
        return "reported", "; ".join(undecided)
    return "verified", None


def report(
    session: Session, request_id: str, address: str, body: ReportIn, *, actor: str
) -> ErasureOut:
    """Take a worker's evidence for one product, judge it, complete the request if due."""
    request = session.get(ErasureRequest, request_id, with_for_update=True)
    if request is None:
        raise ErasureError(f"no erasure request {request_id[:40]!r}", 404)
    if request.completed_at is not None:
        raise ErasureError(f"erasure request {request_id} is complete; nothing to report", 409)
    target = session.scalars(
        select(ErasureProduct).where(
            ErasureProduct.request_id == request_id, ErasureProduct.address == address
        )
    ).first()
    if target is None:
        raise ErasureError(f"the request has no product {address[:300]!r}", 404)
    now = datetime.now(UTC)
    status, problem = _judge(session, address, body)
    target.status, target.problem = status, problem
    target.reported_at = now
    target.verified_at = now if status == "verified" else None
    target.evidence = body.model_dump(mode="json")
    audit.append(
        session,
        actor=actor,
        action="erasure.report",
        subject=f"erasure:{request_id}",
        detail={"product": address, "status": status},
    )
    session.flush()
    statuses = domains_status(session, request_id)
    if request.completed_at is None and statuses and all(s == "verified" for s in statuses):
        request.completed_at = now
        request.subject_sealed = None
        audit.append(
            session,
            actor=actor,
            action="erasure.complete",
            subject=f"erasure:{request_id}",
            detail={"products": len(statuses)},
        )
    session.flush()
    return describe(session, request)


def domains_status(session: Session, request_id: str) -> list[str]:
    return list(
        session.scalars(
            select(ErasureProduct.status).where(ErasureProduct.request_id == request_id)
        ).all()
    )
