"""The registry's access-request endpoints (``meshkit_platform.registry.access`` behind HTTP).

::

    GET  /v1/products/{address}/access-preview?port=&field=   any token
    GET  /v1/products/{address}/readers           any token: who reads it, how
    POST /v1/products/{address}/access-requests   any token but the owning domain's owner
    GET  /v1/access-requests?status=&product=     the caller's own; an owner's domain; admin
    GET  /v1/access-requests/{id}                 requester, owner of the domain, admin
    POST /v1/access-requests/{id}/approve         owner of the product's domain, admin
    POST /v1/access-requests/{id}/deny            owner of the product's domain, admin
    POST /v1/grants/{id}/revoke                   owner of the domain, admin, the requester
    GET  /v1/grants?product=                      platform-admin (provisioning reads them)
    POST /v1/grants/states                        platform-admin (provisioning reports)
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.

from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy.orm import Session

from meshkit_platform.registry import access, access_preview, catalog, readers
from meshkit_platform.registry.access_models import (
    AccessError,
    AccessIn,
    AccessRequest,
    DecisionIn,
    GrantOut,
    GrantStatesIn,
    GrantStatesOut,
    PortKind,
    PreviewOut,
    ReadersOut,
    RequestOut,
)
from meshkit_platform.registry.auth import Principal
from meshkit_platform.registry.db import Product
from meshkit_platform.registry.schemas import ErrorOut

_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid token."},
    403: {"model": ErrorOut, "description": "The token's role does not allow this."},
    404: {"model": ErrorOut, "description": "No such product, request or grant."},
    409: {"model": ErrorOut, "description": "Already decided, or the contract changed."},
    422: {"model": ErrorOut, "description": "Invalid input (unknown port or field)."},
}
Address = Annotated[str, Path(max_length=300)]


def _fail(exc: AccessError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def router(
    principal: Callable[..., Principal], session: Callable[[], Iterator[Session]]
) -> APIRouter:
    """The access routes, authenticated by the app's ``principal`` dependency."""
    api = APIRouter(tags=["access"], responses=_ANSWERS)
    Caller = Annotated[Principal, Depends(principal)]  # noqa: N806 - a type alias
    Db = Annotated[Session, Depends(session)]  # noqa: N806 - a type alias

    def line_of(db: Session, address: str) -> Product:
        line = catalog.find_line(db, address)
        if line is None:
            raise HTTPException(404, f"no product {address[:300]!r} is registered")
        return line

    @api.get("/v1/products/{address}/access-preview", response_model=PreviewOut)
    def get_preview(
        address: Address,
        _: Caller,
        db: Db,
        port: Annotated[list[PortKind] | None, Query(max_length=4)] = None,
        field: Annotated[list[str] | None, Query(max_length=500)] = None,
    ) -> PreviewOut:
        """Per port, field by field: in clear, tokenized, encrypted, generalized, masked,
        redacted or dropped."""
        line = line_of(db, address)
        try:
            return access_preview.preview(access.current_contract(db, line), port, field)
        except AccessError as exc:
            raise _fail(exc) from None

    @api.get("/v1/products/{address}/readers", response_model=ReadersOut)
    def get_readers(address: Address, _: Caller, db: Db) -> ReadersOut:
        """Who can read the product, through which ports, seeing which fields how: the
        contract's reader groups and the active access grants."""
        line = line_of(db, address)
        try:
            contract = access.current_contract(db, line)
        except AccessError as exc:
            raise _fail(exc) from None
        return readers.who_can_read(contract, access.grants(db, address=line.address))

    @api.post("/v1/products/{address}/access-requests", response_model=RequestOut, status_code=201)
    def post_request(address: Address, body: AccessIn, caller: Caller, db: Db) -> RequestOut:
        """Ask for read access to a product line for a purpose."""
        line = line_of(db, address)
        try:
            req = access.request_access(db, caller, line, body)
        except AccessError as exc:
            raise _fail(exc) from None
        out = access.request_out(db, req)
        db.commit()
        return out

    @api.get("/v1/access-requests", response_model=list[RequestOut])
    def get_requests(
        caller: Caller,
        db: Db,
        status: Literal["pending", "approved", "denied"] | None = None,
        product: Annotated[str | None, Query(max_length=300)] = None,
    ) -> list[RequestOut]:
        """The requests the caller may see, newest first (at most 500)."""
        found = access.list_requests(db, caller, status=status, address=product)
        return [access.request_out(db, r) for r in found]

    @api.get("/v1/access-requests/{request_id}", response_model=RequestOut)
    def get_request(request_id: int, caller: Caller, db: Db) -> RequestOut:
        """One request with its grants."""
        try:
            return access.request_out(db, access.get_request(db, caller, request_id))
        except AccessError as exc:
            raise _fail(exc) from None

    def decide(
        act: Callable[[Session, Principal, int, DecisionIn], AccessRequest],
    ) -> Callable[[int, DecisionIn, Principal, Session], RequestOut]:
        def run(request_id: int, body: DecisionIn, caller: Principal, db: Session) -> RequestOut:
            try:
                req = act(db, caller, request_id, body)
            except AccessError as exc:
                db.rollback()
                raise _fail(exc) from None
            out = access.request_out(db, req)
            db.commit()
            return out

        return run

    approve, deny = decide(access.approve), decide(access.deny)

    @api.post("/v1/access-requests/{request_id}/approve", response_model=RequestOut)
    def post_approve(request_id: int, body: DecisionIn, caller: Caller, db: Db) -> RequestOut:
        """Approve (owner of the product's domain): a grant per port, with an expiry."""
        return approve(request_id, body, caller, db)

    @api.post("/v1/access-requests/{request_id}/deny", response_model=RequestOut)
    def post_deny(request_id: int, body: DecisionIn, caller: Caller, db: Db) -> RequestOut:
        """Deny with a reason (owner of the product's domain)."""
        return deny(request_id, body, caller, db)

    @api.post("/v1/grants/{grant_id}/revoke", response_model=GrantOut)
    def post_revoke(grant_id: int, body: DecisionIn, caller: Caller, db: Db) -> GrantOut:
        """Revoke a grant; the next apply takes the permission away."""
        try:
            g = access.revoke(db, caller, grant_id, body)
        except AccessError as exc:
            db.rollback()
            raise _fail(exc) from None
        db.commit()
        line = db.get(Product, g.product_id)
        assert line is not None
        return next(x for x in access.product_grants(db, line) if x.id == g.id)

    @api.get("/v1/grants", response_model=list[GrantOut])
    def get_grants(
        caller: Caller, db: Db, product: Annotated[str | None, Query(max_length=300)] = None
    ) -> list[GrantOut]:
        """Every grant not yet removed, with ``active`` (platform-admin: provisioning)."""
        if not caller.is_admin:
            raise HTTPException(403, "this needs a platform-admin token")
        return access.grants(db, address=product)

    @api.post("/v1/grants/states", response_model=GrantStatesOut)
    def post_states(body: GrantStatesIn, caller: Caller, db: Db) -> GrantStatesOut:
        """Provisioning's report after an apply: pending, applied or removed per grant."""
        try:
            changed = access.record_states(db, caller, body)
        except AccessError as exc:
            raise _fail(exc) from None
        db.commit()
        return GrantStatesOut(changed=changed)

    return api
