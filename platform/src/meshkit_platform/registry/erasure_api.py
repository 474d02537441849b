"""The registry's erasure endpoints (``meshkit_platform.registry.erasure`` behind HTTP).

::

    POST /v1/erasures                      platform-admin; domain-owner of a holding domain
    GET  /v1/erasures                      platform-admin (all); domain-owner (their domain's)
    GET  /v1/erasures/{id}                 platform-admin; domain-owner of a holding domain
    GET  /v1/domains/{domain}/erasures     platform-admin; domain-owner of domain (the work)
    POST /v1/erasures/{id}/products/{address}/report
                                           platform-admin; domain-owner of the product

A consumer token may do none of these (403). Filing needs the registry's erasure key
(``MESHKIT_REGISTRY_ERASURE_KEY``); without one every erasure endpoint answers 503.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from sqlalchemy.orm import Session

from meshkit_platform.registry import erasure
from meshkit_platform.registry.auth import Principal
from meshkit_platform.registry.erasure import ErasureError, ErasureKeys
from meshkit_platform.registry.erasure_models import ErasureIn, ErasureOut, ReportIn, WorkItem
from meshkit_platform.registry.schemas import ErrorOut
from meshkit_platform.registry.settings import RegistrySettings

NAME = r"^[a-z][a-z0-9_]{0,127}$"
REQUEST_ID = r"^er_[0-9a-f]{16}$"

_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid token."},
    403: {"model": ErrorOut, "description": "The token's role does not allow this."},
    404: {"model": ErrorOut, "description": "No such request or product."},
    409: {"model": ErrorOut, "description": "The subject already has an open request."},
    422: {"model": ErrorOut, "description": "Invalid input, or no product holds the subject."},
    503: {"model": ErrorOut, "description": "The registry has no erasure key."},
}


def router(
    principal: Callable[..., Principal],
    session: Callable[[], Iterator[Session]],
    settings: RegistrySettings,
) -> APIRouter:
    """The erasure routes, authenticated by the app's ``principal`` dependency."""
    api = APIRouter(tags=["erasure"], responses=_ANSWERS)
    Caller = Annotated[Principal, Depends(principal)]  # noqa: N806 - a type alias
    Db = Annotated[Session, Depends(session)]  # noqa: N806 - a type alias

    def keys() -> ErasureKeys:
        if settings.erasure_key is None:
            raise HTTPException(
                503,
                "erasure requests need the registry's erasure key: set "
                "MESHKIT_REGISTRY_ERASURE_KEY (32 or more characters of secret)",
            )
        try:
            return ErasureKeys.derive(settings.erasure_key.get_secret_value())
        except ErasureError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    Keys = Annotated[ErasureKeys, Depends(keys)]  # noqa: N806 - a type alias

    def not_consumer(caller: Principal) -> None:
        if caller.role == "consumer":
            raise HTTPException(403, "a consumer token may not file or read erasure requests")

    def visible(db: Session, caller: Principal, request_id: str) -> None:
        if caller.is_admin:
            return
        if caller.domain not in erasure.domains_of(db, request_id):
            raise HTTPException(
                403, f"this token's domain holds no product of erasure request {request_id}"
            )

    def found(db: Session, request_id: str) -> erasure.ErasureRequest:
        request = db.get(erasure.ErasureRequest, request_id)
        if request is None:
            raise HTTPException(404, f"no erasure request {request_id!r}")
        return request

    @api.post("/v1/erasures", response_model=ErasureOut, status_code=201)
    def file_erasure(body: ErasureIn, caller: Caller, db: Db, k: Keys) -> ErasureOut:
        """File an erasure request for one data subject (``<type>:<id>``)."""
        not_consumer(caller)
        try:
            out = erasure.file_request(
                db,
                body,
                keys=k,
                actor=caller.name,
                domain=None if caller.is_admin else caller.domain,
            )
        except ErasureError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        db.commit()
        return out

    @api.get("/v1/erasures", response_model=list[ErasureOut])
    def list_erasures(caller: Caller, db: Db, _: Keys) -> list[ErasureOut]:
        """Erasure requests, newest first (a domain owner sees those of their domain)."""
        not_consumer(caller)
        return erasure.requests(db, None if caller.is_admin else caller.domain)

    @api.get("/v1/erasures/{request_id}", response_model=ErasureOut)
    def get_erasure(
        request_id: Annotated[str, Path(pattern=REQUEST_ID)], caller: Caller, db: Db, _: Keys
    ) -> ErasureOut:
        """One request with each product's status (``overdue`` past the deadline)."""
        not_consumer(caller)
        request = found(db, request_id)
        visible(db, caller, request_id)
        return erasure.describe(db, request)

    @api.get("/v1/domains/{domain}/erasures", response_model=list[WorkItem])
    def domain_work(
        domain: Annotated[str, Path(pattern=NAME)], caller: Caller, db: Db, k: Keys
    ) -> list[WorkItem]:
        """What the domain's erasure worker must do: open requests for its products."""
        if not caller.may_publish(domain):
            raise HTTPException(
                403, f"only the owner of domain {domain!r} (or a platform admin) reads its work"
            )
        return erasure.work(db, domain, keys=k)

    @api.post("/v1/erasures/{request_id}/products/{address}/report", response_model=ErasureOut)
    def report_erasure(
        request_id: Annotated[str, Path(pattern=REQUEST_ID)],
        address: Annotated[str, Path(max_length=300)],
        body: ReportIn,
        caller: Caller,
        db: Db,
        _: Keys,
    ) -> ErasureOut:
        """A domain worker's evidence for one product; the registry judges it."""
        found(db, request_id)
        domain = address.partition(".")[0]
        if not caller.may_publish(domain):
            raise HTTPException(
                403, f"only the owner of domain {domain!r} (or a platform admin) reports for it"
            )
        try:
            out = erasure.report(db, request_id, address, body, actor=caller.name)
        except ErasureError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        db.commit()
        return out

    return api
