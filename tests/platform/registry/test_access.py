"""Access requests over HTTP: the per-field preview follows the contract's privacy
declaration; only the owning domain's owner (or an admin) approves or denies; a grant
carries an expiry and can be revoked; every step is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit.contracts import parse_contract
from meshkit_platform.registry.db import AuditEntry
from tests.platform.registry.conftest import Tokens, bearer

pytestmark = [pytest.mark.services]

PROFILE = Path(__file__).parents[2] / "fixtures/access/customers/contracts/profile.yaml"
ADDRESS = "customers.profile.v1"
EXPECTED = {
    "id": "clear",
    "email": "encrypted",
    "email_token": "tokenized",
    "phone": "masked",
    "birth_date": "generalized",
    "full_name": "dropped",
    "city": "clear",
}


@pytest.fixture(scope="module")
def published(client: httpx.Client, tokens: Tokens) -> str:
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    answer = client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    assert answer.status_code == 200, answer.text
    return ADDRESS


def _request(client: httpx.Client, token: str, **extra: object) -> httpx.Response:
    body = {
        "purpose": "churn analysis by city",
        "grantee": "analytics",
        "ports": ["serving_view"],
        "fields": ["id", "city", "phone"],
        "days": 30,
        **extra,
    }
    return client.post(f"/v1/products/{ADDRESS}/access-requests", json=body, headers=bearer(token))


def test_the_preview_says_per_port_and_field_what_a_reader_gets(
    client: httpx.Client, tokens: Tokens, published: str
) -> None:
    answer = client.get(
        f"/v1/products/{published}/access-preview",
        params={"port": ["serving_view", "kafka_topic"], "field": ["id", "email"]},
        headers=bearer(tokens.consumer),
    )
    assert answer.status_code == 200, answer.text
    ports = answer.json()["ports"]
    assert [p["kind"] for p in ports] == ["kafka_topic", "serving_view"]
    assert ports[1]["address"] == f'public."{ADDRESS}"'
    contract, _ = parse_contract(PROFILE.read_text(), "profile.yaml")
    assert contract is not None
    for port in ports:
        got = {f["path"]: f["treatment"] for f in port["fields"]}
        assert got == EXPECTED
        by_path = {f["path"]: f for f in port["fields"]}
        for spec in contract.fields:
            assert by_path[spec.name]["classification"] == spec.classification
            assert by_path[spec.name]["pii"] == spec.pii
        assert {p for p, f in by_path.items() if f["requested"]} == {"id", "email"}
        assert by_path["full_name"]["published_type"] is None


def test_unknown_ports_and_fields_are_refused_with_what_is_expected(
    client: httpx.Client, tokens: Tokens, published: str
) -> None:
    answer = _request(client, tokens.consumer, ports=["search_index"])
    assert answer.status_code == 422
    assert "no search_index port" in answer.json()["error"]
    assert "kafka_topic, serving_view" in answer.json()["error"]
    answer = _request(client, tokens.consumer, fields=["id", "full_name"])
    assert answer.status_code == 422
    assert "expected top-level fields among" in answer.json()["error"]
    answer = _request(client, tokens.consumer, grantee="Robert'); DROP")
    assert answer.status_code == 422


def test_a_consumer_cannot_approve_nor_another_domains_owner(
    client: httpx.Client, tokens: Tokens, published: str
) -> None:
    filed = _request(client, tokens.consumer)
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert filed.json()["status"] == "pending"
    decision = {"reason": "fits the purpose"}
    for token in (tokens.consumer, tokens.owner_orders):
        refused = client.post(
            f"/v1/access-requests/{rid}/approve", json=decision, headers=bearer(token)
        )
        assert refused.status_code == 403, refused.text
        assert "only an owner of domain customers" in refused.json()["error"]
    assert (
        client.get(f"/v1/access-requests/{rid}", headers=bearer(tokens.consumer)).json()["status"]
        == "pending"
    )

    approved = client.post(
        f"/v1/access-requests/{rid}/approve",
        json=decision,
        headers=bearer(tokens.owner_customers),
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["reason"] == "fits the purpose"
    [grant] = body["grants"]
    assert grant["port_kind"] == "serving_view"
    assert grant["columns"] == ["city", "id", "phone"]
    assert grant["role"] == "meshkit_reader_analytics"
    assert grant["applied"] == "pending"
    expires = datetime.fromisoformat(grant["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)

    again = client.post(
        f"/v1/access-requests/{rid}/deny", json=decision, headers=bearer(tokens.owner_customers)
    )
    assert again.status_code == 409


def test_the_owning_domain_cannot_request_its_own_product(
    client: httpx.Client, tokens: Tokens, published: str
) -> None:
    assert _request(client, tokens.owner_customers).status_code == 403


def test_deny_revoke_and_every_step_in_the_audit_log(
    client: httpx.Client, tokens: Tokens, published: str, engine: Engine
) -> None:
    denied_id = _request(client, tokens.owner_orders).json()["id"]
    denied = client.post(
        f"/v1/access-requests/{denied_id}/deny",
        json={"reason": "no purpose limitation"},
        headers=bearer(tokens.owner_customers),
    )
    assert denied.json()["status"] == "denied"
    assert denied.json()["grants"] == []

    rid = _request(client, tokens.consumer, days=7).json()["id"]
    grant = client.post(
        f"/v1/access-requests/{rid}/approve",
        json={"reason": "ok for a week", "days": 3},
        headers=bearer(tokens.admin),
    ).json()["grants"][0]
    assert datetime.fromisoformat(grant["expires_at"]) - datetime.now(UTC) <= timedelta(days=3)
    # another domain's owner may not revoke; the requester may
    refused = client.post(
        f"/v1/grants/{grant['id']}/revoke", json={"reason": "x" * 5},
        headers=bearer(tokens.owner_orders),
    )  # fmt: skip
    assert refused.status_code == 403
    revoked = client.post(
        f"/v1/grants/{grant['id']}/revoke", json={"reason": "project over"},
        headers=bearer(tokens.consumer),
    )  # fmt: skip
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False

    # a consumer sees its own requests only and may not read provisioning's list
    mine = client.get("/v1/access-requests", headers=bearer(tokens.consumer)).json()
    assert mine
    assert all(r["requester"] != "" for r in mine)
    assert denied_id not in {r["id"] for r in mine}
    assert client.get("/v1/grants", headers=bearer(tokens.consumer)).status_code == 403
    assert (
        client.get(f"/v1/access-requests/{denied_id}", headers=bearer(tokens.consumer)).status_code
        == 404
    )

    with Session(engine) as s:
        actions = [
            (a.action, a.subject)
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        ]
    assert ("access.deny", f"access:{denied_id}") in actions
    assert ("access.request", f"access:{rid}") in actions
    assert ("access.approve", f"access:{rid}") in actions
    assert ("grant.revoke", f"grant:{grant['id']}") in actions
    verify = client.get("/v1/audit/verify", headers=bearer(tokens.admin)).json()
    assert verify["ok"] is True


def test_grant_states_are_reported_by_an_admin_only(
    client: httpx.Client, tokens: Tokens, published: str
) -> None:
    rid = _request(client, tokens.consumer).json()["id"]
    grant = client.post(
        f"/v1/access-requests/{rid}/approve", json={"reason": "fine"},
        headers=bearer(tokens.owner_customers),
    ).json()["grants"][0]  # fmt: skip
    states = {"states": [{"id": grant["id"], "state": "applied"}]}
    assert (
        client.post("/v1/grants/states", json=states, headers=bearer(tokens.consumer)).status_code
        == 403
    )
    done = client.post("/v1/grants/states", json=states, headers=bearer(tokens.admin))
    assert done.json() == {"changed": 1}
    listed = client.get("/v1/grants", params={"product": ADDRESS}, headers=bearer(tokens.admin))
    assert {g["id"]: g["applied"] for g in listed.json()}[grant["id"]] == "applied"
    # an active grant is never reported removed
    removed = {"states": [{"id": grant["id"], "state": "removed"}]}
    assert client.post("/v1/grants/states", json=removed, headers=bearer(tokens.admin)).json() == {
        "changed": 0
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v1/products/{ADDRESS}/access-preview"),
        ("POST", f"/v1/products/{ADDRESS}/access-requests"),
        ("GET", "/v1/access-requests"),
        ("GET", "/v1/access-requests/1"),
        ("POST", "/v1/access-requests/1/approve"),
        ("POST", "/v1/access-requests/1/deny"),
        ("POST", "/v1/grants/1/revoke"),
        ("GET", "/v1/grants"),
        ("POST", "/v1/grants/states"),
    ],
)
@pytest.mark.parametrize("token", [None, "mkr_nope_nope", "revoked"])
def test_without_a_valid_token_every_access_endpoint_answers_401(
    client: httpx.Client, tokens: Tokens, method: str, path: str, token: str | None
) -> None:
    headers = {} if token is None else bearer(tokens.revoked if token == "revoked" else token)
    answer = client.request(method, path, headers=headers, json={})
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
