"""An access request through the registry, carried out by provisioning.

A second team (a consumer token) asks for two columns of a serving-view product; the
owning domain approves; the platform's provisioning plans with the registry's grants
and applies them (what ``meshkit-platform plan --registry`` then ``apply --registry``
do) and reports the grant's state back. The consumer's PostgreSQL role then reads its
granted columns and is refused every other.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg2
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn
from rich.console import Console

from examples.mesh_job import DOMAINS
from meshkit_platform.provisioning.apply import apply_plan
from meshkit_platform.provisioning.desired import load_domains, reader_role
from meshkit_platform.provisioning.grants import RegistryGrants, report_applied
from meshkit_platform.provisioning.plan import make_plan, render
from meshkit_platform.provisioning.views import ViewBackend

PRODUCT = "recommendations.recommendation.v1"
GRANTEE = "marketing"  # the reader group; its role is meshkit_reader_marketing
ASKED = ["customer_id", "product_ids"]
REFUSED = "categories"  # a column the request did not ask for


def _query(dsn: str, statement: sql.Composable) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def request_access(
    registry: str, serving: str, tokens: dict[str, str], console: Console
) -> dict[str, Any]:
    """File, approve, provision and try out one access request; what each step gave."""
    table = sql.Identifier("public", PRODUCT)
    with httpx.Client(base_url=registry, timeout=30) as client:

        def call(method: str, path: str, token: str, body: Any = None) -> Any:
            answer = client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if answer.is_error:
                raise RuntimeError(f"registry {method} {path}: HTTP {answer.status_code}")
            return answer.json()

        filed = call(
            "POST", f"/v1/products/{PRODUCT}/access-requests", tokens["consumer"],
            {"purpose": "campaign reporting", "grantee": GRANTEE, "ports": ["serving_view"],
             "fields": ASKED},
        )  # fmt: skip
        approved = call(
            "POST", f"/v1/access-requests/{filed['id']}/approve", tokens["recommendations"],
            {"reason": "aggregate reporting only"},
        )  # fmt: skip
        grant = approved["grants"][0]

        contracts = load_domains(DOMAINS)
        view = ViewBackend(serving)
        grants = RegistryGrants(registry, tokens["admin"])
        try:
            wanted = grants.fetch()
            plan = make_plan(contracts, [view], wanted)
            render(plan, console)
            apply_plan(plan, [view], console=console)
            states = report_applied(wanted, contracts, [view], grants)
        finally:
            grants.close()
            view.close()
        state = next((s["state"] for s in states if s["id"] == grant["id"]), "missing")
        shown = next(
            g
            for r in call("GET", "/v1/access-requests", tokens["admin"])
            for g in r["grants"]
            if g["id"] == grant["id"]
        )

    # the reader group's role signs in (locally: made a login role) and reads
    role = reader_role(GRANTEE)
    _query(serving, sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
    as_reader = make_dsn(**{**parse_dsn(serving), "user": role})
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ASKED)
    rows = _query(as_reader, sql.SQL("SELECT {} FROM {}").format(columns, table))
    try:
        _query(as_reader, sql.SQL("SELECT {} FROM {}").format(sql.Identifier(REFUSED), table))
        refused = "read (not refused)"
    except errors.InsufficientPrivilege as exc:
        refused = f"refused: {exc.pgerror.splitlines()[0] if exc.pgerror else 'permission denied'}"
    return {
        "product": PRODUCT,
        "request": filed["id"],
        "grantee": GRANTEE,
        "role": role,
        "columns": grant["columns"],
        "plan_changes": len(plan.pending),
        "applied_state": state,
        "registry_state": shown["applied"],
        "granted_read": {"columns": ASKED, "rows": len(rows)},
        "refused_read": {"column": REFUSED, "result": refused},
    }
