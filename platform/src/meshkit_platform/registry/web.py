"""The catalog web page: server-rendered Jinja2 templates (``templates/``) and one style
sheet (``static/catalog.css``), served by the registry app under ``/ui``. No JavaScript.

::

    GET  /ui/token, POST /ui/token     give the API token once; it is kept in an HttpOnly,
                                       SameSite=Strict cookie (Secure over HTTPS)
    POST /ui/logout                    forget it
    GET  /ui                           search with filters (text, domain, status, personal,
                                       tag); each result shows its tags
    GET  /ui/products/{address}        schema with classifications and each port's
                                       transform, ports, versions and their changes,
                                       owners, SLO and freshness, consumers and grants,
                                       the lineage picture (SVG drawn on the server)
    GET  /ui/domains/{domain}          a domain, its owners and products
    GET  /ui/products/{address}/access the request form with the per-field preview
    POST /ui/products/{address}/access file the request
    GET  /ui/requests[/{id}]           requests the token may see
    POST /ui/requests/{id}/approve|deny, POST /ui/grants/{id}/revoke

The token's role decides what is shown: a page offers only the actions the API would
allow that token (``access.may_decide`` and friends), and the actions go through the
same functions as the API. Every form carries a CSRF token derived from the cookie.
Pages show contracts' metadata, never a value from a data record.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meshkit.contracts import parse_contract
from meshkit.contracts.diff import diff_contracts
from meshkit.contracts.exporters.published import published_fields
from meshkit.contracts.ports import SearchIndex
from meshkit_platform.registry import access, access_preview, catalog, lineage_svg, readers
from meshkit_platform.registry.access_models import AccessError, AccessIn, DecisionIn, RequestOut
from meshkit_platform.registry.auth import Principal, authenticate
from meshkit_platform.registry.db import ProductVersion
from meshkit_platform.registry.lineage import lineage
from meshkit_platform.registry.settings import RegistrySettings

COOKIE = "meshkit_token"
MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 600
_HERE = Path(__file__).parent
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["url"] = lambda s: quote(str(s), safe="")
_ENV.filters["when"] = (
    lambda t: "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
)
_ENV.globals["MEANING"] = access_preview.MEANING
PORT_KINDS = ("kafka_topic", "warehouse_table", "search_index", "serving_view")


class _Redirect(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, to: str) -> None:
        self.to = to


def csrf_token(token: str) -> str:
    """The forms' CSRF token: an HMAC of a fixed label under the API token."""
    return hmac.new(token.encode(), b"meshkit-ui-csrf", hashlib.sha256).hexdigest()[:32]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui") and "//" not in target and "\\" not in target:
        return target
    return "/ui"


async def _form(request: Request) -> dict[str, list[str]]:
    if request.method != "POST":
        return {}
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "the form must be sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    return _parse(body.decode("utf-8", "replace"))


def _parse(query: str) -> dict[str, list[str]]:
    """Form or query fields; more than ``MAX_FIELDS`` is refused (422), never a 500."""
    try:
        return parse_qs(query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise HTTPException(422, f"the form has more than {MAX_FIELDS} fields") from None


Form = Annotated[dict[str, list[str]], Depends(_form)]


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def router(sessions: sessionmaker[Session], settings: RegistrySettings) -> APIRouter:
    """The web pages over the catalog database."""
    del settings  # the pages follow the API's settings through the shared functions
    ui = APIRouter(prefix="/ui", include_in_schema=False)

    def page(
        request: Request, name: str, caller: Principal | None, code: int = 200, **ctx: Any
    ) -> HTMLResponse:
        token = request.cookies.get(COOKIE, "")
        body = _ENV.get_template(name).render(
            caller=caller, csrf=csrf_token(token) if token else "", path=request.url.path, **ctx
        )
        response = HTMLResponse(body, status_code=code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def who(request: Request, db: Session) -> Principal:
        token = request.cookies.get(COOKIE, "")
        found = authenticate(db, token) if token else None
        if found is None:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise _Redirect("/ui/token?" + urlencode({"next": nxt}))
        return found

    def checked(request: Request, db: Session, form: dict[str, list[str]]) -> Principal:
        caller = who(request, db)
        token = request.cookies.get(COOKIE, "")
        if not hmac.compare_digest(_one(form, "csrf"), csrf_token(token)):
            raise HTTPException(403, "the form is stale or from another site; reload the page")
        return caller

    def handle(request: Request, work: Callable[[Session], Response]) -> Response:
        with sessions() as db:
            try:
                return work(db)
            except _Redirect as r:
                return RedirectResponse(r.to, status_code=303)
            except AccessError as exc:
                db.rollback()
                caller = _maybe(request, db)
                return page(request, "error.html", caller, exc.status, message=str(exc))
            except HTTPException as exc:
                db.rollback()
                caller = _maybe(request, db)
                return page(request, "error.html", caller, exc.status_code, message=exc.detail)

    def _maybe(request: Request, db: Session) -> Principal | None:
        token = request.cookies.get(COOKIE, "")
        return authenticate(db, token) if token else None

    @ui.get("/static/catalog.css")
    def css() -> Response:
        body = (_HERE / "static" / "catalog.css").read_text(encoding="utf-8")
        return Response(body, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @ui.get("/token", response_class=HTMLResponse)
    def token_form(request: Request, next: str | None = None) -> Response:
        return page(request, "token.html", None, next=_safe_next(next), failed=False)

    @ui.post("/token")
    def token_set(request: Request, form: Form) -> Response:
        token = _one(form, "token")
        target = _safe_next(_one(form, "next"))
        with sessions() as db:
            found = authenticate(db, token) if token else None
        if found is None:
            return page(request, "token.html", None, 401, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", path="/ui",
            secure=request.url.scheme == "https", max_age=12 * 3600,
        )  # fmt: skip
        return response

    @ui.post("/logout")
    def logout(form: Form) -> Response:
        del form
        response = RedirectResponse("/ui/token", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    @ui.get("", response_class=HTMLResponse)
    def search(
        request: Request,
        q: str | None = None,
        domain: str | None = None,
        status: str | None = None,
        personal: str | None = None,
        tag: str | None = None,
    ) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            flag = {"yes": True, "no": False}.get(personal or "")
            state = status if status in ("draft", "active", "deprecated", "retired") else None
            found = catalog.search(
                db, q=(q or "")[:200] or None, domain=(domain or None) and domain[:128],
                status=state, personal=flag, tag=(tag or None) and tag[:63],
                limit=catalog.MAX_PAGE,
            )  # fmt: skip
            domains = [d.name for d in catalog.domains(db)]
            filters = {"q": q or "", "domain": domain or "", "status": state or "",
                       "personal": personal or "", "tag": tag or ""}  # fmt: skip
            return page(request, "search.html", caller, results=found, domains=domains,
                        filters=filters)  # fmt: skip

        return handle(request, work)

    def line_or_404(db: Session, address: str) -> Any:
        line = catalog.find_line(db, address[:300])
        if line is None:
            raise HTTPException(404, "no such product is registered")
        return line

    @ui.get("/products/{address}", response_class=HTMLResponse)
    def product(request: Request, address: str) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            line = line_or_404(db, address)
            found = catalog.product(db, line.address)
            assert found is not None
            contract = access.current_contract(db, line)
            rows = access_preview.field_rows(contract, None)
            kinds = [p.kind for p in contract.ports.outputs]
            search_fields = {
                f for p in contract.ports.outputs if isinstance(p, SearchIndex)
                for f in p.searchable
            }  # fmt: skip
            graph = lineage(db, line.address, 3, "both")
            domain = line.domain.name
            grants = access.product_grants(db, line)
            reading = readers.who_can_read(contract, access.grants(db, address=line.address))
            requests = [
                access.request_out(db, r)
                for r in access.list_requests(db, caller, address=line.address)
            ]
            return page(
                request, "product.html", caller, p=found, rows=rows, kinds=kinds,
                ports={k: access_preview.port_address(contract, k) for k in kinds},
                searchable=search_fields, changes=_changes(db, line.id),
                svg=Markup(lineage_svg.render(graph)),  # noqa: S704 - every text escaped
                truncated=graph.truncated, grants=grants, requests=requests,
                reading=reading.readers,
                may_decide=access.may_decide(caller, domain),
                may_request=not (caller.role == "domain-owner" and caller.domain == domain),
                now=datetime.now(UTC),
            )  # fmt: skip

        return handle(request, work)

    @ui.get("/domains/{domain}", response_class=HTMLResponse)
    def domain_page(request: Request, domain: str) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            found = catalog.domains(db, domain[:128])
            if not found:
                raise HTTPException(404, "no such domain is registered")
            lines = catalog.search(db, domain=found[0].name, limit=catalog.MAX_PAGE)
            return page(request, "domain.html", caller, d=found[0], lines=lines.items,
                        owner=access.may_decide(caller, found[0].name))  # fmt: skip

        return handle(request, work)

    def _access_form(
        request: Request, db: Session, caller: Principal, address: str, values: dict[str, Any],
        code: int = 200, error: str | None = None,
    ) -> Response:  # fmt: skip
        line = line_or_404(db, address)
        contract = access.current_contract(db, line)
        kinds = [p.kind for p in contract.ports.outputs]
        published = [f.name for f in published_fields(contract)]
        preview = None
        chosen_ports = [k for k in values["ports"] if k in kinds] or kinds
        chosen_fields = [f for f in values["fields"] if f in published] or published
        if values.get("show"):
            preview = access_preview.preview(contract, chosen_ports, chosen_fields)
        return page(
            request, "access.html", caller, code, address=line.address,
            domain=line.domain.name, kinds=kinds, published=published,
            chosen_ports=chosen_ports, chosen_fields=chosen_fields, values=values,
            preview=preview, error=error,
            own=caller.role == "domain-owner" and caller.domain == line.domain.name,
        )  # fmt: skip

    @ui.get("/products/{address}/access", response_class=HTMLResponse)
    def access_form(request: Request, address: str) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            query = _parse(request.url.query)
            values = {
                "ports": query.get("port", []), "fields": query.get("field", []),
                "purpose": (query.get("purpose") or [""])[0][:2000],
                "grantee": (query.get("grantee") or [""])[0][:63],
                "days": (query.get("days") or ["90"])[0][:4], "show": True,
            }  # fmt: skip
            return _access_form(request, db, caller, address, values)

        return handle(request, work)

    @ui.post("/products/{address}/access")
    def access_submit(request: Request, address: str, form: Form) -> Response:
        def work(db: Session) -> Response:
            caller = checked(request, db, form)
            values = {
                "ports": form.get("port", []), "fields": form.get("field", []),
                "purpose": _one(form, "purpose")[:2000], "grantee": _one(form, "grantee")[:63],
                "days": _one(form, "days")[:4] or "90", "show": True,
            }  # fmt: skip
            line = line_or_404(db, address)
            days = str(values["days"])
            try:
                body = AccessIn.model_validate(
                    {"purpose": values["purpose"], "grantee": values["grantee"],
                     "ports": values["ports"], "fields": values["fields"] or None,
                     "days": int(days) if days.isdigit() else -1}
                )  # fmt: skip
            except ValueError as exc:
                return _access_form(request, db, caller, address, values, 422, _explain(exc))
            req = access.request_access(db, caller, line, body)
            db.commit()
            return RedirectResponse(f"/ui/requests/{req.id}", status_code=303)

        return handle(request, work)

    @ui.get("/requests", response_class=HTMLResponse)
    def requests_page(request: Request, status: str | None = None) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            state = status if status in ("pending", "approved", "denied") else None
            found = [
                access.request_out(db, r) for r in access.list_requests(db, caller, status=state)
            ]
            return page(request, "requests.html", caller, requests=found, status=state or "",
                        deciders=_deciders(caller, found), single=False)  # fmt: skip

        return handle(request, work)

    @ui.get("/requests/{request_id}", response_class=HTMLResponse)
    def request_page(request: Request, request_id: int) -> Response:
        def work(db: Session) -> Response:
            caller = who(request, db)
            found = access.request_out(db, access.get_request(db, caller, request_id))
            return page(request, "requests.html", caller, requests=[found], status="",
                        deciders=_deciders(caller, [found]), single=True)  # fmt: skip

        return handle(request, work)

    def _decide(
        request: Request, request_id: int, form: dict[str, list[str]], verb: str
    ) -> Response:
        def work(db: Session) -> Response:
            caller = checked(request, db, form)
            days = _one(form, "days")
            try:
                body = DecisionIn(reason=_one(form, "reason"),
                                  days=int(days) if days.isdigit() else None)  # fmt: skip
            except ValueError as exc:
                raise HTTPException(422, _explain(exc)) from None
            act = access.approve if verb == "approve" else access.deny
            act(db, caller, request_id, body)
            db.commit()
            return RedirectResponse(f"/ui/requests/{request_id}", status_code=303)

        return handle(request, work)

    @ui.post("/requests/{request_id}/approve")
    def approve(request: Request, request_id: int, form: Form) -> Response:
        return _decide(request, request_id, form, "approve")

    @ui.post("/requests/{request_id}/deny")
    def deny(request: Request, request_id: int, form: Form) -> Response:
        return _decide(request, request_id, form, "deny")

    @ui.post("/grants/{grant_id}/revoke")
    def revoke(request: Request, grant_id: int, form: Form) -> Response:
        def work(db: Session) -> Response:
            caller = checked(request, db, form)
            try:
                body = DecisionIn(reason=_one(form, "reason"))
            except ValueError as exc:
                raise HTTPException(422, _explain(exc)) from None
            g = access.revoke(db, caller, grant_id, body)
            db.commit()
            return RedirectResponse(f"/ui/requests/{g.request_id}", status_code=303)

        return handle(request, work)

    return ui


def _deciders(caller: Principal, found: list[RequestOut]) -> set[int]:
    """The requests whose pending decision (and grants) this caller may act on."""
    return {r.id for r in found if access.may_decide(caller, r.domain)}


def _explain(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "invalid input"
    parts = []
    for err in errors()[:10]:
        where = ".".join(str(x) for x in err.get("loc", ())) or "form"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _changes(db: Session, product_id: int) -> list[dict[str, Any]]:
    """Each version with the changes from the one before it (the contracts' diff)."""
    rows = db.execute(
        select(ProductVersion.version, ProductVersion.contract_text, ProductVersion.published_at)
        .where(ProductVersion.product_id == product_id)
        .order_by(ProductVersion.published_at, ProductVersion.id)
    ).all()
    out: list[dict[str, Any]] = []
    previous = None
    for version, text, published_at in rows[-20:]:
        contract, _ = parse_contract(text, version)
        changes: list[dict[str, Any]] = []
        if previous is not None and contract is not None:
            changes = [c.as_dict() for c in diff_contracts(previous, contract).changes]
        out.append({"version": version, "published_at": published_at, "changes": changes})
        previous = contract
    return list(reversed(out))
