"""Who can read a product, through which ports, seeing which fields how: the contract's
reader groups and the active grants, over the API and on the product page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.test_web import browser_client

pytestmark = [pytest.mark.services]

PROFILE = Path(__file__).parents[2] / "fixtures/access/customers/contracts/profile.yaml"
ADDRESS = "customers.readable.v1"
SEEN = {
    "id": "clear",
    "email": "encrypted",
    "email_token": "tokenized",
    "phone": "masked",
    "birth_date": "generalized",
    "city": "clear",
}  # full_name is dropped: no reader sees it


@pytest.fixture(scope="module")
def published(client: httpx.Client, tokens: Tokens) -> str:
    text = PROFILE.read_text().replace("name: profile", "name: readable")
    text = text.replace("primary_key: [id]", "primary_key: [id]\naccess: {readers: [support]}")
    body = {"contracts": [{"file": "contracts/readable.yaml", "text": text}]}
    answer = client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    assert answer.status_code == 200, answer.text
    return ADDRESS


def readers(client: httpx.Client, token: str) -> list[dict[str, object]]:
    answer = client.get(f"/v1/products/{ADDRESS}/readers", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["address"] == ADDRESS
    found: list[dict[str, object]] = answer.json()["readers"]
    return found


def how(row: dict[str, object]) -> dict[str, str]:
    fields = row["fields"]
    assert isinstance(fields, list)
    return {f["path"]: f["treatment"] for f in fields}


def test_readers_are_the_contracts_groups_and_the_active_grants_with_what_they_see(
    client: httpx.Client, tokens: Tokens, published: str, server: str
) -> None:
    before = readers(client, tokens.consumer)
    assert [(r["group"], r["port_kind"], r["source"]) for r in before] == [
        ("support", "kafka_topic", "contract"),
        ("support", "serving_view", "contract"),
    ]
    assert all(how(r) == SEEN for r in before)
    assert before[1]["port_address"] == f'public."{ADDRESS}"'
    assert before[0]["role"] == "meshkit_reader_support"

    asked = {"purpose": "churn by city", "grantee": "analytics", "ports": ["serving_view"],
             "fields": ["id", "phone", "birth_date"], "days": 30}  # fmt: skip
    rid = client.post(f"/v1/products/{ADDRESS}/access-requests", json=asked,
                      headers=bearer(tokens.consumer)).json()["id"]  # fmt: skip
    approved = client.post(f"/v1/access-requests/{rid}/approve", json={"reason": "fine"},
                           headers=bearer(tokens.owner_customers))  # fmt: skip
    assert approved.status_code == 200, approved.text
    grant = approved.json()["grants"][0]

    after = readers(client, tokens.consumer)
    granted = [r for r in after if r["source"] == "grant"]
    assert [(r["group"], r["port_kind"], r["grant_id"], r["applied"]) for r in granted] == [
        ("analytics", "serving_view", grant["id"], "pending")
    ]
    assert how(granted[0]) == {"id": "clear", "phone": "masked", "birth_date": "generalized"}
    phone = next(f for f in granted[0]["fields"] if f["path"] == "phone")  # type: ignore[attr-defined]
    assert phone["detail"] == "keeps the last 4"

    with browser_client(server, tokens.consumer) as browser:
        page = browser.get(f"/ui/products/{ADDRESS}").text
    assert 'id="readers"' in page
    assert 'data-group="analytics" data-port="serving_view"' in page
    assert 'data-group="support" data-port="kafka_topic"' in page
    assert "phone: masked" in page
    assert "full_name:" not in page

    revoked = client.post(f"/v1/grants/{grant['id']}/revoke", json={"reason": "done now"},
                          headers=bearer(tokens.consumer))  # fmt: skip
    assert revoked.status_code == 200
    assert [r["source"] for r in readers(client, tokens.consumer)] == ["contract", "contract"]


def test_readers_of_an_unknown_product_is_404_and_without_a_token_401(
    client: httpx.Client, tokens: Tokens
) -> None:
    missing = client.get("/v1/products/customers.nothing.v1/readers", headers=bearer(tokens.admin))
    assert missing.status_code == 404
    assert "customers.nothing.v1" in missing.text
    assert client.get(f"/v1/products/{ADDRESS}/readers").status_code == 401
