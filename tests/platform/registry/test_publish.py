"""Publishing behind the server-side compatibility gate."""

from __future__ import annotations

import httpx
import pytest

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body

ID = "  - {name: id, type: string, required: true}\n"
AMOUNT = "  - {name: amount, type: integer, required: true}\n"
NOTE = "  - {name: note, type: string}\n"
READS_ORDER = "    - {kind: product, name: orders, product: orders.order, major: 1}\n"


@pytest.fixture(scope="module", autouse=True)
def registered(client: httpx.Client, tokens: Tokens) -> None:
    """orders.order 1.0.0, read by customers.lifetime and orders.order_daily."""
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(
            contract("orders", "order", fields=ID + AMOUNT),
            contract("orders", "order_daily", inputs=READS_ORDER),
        ),
        headers=bearer(tokens.owner_orders),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/domains/customers/contracts",
        json=publish_body(contract("customers", "lifetime", inputs=READS_ORDER)),
        headers=bearer(tokens.owner_customers),
    )
    assert r.status_code == 200, r.text


def _publish(client: httpx.Client, tokens: Tokens, *texts: str) -> httpx.Response:
    return client.post(
        "/v1/domains/orders/contracts", json=publish_body(*texts), headers=bearer(tokens.admin)
    )


def _version(client: httpx.Client, tokens: Tokens, address: str) -> str:
    r = client.get(f"/v1/products/{address}", headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    return str(r.json()["version"])


def test_an_additive_change_with_a_minor_bump_passes(client: httpx.Client, tokens: Tokens) -> None:
    r = _publish(client, tokens, contract("orders", "order", "1.1.0", fields=ID + AMOUNT + NOTE))
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["outcome"] == "published"
    assert _version(client, tokens, "orders.order.v1") == "1.1.0"


def test_the_same_content_again_is_idempotent(client: httpx.Client, tokens: Tokens) -> None:
    text = contract("orders", "order", "1.1.0", fields=ID + AMOUNT + NOTE)
    first = _publish(client, tokens, "# a comment does not change the content\n" + text)
    again = _publish(client, tokens, text)
    assert first.status_code == again.status_code == 200
    assert again.json()["results"][0]["outcome"] == "unchanged"
    product = client.get("/v1/products/orders.order.v1", headers=bearer(tokens.admin)).json()
    assert [v["version"] for v in product["versions"]] == ["1.0.0", "1.1.0"]


def test_a_breaking_change_without_a_major_is_refused_naming_the_consumers(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _publish(client, tokens, contract("orders", "order", "1.2.0", fields=ID + NOTE))
    assert r.status_code == 409, r.text
    (conflict,) = r.json()["conflicts"]
    assert conflict["address"] == "orders.order.v1"
    assert conflict["registered_version"] == "1.1.0"
    assert conflict["suggested_version"] == "2.0.0"
    assert [c["kind"] for c in conflict["breaking_changes"]] == ["field_removed"]
    assert "amount" in conflict["breaking_changes"][0]["path"]
    assert conflict["consumers"] == ["customers.lifetime.v1", "orders.order_daily.v1"]
    assert _version(client, tokens, "orders.order.v1") == "1.1.0"


def test_a_refused_contract_leaves_the_whole_request_unwritten(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _publish(
        client,
        tokens,
        contract("orders", "refund"),  # new and fine on its own
        contract("orders", "order", "1.2.0", fields=ID),  # breaking
    )
    assert r.status_code == 409
    missing = client.get("/v1/products/orders.refund.v1", headers=bearer(tokens.admin))
    assert missing.status_code == 404


def test_same_version_with_other_content_is_refused(client: httpx.Client, tokens: Tokens) -> None:
    r = _publish(client, tokens, contract("orders", "order", "1.1.0", fields=ID + AMOUNT))
    assert r.status_code == 409
    assert "already registered with other content" in r.json()["conflicts"][0]["reason"]


def test_a_new_major_registers_beside_the_old_line(client: httpx.Client, tokens: Tokens) -> None:
    r = _publish(client, tokens, contract("orders", "order", "2.0.0", fields=ID + NOTE))
    assert r.status_code == 200, r.text
    assert _version(client, tokens, "orders.order.v2") == "2.0.0"
    assert _version(client, tokens, "orders.order.v1") == "1.1.0"
    old = client.get("/v1/products/orders.order.v1", headers=bearer(tokens.admin)).json()
    assert old["status"] == "active"
    assert old["consumers"] == ["customers.lifetime.v1", "orders.order_daily.v1"]


def test_a_lower_version_than_the_registered_one_is_refused(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _publish(client, tokens, contract("orders", "order", "1.0.5", fields=ID + AMOUNT + NOTE))
    assert r.status_code == 409
    assert "backwards" in r.json()["conflicts"][0]["reason"]
