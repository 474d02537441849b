"""Tags of data products in the catalog: a contract's tags are kept per published version,
found by full-text search as strongly as the owner team, filtered by ``?tag=``, shown on
the catalog page and carried by the ODCS, ODPS and Backstage exports."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


def _tagged(name: str, tags: str, version: str = "1.0.0", **kw: str) -> str:
    text = contract("orders", name, version, **kw)
    return text.replace("owner:", f"tags: [{tags}]\nowner:", 1)


@pytest.fixture(scope="module", autouse=True)
def published(client: httpx.Client, tokens: Tokens) -> None:
    body = publish_body(
        # tagged "invoicing"
        _tagged("ledger", "invoicing, finance-reporting", description="Booked amounts."),
        # says "invoicing" only in its description and a field name (weighs less than a tag)
        contract(
            "orders",
            "receipts",
            description="Receipts, used in invoicing.",
            fields="  - {name: id, type: string, required: true}\n"
            "  - {name: invoicing_code, type: string}\n",
        ),
        _tagged("basket", "finance-reporting"),
        contract("orders", "untagged"),
    )
    r = client.post("/v1/domains/orders/contracts", json=body, headers=bearer(tokens.admin))
    assert r.status_code == 200, r.text


def _search(client: httpx.Client, tokens: Tokens, **params: str) -> list[str]:
    r = client.get("/v1/products", params=params, headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    return [item["address"] for item in r.json()["items"]]


def test_a_tag_word_finds_the_tagged_product_first(client: httpx.Client, tokens: Tokens) -> None:
    assert _search(client, tokens, q="invoicing") == ["orders.ledger.v1", "orders.receipts.v1"]
    # a hyphenated tag is found by each of its words
    assert _search(client, tokens, q="reporting") == ["orders.basket.v1", "orders.ledger.v1"]


def test_the_tag_filter_keeps_the_lines_carrying_the_tag(
    client: httpx.Client, tokens: Tokens
) -> None:
    assert _search(client, tokens, tag="finance-reporting") == [
        "orders.basket.v1",
        "orders.ledger.v1",
    ]
    assert _search(client, tokens, tag="invoicing", q="booked") == ["orders.ledger.v1"]
    assert _search(client, tokens, tag="Invoicing") == ["orders.ledger.v1"]
    # a word inside a tag is not the tag
    assert _search(client, tokens, tag="finance") == []
    r = client.get("/v1/products", params={"tag": "x" * 64}, headers=bearer(tokens.consumer))
    assert r.status_code == 422
    items = client.get(
        "/v1/products", params={"tag": "invoicing"}, headers=bearer(tokens.consumer)
    ).json()["items"]
    assert items[0]["tags"] == ["invoicing", "finance-reporting"]


def test_each_version_keeps_its_own_tags(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(_tagged("basket", "finance-reporting, checkout", "1.1.0")),
        headers=bearer(tokens.owner_orders),
    )
    assert r.status_code == 200, r.text
    product = client.get("/v1/products/orders.basket.v1", headers=bearer(tokens.consumer)).json()
    assert product["tags"] == ["finance-reporting", "checkout"]
    assert [(v["version"], v["tags"]) for v in product["versions"]] == [
        ("1.0.0", ["finance-reporting"]),
        ("1.1.0", ["finance-reporting", "checkout"]),
    ]
    assert _search(client, tokens, tag="checkout") == ["orders.basket.v1"]
    assert _search(client, tokens, q="checkout") == ["orders.basket.v1"]
    untagged = client.get("/v1/products/orders.untagged.v1", headers=bearer(tokens.consumer))
    assert untagged.json()["tags"] == []


def test_a_malformed_tag_is_refused_naming_the_tag(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(_tagged("odd", "Not A Tag")),
        headers=bearer(tokens.owner_orders),
    )
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert problem["field"] == "tags[0]"
    assert problem["line"] == 6
    assert "^[a-z0-9]+(-[a-z0-9]+)*$" in problem["expected"]


def test_the_exports_carry_the_tags(client: httpx.Client, tokens: Tokens) -> None:
    auth = bearer(tokens.consumer)
    odcs = client.get("/v1/products/orders.ledger.v1/ports/kafka_topic/odcs", headers=auth)
    assert odcs.status_code == 200, odcs.text
    assert odcs.json()["tags"] == ["invoicing", "finance-reporting"]
    odps = client.get("/v1/products/orders.ledger.v1/odps", headers=auth)
    assert odps.status_code == 200, odps.text
    assert odps.json()["tags"] == ["invoicing", "finance-reporting"]
    backstage = client.get("/v1/catalog/backstage", headers=auth)
    assert backstage.status_code == 200
    systems = {
        d["metadata"]["name"]: d["metadata"]
        for d in yaml.safe_load_all(backstage.text)
        if d["kind"] == "System"
    }
    assert systems["orders.ledger.v1"]["tags"] == ["data-product", "invoicing", "finance-reporting"]
    assert systems["orders.untagged.v1"]["tags"] == ["data-product"]
    api = next(
        d
        for d in yaml.safe_load_all(backstage.text)
        if d["metadata"]["name"] == "orders.ledger.v1.kafka_topic"
    )
    assert yaml.safe_load(api["spec"]["definition"])["tags"] == ["invoicing", "finance-reporting"]


def test_the_catalog_page_shows_tags_and_filters_by_them(server: str, tokens: Tokens) -> None:
    with httpx.Client(base_url=server, timeout=30) as browser:
        answer = browser.post("/ui/token", data={"token": tokens.consumer, "next": "/ui"})
        assert answer.status_code == 303, answer.text
        page = browser.get("/ui", params={"tag": "invoicing"})
        assert page.status_code == 200
        assert "orders.ledger.v1" in page.text
        assert "orders.receipts.v1" not in page.text
        assert 'href="/ui?tag=finance-reporting"' in page.text
        assert 'name="tag" type="text" value="invoicing"' in page.text
        product = browser.get("/ui/products/orders.ledger.v1")
        assert product.status_code == 200
        assert '<a class="badge tag" href="/ui?tag=invoicing">invoicing</a>' in product.text
