"""Approved access grants reach the serving view through provisioning, and go again.

The registry (HTTP) → ``meshkit-platform plan/apply``'s grants module → PostgreSQL column
grants on the serving view; the consumer's role reads the granted columns and is
refused the rest; after the grant expires (or is revoked) the next apply removes it and
the registry shows it removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn
from sqlalchemy import text
from sqlalchemy.engine import Engine

from meshkit.cli.failures import run as run_cli
from meshkit.testing import SearchEndpoint
from meshkit_platform.cli import app
from meshkit_platform.provisioning import apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.grants import RegistryGrants, report_applied
from meshkit_platform.provisioning.views import ViewBackend
from tests.platform.registry.conftest import Tokens, bearer

pytestmark = [pytest.mark.services, pytest.mark.slow]

DOMAINS = Path(__file__).parents[2] / "fixtures/access"
PROFILE = DOMAINS / "customers/contracts/profile.yaml"
ADDRESS = "customers.profile.v1"
TABLE = sql.Identifier("public", ADDRESS)


def run(dsn: str, statement: sql.Composable | str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def view(postgres_database: str) -> Iterator[ViewBackend]:
    backend = ViewBackend(postgres_database)
    yield backend
    backend.close()


@pytest.fixture
def registry(server: str, tokens: Tokens) -> Iterator[RegistryGrants]:
    client = RegistryGrants(server, tokens.admin)
    yield client
    client.close()


def _cycle(view: ViewBackend, registry: RegistryGrants) -> list[dict[str, Any]]:
    """What `meshkit-platform plan --registry` then `apply --registry` do."""
    contracts = load_domains(DOMAINS)
    grants = registry.fetch()
    plan = make_plan(contracts, [view], grants)
    apply_plan(plan, [view])
    return report_applied(grants, contracts, [view], registry)


def _grant(client: httpx.Client, tokens: Tokens, grant_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(
        g for r in client.get("/v1/access-requests", headers=bearer(tokens.admin)).json()
        for g in r["grants"] if g["id"] == grant_id
    )  # fmt: skip
    return found


def test_an_approved_grant_is_applied_and_an_expired_one_removed_by_the_next_apply(
    client: httpx.Client,
    tokens: Tokens,
    engine: Engine,
    view: ViewBackend,
    registry: RegistryGrants,
    postgres_database: str,
) -> None:
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    published = client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    assert published.status_code == 200, published.text
    group = f"g{uuid.uuid4().hex[:10]}"
    role = f"meshkit_reader_{group}"
    filed = client.post(
        f"/v1/products/{ADDRESS}/access-requests",
        json={"purpose": "support lookups", "grantee": group, "ports": ["serving_view"],
              "fields": ["id", "city", "phone"]},
        headers=bearer(tokens.consumer),
    )  # fmt: skip
    assert filed.status_code == 201, filed.text
    approved = client.post(
        f"/v1/access-requests/{filed.json()['id']}/approve",
        json={"reason": "support needs it"},
        headers=bearer(tokens.owner_customers),
    )
    grant_id = approved.json()["grants"][0]["id"]
    assert _grant(client, tokens, grant_id)["applied"] == "pending"

    states = _cycle(view, registry)
    assert {"id": grant_id, "state": "applied"} in states
    assert _grant(client, tokens, grant_id)["applied"] == "applied"

    run(postgres_database, sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
    run(
        postgres_database,
        sql.SQL(
            "INSERT INTO {} (id, email, email_token, phone, birth_date, city, _meshkit_pos) "
            "VALUES ('c1', 'enc:v2:x', 'tok:y', '******1234', '1980-01-01', 'Lyon', 1)"
        ).format(TABLE),
    )
    as_reader = make_dsn(**{**parse_dsn(postgres_database), "user": role})
    assert run(as_reader, sql.SQL("SELECT id, city, phone FROM {}").format(TABLE)) == [
        ("c1", "Lyon", "******1234")
    ]
    for refused in ("email", "email_token", "birth_date", "_meshkit_pos"):
        with pytest.raises(errors.InsufficientPrivilege):
            run(as_reader, sql.SQL("SELECT {} FROM {}").format(sql.Identifier(refused), TABLE))

    # the grant expires: the next plan no longer wants it, the apply takes it away
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE grants SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": grant_id},
        )
    states = _cycle(view, registry)
    assert {"id": grant_id, "state": "removed"} in states
    with pytest.raises(errors.InsufficientPrivilege):
        run(as_reader, sql.SQL("SELECT id FROM {}").format(TABLE))
    assert _grant(client, tokens, grant_id)["applied"] == "removed"
    assert grant_id not in {g.id for g in registry.fetch()}
    assert make_plan(load_domains(DOMAINS), [view], registry.fetch()).pending == []


def test_a_revoked_grant_is_removed_by_the_next_apply(
    client: httpx.Client,
    tokens: Tokens,
    view: ViewBackend,
    registry: RegistryGrants,
    postgres_database: str,
) -> None:
    group = f"g{uuid.uuid4().hex[:10]}"
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    filed = client.post(
        f"/v1/products/{ADDRESS}/access-requests",
        json={"purpose": "reporting", "grantee": group, "ports": ["serving_view"]},
        headers=bearer(tokens.consumer),
    ).json()
    grant = client.post(
        f"/v1/access-requests/{filed['id']}/approve", json={"reason": "fine"},
        headers=bearer(tokens.owner_customers),
    ).json()["grants"][0]  # fmt: skip
    assert grant["columns"] == ["birth_date", "city", "email", "email_token", "id", "phone"]
    _cycle(view, registry)
    held = view.read(frozenset({"customers"}))[("table", f"public.{ADDRESS}")]["grants"]
    assert held[f"meshkit_reader_{group}"] == grant["columns"]

    client.post(
        f"/v1/grants/{grant['id']}/revoke", json={"reason": "no longer needed"},
        headers=bearer(tokens.owner_customers),
    )  # fmt: skip
    assert {"id": grant["id"], "state": "removed"} in _cycle(view, registry)
    held = view.read(frozenset({"customers"}))[("table", f"public.{ADDRESS}")]["grants"]
    assert f"meshkit_reader_{group}" not in held


def test_the_command_line_plans_with_the_registrys_grants_and_reports_them(
    client: httpx.Client,
    tokens: Tokens,
    server: str,
    kafka_broker: str,
    search_server: SearchEndpoint,
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`meshkit-platform plan --registry` / `apply --registry`, as the platform runs them."""
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    group = f"g{uuid.uuid4().hex[:10]}"
    filed = client.post(
        f"/v1/products/{ADDRESS}/access-requests",
        json={"purpose": "dashboards", "grantee": group, "ports": ["serving_view"],
              "fields": ["id", "city"]},
        headers=bearer(tokens.consumer),
    ).json()  # fmt: skip
    grant_id = client.post(
        f"/v1/access-requests/{filed['id']}/approve", json={"reason": "fine"},
        headers=bearer(tokens.owner_customers),
    ).json()["grants"][0]["id"]  # fmt: skip
    monkeypatch.setenv("MESHKIT_REGISTRY_TOKEN", tokens.admin)
    monkeypatch.setenv("COLUMNS", "300")
    ends = [
        "--kafka", kafka_broker, "--warehouse", str(tmp_path / "w.duckdb"),
        "--search", search_server.url, "--postgres", postgres_database,
    ]  # fmt: skip
    plan = tmp_path / "plan.json"
    args = ["plan", "--domains", str(DOMAINS), "--registry", server, "--out", str(plan), *ends]
    assert run_cli(app, args, prog_name="meshkit-platform") == 2
    capsys.readouterr()
    assert f"meshkit_reader_{group}" in plan.read_text()
    applied = run_cli(
        app, ["apply", str(plan), "--registry", server, *ends], prog_name="meshkit-platform"
    )
    out = capsys.readouterr().out
    assert applied == 0, out
    assert "grants reported to the registry:" in out
    assert _grant(client, tokens, grant_id)["applied"] == "applied"
