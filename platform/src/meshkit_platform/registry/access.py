"""Access requests and grants: privacy-aware read access to a product line's ports.

A caller asks for read access to a product line for a ``purpose``, choosing ports and
(optionally) top-level fields, for a ``grantee``: the reader group whose database role
(``meshkit_reader_<grantee>``) receives the permission. ``preview`` says, port by port and
field by field, what the grantee gets (``access_preview``, from the contract's privacy
declaration with the SDK): in clear, tokenized (joinable), encrypted per subject,
generalized, masked, redacted or dropped. The tables and API models are in
``access_models``; this module holds the rules, as functions taking a session.

The owning domain's owner (or a platform admin) approves (one ``Grant`` per port, with an
expiry) or denies, with a reason; nobody else can. A grant is revoked by that owner, an
admin or the requester. Provisioning reads the active grants (approved, unrevoked,
unexpired), applies the serving-view column grants and reports each grant's state back:
``pending`` (not yet applied), ``applied``, or ``removed`` (revoked or expired, and the
permission gone). Every step is written to the audit log; a purpose and a reason are
free text of the people involved, never a value from a data record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meshkit.contracts import Contract, parse_contract
from meshkit.contracts.exporters.published import published_fields
from meshkit_platform.registry import audit
from meshkit_platform.registry.access_models import (
    AccessError,
    AccessIn,
    AccessRequest,
    DecisionIn,
    Grant,
    GrantOut,
    GrantStatesIn,
    RequestOut,
)
from meshkit_platform.registry.access_preview import (
    columns_for,
    port_address,
    preview,
    reader_role,
)
from meshkit_platform.registry.auth import Principal
from meshkit_platform.registry.db import Domain, Product, ProductVersion

# -- reading -------------------------------------------------------------------------------


def current_contract(session: Session, line: Product) -> Contract:
    """The contract of the line's current version, parsed with the SDK."""
    text = session.scalar(
        select(ProductVersion.contract_text).where(
            ProductVersion.product_id == line.id, ProductVersion.version == line.version
        )
    )
    if text is None:
        raise AccessError(404, f"{line.address} has no published contract")
    contract, _ = parse_contract(text, f"{line.address} {line.version}")
    if contract is None:
        raise AccessError(409, f"the registered contract of {line.address} no longer parses")
    return contract


def _grant_out(g: Grant, address: str, now: datetime) -> GrantOut:
    return GrantOut(
        id=g.id,
        request_id=g.request_id,
        address=address,
        grantee=g.grantee,
        role=reader_role(g.grantee),
        port_kind=g.port_kind,
        port_address=g.port_address,
        columns=list(g.columns),
        created_at=g.created_at,
        expires_at=g.expires_at,
        revoked_at=g.revoked_at,
        active=g.active(now),
        applied=g.applied,
        applied_at=g.applied_at,
    )


def request_out(session: Session, req: AccessRequest) -> RequestOut:
    """A request with its grants."""
    line = session.get(Product, req.product_id)
    assert line is not None
    now = datetime.now(UTC)
    grants = session.scalars(
        select(Grant).where(Grant.request_id == req.id).order_by(Grant.port_kind)
    ).all()
    return RequestOut(
        id=req.id,
        address=line.address,
        domain=line.domain.name,
        version=req.version,
        requester=req.requester,
        grantee=req.grantee,
        purpose=req.purpose,
        ports=list(req.ports),
        fields=list(req.fields),
        days=req.days,
        status=req.status,
        created_at=req.created_at,
        decided_at=req.decided_at,
        decided_by=req.decided_by,
        reason=req.reason,
        grants=[_grant_out(g, line.address, now) for g in grants],
    )


def may_decide(caller: Principal, domain: str) -> bool:
    """Only the owning domain's owner (or a platform admin) approves, denies or revokes."""
    return caller.is_admin or (caller.role == "domain-owner" and caller.domain == domain)


def may_see(caller: Principal, req: AccessRequest, domain: str) -> bool:
    """A request is visible to its requester, the owning domain's owner and admins."""
    return may_decide(caller, domain) or req.requester == caller.token_id


def get_request(session: Session, caller: Principal, request_id: int) -> AccessRequest:
    """The request, when the caller may see it (404 otherwise: its existence is not told)."""
    req = session.get(AccessRequest, request_id)
    if req is None:
        raise AccessError(404, f"no access request {request_id}")
    line = session.get(Product, req.product_id)
    assert line is not None
    if not may_see(caller, req, line.domain.name):
        raise AccessError(404, f"no access request {request_id}")
    return req


def list_requests(
    session: Session, caller: Principal, *, status: str | None = None, address: str | None = None
) -> list[AccessRequest]:
    """The requests the caller may see, newest first."""
    stmt = select(AccessRequest).join(Product, Product.id == AccessRequest.product_id)
    if not caller.is_admin:
        mine = AccessRequest.requester == caller.token_id
        if caller.role == "domain-owner":
            owned = Product.domain_id.in_(select(Domain.id).where(Domain.name == caller.domain))
            stmt = stmt.where(or_(mine, owned))
        else:
            stmt = stmt.where(mine)
    if status is not None:
        stmt = stmt.where(AccessRequest.status == status)
    if address is not None:
        stmt = stmt.where(Product.address == address)
    return list(session.scalars(stmt.order_by(AccessRequest.id.desc()).limit(500)).all())


def grants(session: Session, *, address: str | None = None) -> list[GrantOut]:
    """Every grant not yet removed, with whether it is active now (provisioning reads this:
    active grants become column grants, the others are taken away)."""
    now = datetime.now(UTC)
    stmt = select(Grant, Product.address).join(Product, Product.id == Grant.product_id)
    stmt = stmt.where(Grant.applied != "removed")
    if address is not None:
        stmt = stmt.where(Product.address == address)
    rows = session.execute(stmt.order_by(Grant.id)).all()
    return [_grant_out(g, a, now) for g, a in rows]


def product_grants(session: Session, line: Product) -> list[GrantOut]:
    """Every grant of a line (removed ones too), newest first: its consumers."""
    now = datetime.now(UTC)
    found = session.scalars(
        select(Grant).where(Grant.product_id == line.id).order_by(Grant.id.desc()).limit(200)
    ).all()
    return [_grant_out(g, line.address, now) for g in found]


# -- writing -------------------------------------------------------------------------------


def request_access(
    session: Session, caller: Principal, line: Product, body: AccessIn
) -> AccessRequest:
    """File a request (pending); the preview's checks apply (ports and fields exist)."""
    if caller.role == "domain-owner" and caller.domain == line.domain.name:
        raise AccessError(403, f"domain {line.domain.name} owns {line.address}; it needs no grant")
    contract = current_contract(session, line)
    preview(contract, list(body.ports), body.fields)
    fields = body.fields
    if fields is None:
        fields = [f.name for f in published_fields(contract)]
    req = AccessRequest(
        product_id=line.id,
        version=contract.version,
        requester=caller.token_id,
        grantee=body.grantee,
        purpose=body.purpose,
        ports=sorted(set(body.ports)),
        fields=sorted(set(fields)),
        days=body.days,
        status="pending",
        created_at=datetime.now(UTC),
    )
    session.add(req)
    session.flush()
    audit.append(
        session,
        actor=caller.name,
        action="access.request",
        subject=f"access:{req.id}",
        detail={
            "product": line.address,
            "grantee": req.grantee,
            "ports": req.ports,
            "fields": req.fields,
            "days": req.days,
            "purpose": req.purpose,
        },
    )
    return req


def _decidable(
    session: Session, caller: Principal, request_id: int
) -> tuple[AccessRequest, Product]:
    req = session.get(AccessRequest, request_id, with_for_update=True)
    if req is None:
        raise AccessError(404, f"no access request {request_id}")
    line = session.get(Product, req.product_id)
    assert line is not None
    if not may_decide(caller, line.domain.name):
        raise AccessError(
            403,
            f"only an owner of domain {line.domain.name} (or a platform admin) decides on "
            f"access to {line.address}; this is a {caller.role} token"
            + (f" of {caller.domain}" if caller.domain else ""),
        )
    if req.status != "pending":
        raise AccessError(409, f"access request {request_id} is already {req.status}")
    return req, line


def _decided(
    req: AccessRequest, status: str, caller: Principal, reason: str, now: datetime
) -> None:
    req.status, req.decided_at, req.decided_by, req.reason = status, now, caller.token_id, reason


def approve(
    session: Session, caller: Principal, request_id: int, body: DecisionIn
) -> AccessRequest:
    """Approve: one grant per port asked for, expiring after the days asked (or fewer)."""
    req, line = _decidable(session, caller, request_id)
    contract = current_contract(session, line)
    now = datetime.now(UTC)
    days = min(body.days or req.days, req.days)
    expires = now + timedelta(days=days)
    columns = columns_for(contract, list(req.fields))
    present = {p.kind for p in contract.ports.outputs}
    for kind in req.ports:
        if kind not in present:
            raise AccessError(409, f"{line.address} no longer has a {kind} port; deny instead")
        session.add(
            Grant(
                request_id=req.id,
                product_id=line.id,
                grantee=req.grantee,
                port_kind=kind,
                port_address=port_address(contract, kind),
                columns=columns,
                created_at=now,
                expires_at=expires,
                applied="pending",
            )
        )
    _decided(req, "approved", caller, body.reason, now)
    session.flush()
    audit.append(
        session,
        actor=caller.name,
        action="access.approve",
        subject=f"access:{req.id}",
        detail={
            "product": line.address,
            "grantee": req.grantee,
            "ports": list(req.ports),
            "columns": columns,
            "expires_at": expires.isoformat(),
            "reason": body.reason,
        },
    )
    return req


def deny(session: Session, caller: Principal, request_id: int, body: DecisionIn) -> AccessRequest:
    """Deny with a reason."""
    req, line = _decidable(session, caller, request_id)
    now = datetime.now(UTC)
    _decided(req, "denied", caller, body.reason, now)
    audit.append(
        session,
        actor=caller.name,
        action="access.deny",
        subject=f"access:{req.id}",
        detail={"product": line.address, "grantee": req.grantee, "reason": body.reason},
    )
    return req


def revoke(session: Session, caller: Principal, grant_id: int, body: DecisionIn) -> Grant:
    """Revoke a grant: provisioning takes the permission away at its next apply."""
    g = session.get(Grant, grant_id, with_for_update=True)
    if g is None:
        raise AccessError(404, f"no grant {grant_id}")
    line = session.get(Product, g.product_id)
    req = session.get(AccessRequest, g.request_id)
    assert line is not None
    assert req is not None
    if not (may_decide(caller, line.domain.name) or req.requester == caller.token_id):
        raise AccessError(
            403,
            f"only an owner of domain {line.domain.name}, a platform admin or the requester "
            "revokes this grant",
        )
    if g.revoked_at is not None:
        raise AccessError(409, f"grant {grant_id} is already revoked")
    g.revoked_at, g.revoked_by = datetime.now(UTC), caller.token_id
    audit.append(
        session,
        actor=caller.name,
        action="grant.revoke",
        subject=f"grant:{g.id}",
        detail={"product": line.address, "grantee": g.grantee, "reason": body.reason},
    )
    return g


def record_states(session: Session, caller: Principal, body: GrantStatesIn) -> int:
    """Provisioning's report: each grant's state after an apply; changes are audited."""
    if not caller.is_admin:
        raise AccessError(403, "only a platform-admin token (provisioning) reports grant states")
    now = datetime.now(UTC)
    changed = 0
    for item in body.states:
        g = session.get(Grant, item.id, with_for_update=True)
        if g is None or g.applied == item.state:
            continue
        if item.state == "removed" and g.active(now):
            continue  # an active grant is never removed: a stale report
        g.applied, g.applied_at = item.state, now
        changed += 1
        audit.append(
            session,
            actor=caller.name,
            action=f"grant.{item.state}",
            subject=f"grant:{g.id}",
            detail={"grantee": g.grantee, "port": g.port_kind, "columns": list(g.columns)},
        )
    return changed
