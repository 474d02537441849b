"""The registry's HTTP API (FastAPI): ``create_app(engine)``.

Endpoints (``/openapi.json`` describes each with its answers)::

    GET  /healthz                                 no token
    GET  /metrics, /readyz                        no token (``metrics``: Prometheus, readiness)
    POST /v1/domains/{domain}/contracts           platform-admin, domain-owner of domain
    POST /v1/contracts        (one YAML contract) platform-admin, domain-owner of its domain
    GET  /v1/products?q=&domain=&status=&personal=&limit=&offset=   any token
    GET  /v1/products/{address}                   any token
    GET  /v1/lineage/{address}?depth=&direction=  any token
    GET  /v1/domains, /v1/domains/{domain}        any token
    GET  /v1/products/{address}/ports/{kind}/odcs any token
    GET  /v1/products/{address}/odps              any token
    GET  /v1/catalog/backstage                    any token
    GET  /v1/audit/verify                         platform-admin
    POST /api/v1/lineage  (OpenLineage events)    platform-admin, domain-owner (own lines)
    /v1/…/access-preview, /v1/…/access-requests, /v1/access-requests…, /v1/grants…
                                                  access requests and grants (``access_api``)
    GET  /ui/…  the catalog web page (``web``; the token in an HttpOnly cookie)
    /v1/erasures…, /v1/domains/{domain}/erasures  erasure across the mesh (``erasure_api``)

Every error is JSON ``{"error": "..."}`` (plus problems or conflicts where there are
some): 401 without a valid token, 403 for the wrong role, 404 unknown, 409 refused by the
compatibility gate, 413 a body over ``max_body_bytes``, 415 a wrong content type, 422
invalid input. Request values are never echoed back in errors.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at
# runtime, and the dependency aliases (``Db``, ``Caller``) are local to ``create_app``.

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic_core import to_json
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

import meshkit_platform
from meshkit.contracts import parse_contract
from meshkit_platform.registry import answers, audit, catalog, erasure_api, exports, migrate
from meshkit_platform.registry.access_api import router as access_router
from meshkit_platform.registry.auth import Principal, authenticate
from meshkit_platform.registry.db import make_engine
from meshkit_platform.registry.lineage import MAX_DEPTH, Direction, lineage_document
from meshkit_platform.registry.metrics import install_metrics
from meshkit_platform.registry.notices import PageRevision
from meshkit_platform.registry.publish import ContractsInvalid, PublishRefused, publish
from meshkit_platform.registry.runs import MAX_EVENTS, NotYourDomain, RunEvent, ingest, status_of
from meshkit_platform.registry.schemas import (
    AuditVerifyOut,
    ContractDocument,
    ContractProblemsOut,
    DomainOut,
    ErrorOut,
    HealthOut,
    LineageOut,
    ProductOut,
    PublishConflictOut,
    PublishOut,
    PublishRequest,
    RunsAccepted,
    SearchPage,
)
from meshkit_platform.registry.settings import RegistrySettings
from meshkit_platform.registry.web import router as web_router

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
NAME = r"^[a-z][a-z0-9_]{0,127}$"

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid token."},
    403: {"model": ErrorOut, "description": "The token's role does not allow this."},
    422: {"model": ErrorOut, "description": "Invalid parameters."},
}


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is answered 413 before the app reads it."""

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.paths = paths or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.paths.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            {"error": f"the request body is larger than the limit of {limit} bytes"},
            status_code=413,
        )
        await response(scope, receive, send)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _with_fresh_status(page: ProductOut) -> bytes:
    """A kept page of a line with runs, its freshness computed as of now."""
    run = page.run_status
    assert run is not None
    now = status_of(
        page.slo, run.last_run_id, run.last_state, run.last_event_at, run.last_success_at
    )
    return page.model_copy(update={"run_status": now}).model_dump_json().encode()


def app_from_environment() -> FastAPI:
    """The application of one ``serve --workers`` process: the catalog's URL and the
    settings from ``MESHKIT_REGISTRY_*`` (the parent has migrated the database)."""
    settings = RegistrySettings()
    if settings.database_url is None:
        raise RuntimeError("MESHKIT_REGISTRY_DATABASE_URL is not set for a registry worker")
    return create_app(make_engine(settings.database_url.get_secret_value()), settings)


def create_app(engine: Engine, settings: RegistrySettings | None = None) -> FastAPI:
    """The registry application over a migrated catalog database."""
    settings = settings or RegistrySettings()
    sessions = sessionmaker(engine, expire_on_commit=False)
    kept = answers.Answers(settings.answers_cache_bytes)  # search pages, lineage graphs
    # product pages: serialised, or as models for lines with runs (freshness moves on)
    pages: answers.Kept[bytes | ProductOut] = answers.Kept(settings.answers_cache_bytes)
    pages_at = PageRevision(engine)
    if settings.answers_cache_bytes:
        event.listen(sessions, "after_commit", lambda _: pages_at.bump())
    app = FastAPI(
        title="meshkit registry",
        version=meshkit_platform.__version__,
        description="The central catalog of data products: publish, search, lineage.",
    )

    def session() -> Iterator[Session]:
        with sessions() as s:
            yield s

    Db = Annotated[Session, Depends(session)]  # noqa: N806 - a type alias

    trusted: dict[str, tuple[Principal, float]] = {}  # token hash → (caller, until)

    def bearer(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def recently_checked(token: str) -> Principal | None:
        cached = trusted.get(hashlib.sha256(token.encode()).hexdigest())
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def unauthorized() -> HTTPException:
        return HTTPException(
            401,
            "a valid API token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def principal(request: Request, db: Db) -> Principal:
        token = bearer(request)
        if token is None:
            raise unauthorized()
        cached = recently_checked(token)
        if cached is not None:
            return cached
        found = authenticate(db, token)
        if found is None:
            raise unauthorized()
        if settings.token_cache_seconds > 0:
            if len(trusted) >= 10_000:
                trusted.clear()
            key = hashlib.sha256(token.encode()).hexdigest()
            trusted[key] = (found, time.monotonic() + settings.token_cache_seconds)
        return found

    async def caller(request: Request) -> Principal:
        """``principal`` on the event loop: a token checked within ``token_cache_seconds``
        costs no worker thread and no database connection; otherwise one thread."""
        token = bearer(request)
        if token is None:
            raise unauthorized()
        cached = recently_checked(token)
        if cached is not None:
            return cached
        return await read(lambda db: principal(request, db))

    def autocommit_session() -> Iterator[Session]:
        """A session whose statements run in autocommit: each sees committed data, as in
        a transaction at READ COMMITTED, without the BEGIN and ROLLBACK round trips around
        every request (the driver's flag is set and cleared without asking the server)."""
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.autocommit = True
            try:
                with Session(bind=conn) as db:
                    yield db
            finally:
                if not raw.closed:  # a dead connection is discarded as it is
                    raw.autocommit = False

    reading = contextmanager(autocommit_session)

    def read(work: Callable[[Session], _T]) -> Awaitable[_T]:
        """Run ``work`` on one worker thread with a session of its own, closed (its
        connection back in the pool) before the thread is free: a read takes one thread
        hop, where a session dependency and a sync endpoint take three. A read whose
        connection turns out dead (the database restarted) runs once more."""

        def run() -> _T:
            for attempt in (1, 2):
                try:
                    with reading() as db:
                        return work(db)
                except DBAPIError as exc:
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
            raise AssertionError("unreachable")

        return run_in_threadpool(run)

    Caller = Annotated[Principal, Depends(caller)]  # noqa: N806 - a type alias

    def admin(caller: Caller) -> Principal:
        if not caller.is_admin:
            raise HTTPException(403, "this needs a platform-admin token")
        return caller

    def require(types: tuple[str, ...]) -> Callable[[Request], None]:
        def check(request: Request) -> None:
            if _media_type(request) not in types:
                raise HTTPException(415, f"the content type must be {' or '.join(types)}")

        return check

    def identity(request: Request) -> None:
        if request.headers.get("content-encoding", "identity").lower() != "identity":
            raise HTTPException(415, "compressed request bodies are not accepted")

    def may_publish(caller: Principal, domain: str) -> None:
        if not caller.may_publish(domain):
            raise HTTPException(
                403,
                f"this token may not publish domain {domain!r} "
                f"(it is a {caller.role} token{' of ' + caller.domain if caller.domain else ''})",
            )

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:20]:
            where = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "invalid request: " + "; ".join(parts)}, 422)

    @app.exception_handler(ContractsInvalid)
    async def _contracts(_: Request, exc: ContractsInvalid) -> JSONResponse:
        body = ContractProblemsOut(error=str(exc), problems=exc.problems)
        return JSONResponse(body.model_dump(mode="json"), 422)

    @app.exception_handler(PublishRefused)
    async def _refused(_: Request, exc: PublishRefused) -> JSONResponse:
        body = PublishConflictOut(error=str(exc), conflicts=exc.conflicts)
        return JSONResponse(body.model_dump(mode="json"), 409)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        _log.error("registry: unexpected %s", type(exc).__name__, exc_info=exc)
        return JSONResponse({"error": "internal error; the registry's log has the details"}, 500)

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, _exc: PoolTimeout) -> JSONResponse:
        _log.warning("registry: no database connection free within the pool timeout")
        return JSONResponse({"error": "the registry is overloaded; retry later"}, 503)

    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: OperationalError) -> JSONResponse:
        _log.warning("registry database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse({"error": "the catalog database is unavailable"}, 503)

    unstorable = (
        "a value in the request cannot be stored: text must not contain NUL (U+0000) "
        "characters, and numbers must fit their fields"
    )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        _log.info("registry: refused a value it cannot store (%s)", type(exc.orig).__name__)
        return JSONResponse({"error": unstorable}, 422)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        # The driver refuses a NUL character in a parameter before sending it.
        if "NUL (0x00)" in str(exc):
            return JSONResponse({"error": unstorable}, 422)
        return await _unexpected(request, exc)

    @app.get("/healthz", response_model=HealthOut, tags=["service"])
    def health() -> HealthOut:
        """The service answers and its database is reachable."""
        return HealthOut(status="ok", schema_revision=migrate.current(engine))

    def _publish(db: Session, caller: Principal, domain: str, req: PublishRequest) -> PublishOut:
        results = publish(db, domain, req, actor=caller.name)
        db.commit()
        return PublishOut(domain=domain, results=results)

    publish_answers: dict[int | str, dict[str, Any]] = {
        **_ERRORS,
        409: {"model": PublishConflictOut, "description": "Refused by the compatibility gate."},
        413: {"model": ErrorOut, "description": "The body is too large."},
        415: {"model": ErrorOut, "description": "Wrong content type."},
        422: {"model": ContractProblemsOut, "description": "Invalid contracts."},
    }

    @app.post(
        "/v1/domains/{domain}/contracts",
        response_model=PublishOut,
        responses=publish_answers,
        tags=["publish"],
        dependencies=[Depends(require(("application/json",)))],
    )
    def publish_domain(
        domain: Annotated[str, Path(pattern=NAME)],
        req: PublishRequest,
        caller: Caller,
        db: Db,
    ) -> PublishOut:
        """Publish a domain's contracts, all or nothing, behind the compatibility gate."""
        may_publish(caller, domain)
        return _publish(db, caller, domain, req)

    @app.post(
        "/v1/contracts",
        response_model=PublishOut,
        responses=publish_answers,
        tags=["publish"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
            }
        },
    )
    async def publish_one(request: Request, caller: Caller) -> PublishOut:
        """Publish one contract sent as YAML (what a generated domain CI posts)."""
        if _media_type(request) not in YAML_TYPES:
            raise HTTPException(415, f"the content type must be one of {', '.join(YAML_TYPES)}")
        if caller.role == "consumer":
            raise HTTPException(403, "a consumer token may not publish")
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(422, "the contract is not UTF-8 text") from None
        contract, _ = parse_contract(text, "request body")
        domain = contract.domain if contract is not None else None
        if domain is None:
            # Unparseable: report its problems under the caller's domain (or none).
            domain = caller.domain or "_"
        else:
            may_publish(caller, domain)
        req = PublishRequest(contracts=[ContractDocument(file="request body", text=text)])

        def run() -> PublishOut:
            with sessions() as db:
                return _publish(db, caller, domain, req)

        return await run_in_threadpool(run)

    @app.get("/v1/products", response_model=SearchPage, responses=_ERRORS, tags=["catalog"])
    async def search(
        _: Caller,
        q: Annotated[str | None, Query(max_length=200)] = None,
        domain: Annotated[str | None, Query(max_length=128)] = None,
        status: Literal["draft", "active", "deprecated", "retired"] | None = None,
        personal: bool | None = None,
        tag: Annotated[str | None, Query(max_length=63)] = None,
        limit: Annotated[int, Query(ge=1, le=catalog.MAX_PAGE)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        """Search product lines (full text, ranked) with filters; one page. ``tag`` keeps
        the lines whose current contract carries that tag."""

        def page(db: Session) -> bytes:
            key = ("search", q, domain, status, personal, tag, limit, offset)
            seen = answers.revision(db)
            body = kept.get(key, seen)
            if body is None:
                body = (
                    catalog.search(
                        db,
                        q=q,
                        domain=domain,
                        status=status,
                        personal=personal,
                        tag=tag,
                        limit=limit,
                        offset=offset,
                    )
                    .model_dump_json()
                    .encode()
                )
                kept.put_bytes(key, seen, body)
            return body

        found = await read(page)
        return Response(found, media_type="application/json")

    not_found: dict[int | str, dict[str, Any]] = {
        **_ERRORS,
        404: {"model": ErrorOut, "description": "No such product."},
    }

    @app.get(
        "/v1/products/{address}", response_model=ProductOut, responses=not_found, tags=["catalog"]
    )
    async def get_product(address: Annotated[str, Path(max_length=300)], _: Caller) -> Response:
        """One product line (``domain.product.vN``, or ``domain.product`` for its newest)."""
        at = pages_at.current()  # read before the database: a later write outdates the page
        if at is not None:
            kept_page = pages.get(address, at)
            if isinstance(kept_page, bytes):
                return Response(kept_page, media_type="application/json")
            if kept_page is not None:  # a line with runs: its freshness is as of now
                return Response(_with_fresh_status(kept_page), media_type="application/json")

        found = await read(lambda db: catalog.product(db, address))
        if found is None:
            raise HTTPException(404, f"no product {address[:300]!r} is registered")
        # Serialised once: returning a Response skips FastAPI's re-validation.
        body = found.model_dump_json().encode()
        if at is not None:
            pages.put(address, at, body if found.run_status is None else found, len(body))
        return Response(body, media_type="application/json")

    @app.get(
        "/v1/lineage/{address}", response_model=LineageOut, responses=not_found, tags=["catalog"]
    )
    async def get_lineage(
        address: Annotated[str, Path(max_length=300)],
        _: Caller,
        depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = 3,
        direction: Direction = "both",
    ) -> Response:
        """The product graph around a line, from its declared input ports."""

        def graph(db: Session) -> bytes | None:
            key = ("lineage", address, depth, direction)
            seen = answers.revision(db)
            body = kept.get(key, seen)
            if body is not None:
                return body
            root = catalog.resolve(db, address)
            if root is None:
                return None
            body = to_json(lineage_document(db, root, depth, direction))
            kept.put_bytes(key, seen, body)
            return body

        body = await read(graph)
        if body is None:
            raise HTTPException(404, f"no product {address[:300]!r} is registered")
        return Response(body, media_type="application/json")

    @app.get(
        "/v1/products/{address}/ports/{kind}/odcs",
        responses=not_found,
        tags=["standards"],
        response_model=dict[str, Any],
    )
    def get_odcs(
        address: Annotated[str, Path(max_length=300)],
        kind: Literal["kafka_topic", "warehouse_table", "search_index", "serving_view"],
        _: Caller,
        db: Db,
    ) -> dict[str, Any]:
        """The ODCS v3.1.0 document of one output port of a product line."""
        line = catalog.find_line(db, address)
        if line is None:
            raise HTTPException(404, f"no product {address[:300]!r} is registered")
        doc = exports.odcs(db, line, kind)
        if doc is None:
            raise HTTPException(404, f"{line.address} has no {kind} port")
        return doc

    @app.get(
        "/v1/products/{address}/odps",
        responses=not_found,
        tags=["standards"],
        response_model=dict[str, Any],
    )
    def get_odps(
        address: Annotated[str, Path(max_length=300)], _: Caller, db: Db
    ) -> dict[str, Any]:
        """The ODPS v1.0.0 (Bitol) data-product document of a product line."""
        line = catalog.find_line(db, address)
        if line is None:
            raise HTTPException(404, f"no product {address[:300]!r} is registered")
        return exports.odps(db, line)

    @app.get(
        "/v1/catalog/backstage",
        responses={
            **_ERRORS,
            200: {
                "description": "Backstage entities, one YAML document each.",
                # a stream of YAML documents: no single JSON schema describes it
                "content": {
                    "application/yaml": {
                        "schema": {
                            "description": "One YAML document per Backstage entity; "
                            "an empty stream when nothing is registered."
                        }
                    }
                },
            },
        },
        response_class=PlainTextResponse,
        tags=["standards"],
    )
    def get_backstage(_: Caller, db: Db) -> PlainTextResponse:
        """The whole catalog as Backstage ``catalog-info.yaml`` entities."""
        return PlainTextResponse(exports.backstage(db), media_type="application/yaml")

    @app.get("/v1/domains", response_model=list[DomainOut], responses=_ERRORS, tags=["catalog"])
    def list_domains(_: Caller, db: Db) -> list[DomainOut]:
        """Every domain with its product lines."""
        return catalog.domains(db)

    @app.get(
        "/v1/domains/{domain}", response_model=DomainOut, responses=not_found, tags=["catalog"]
    )
    def get_domain(domain: Annotated[str, Path(max_length=128)], _: Caller, db: Db) -> DomainOut:
        """One domain with its product lines."""
        found = catalog.domains(db, domain)
        if not found:
            raise HTTPException(404, f"no domain {domain!r} is registered")
        return found[0]

    @app.get("/v1/audit/verify", response_model=AuditVerifyOut, responses=_ERRORS, tags=["audit"])
    def verify_audit(_: Annotated[Principal, Depends(admin)], db: Db) -> AuditVerifyOut:
        """Recompute the audit log's hash chain; name the first entry that does not fit."""
        result = audit.verify(db)
        return AuditVerifyOut(
            ok=result.ok, entries=result.entries, first_bad=result.first_bad, reason=result.reason
        )

    @app.post(
        "/api/v1/lineage",
        response_model=RunsAccepted,
        status_code=201,
        responses={
            **_ERRORS,
            413: {"model": ErrorOut, "description": "Over the size limit."},
            415: {"model": ErrorOut, "description": "Wrong content type or encoding."},
        },
        tags=["runs"],
        dependencies=[Depends(require(("application/json",))), Depends(identity)],
    )
    def lineage_events(
        body: Annotated[RunEvent | list[RunEvent], Body()],
        caller: Caller,
        db: Db,
    ) -> RunsAccepted:
        """Record OpenLineage run events: one event, or a JSON array of up to 1,000."""
        if caller.role == "consumer":
            raise HTTPException(403, "a consumer token may not report runs")
        events = body if isinstance(body, list) else [body]
        if len(events) > MAX_EVENTS:
            raise HTTPException(413, f"a batch holds at most {MAX_EVENTS} events")
        try:
            accepted = ingest(db, events, caller)
        except NotYourDomain as exc:
            raise HTTPException(403, str(exc)) from None
        db.commit()
        return accepted

    app.include_router(access_router(principal, session))
    app.include_router(web_router(sessions, settings))
    app.include_router(erasure_api.router(principal, session, settings))
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        paths={"/api/v1/lineage": settings.max_lineage_bytes},
    )
    install_metrics(app, engine)  # /metrics, /readyz, and the request counts
    return app
