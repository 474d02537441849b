"""Search (full text, ranked, filtered, paginated), product pages and lineage."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit_platform.registry.lineage import lineage
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body

EMAIL = (
    "  - {name: id, type: string, required: true}\n"
    "  - {name: email, type: string, pii: email, classification: confidential,"
    " transform: {kind: tokenize, key: k}}\n"
)
DROPPED = (
    "  - {name: id, type: string, required: true}\n"
    "  - {name: phone, type: string, pii: phone, classification: confidential,"
    " transform: {kind: drop}}\n"
)


def _reads(*sources: str) -> str:
    return "".join(
        f"    - {{kind: product, name: {s.split('.')[1]}, product: {s}, major: 1}}\n"
        for s in sources
    )


@pytest.fixture(scope="module", autouse=True)
def catalog(client: httpx.Client, tokens: Tokens) -> None:
    """A small mesh: customers.customer → orders.order → orders.daily → finance.revenue,
    plus customers.customer → marketing.segment."""
    published = {
        "customers": [
            contract(
                "customers",
                "customer",
                fields=EMAIL,
                team="crm",
                description="Customers of the shop with their e-mail tokenized.",
            ),
            contract("customers", "contact", fields=DROPPED, description="Contacts."),
        ],
        "orders": [
            contract(
                "orders",
                "order",
                inputs=_reads("customers.customer"),
                description="Every order placed in the shop.",
            ),
            contract(
                "orders", "daily", inputs=_reads("orders.order"), description="Orders per day."
            ),
        ],
        "finance": [
            contract(
                "finance",
                "revenue",
                inputs=_reads("orders.daily", "billing.invoice"),
                description="Revenue per month.",
            ),
        ],
        "marketing": [
            contract(
                "marketing",
                "segment",
                inputs=_reads("customers.customer"),
                description="Customer segments for campaigns.",
            ),
        ],
    }
    for domain, texts in published.items():
        r = client.post(
            f"/v1/domains/{domain}/contracts",
            json=publish_body(*texts),
            headers=bearer(tokens.admin),
        )
        assert r.status_code == 200, r.text


def _search(client: httpx.Client, tokens: Tokens, **params: object) -> dict[str, object]:
    r = client.get("/v1/products", params=params, headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _addresses(page: dict[str, object]) -> list[str]:
    items = page["items"]
    assert isinstance(items, list)
    return [i["address"] for i in items]


def test_search_ranks_a_name_match_above_a_description_match(
    client: httpx.Client, tokens: Tokens
) -> None:
    page = _search(client, tokens, q="customers")
    found = _addresses(page)
    assert found[0] == "customers.customer.v1"  # domain and name: weight A
    assert set(found) >= {"customers.customer.v1", "marketing.segment.v1"}
    assert "finance.revenue.v1" not in found


def test_search_finds_field_names_owners_and_stems(client: httpx.Client, tokens: Tokens) -> None:
    assert _addresses(_search(client, tokens, q="email")) == ["customers.customer.v1"]
    assert _addresses(_search(client, tokens, q="crm")) == ["customers.customer.v1"]
    assert "orders.order.v1" in _addresses(_search(client, tokens, q="ordering"))


def test_search_filters(client: httpx.Client, tokens: Tokens) -> None:
    assert _addresses(_search(client, tokens, domain="orders")) == [
        "orders.daily.v1",
        "orders.order.v1",
    ]
    # a dropped field never leaves the domain: no personal data on the ports
    assert _addresses(_search(client, tokens, personal=True)) == ["customers.customer.v1"]
    assert "customers.contact.v1" in _addresses(_search(client, tokens, personal=False))
    assert _addresses(_search(client, tokens, status="retired")) == []
    assert _addresses(_search(client, tokens, q="customer", domain="marketing")) == [
        "marketing.segment.v1"
    ]


def test_search_pages(client: httpx.Client, tokens: Tokens) -> None:
    everything = _addresses(_search(client, tokens, limit=100))
    assert len(everything) == 6
    pages = [_search(client, tokens, limit=4, offset=o) for o in (0, 4)]
    assert [p["total"] for p in pages] == [6, 6]
    assert _addresses(pages[0]) + _addresses(pages[1]) == everything
    past_the_end = _search(client, tokens, limit=4, offset=8)
    assert (past_the_end["total"], past_the_end["items"]) == (6, [])


def test_a_product_page_has_ports_personal_fields_inputs_and_consumers(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = client.get("/v1/products/customers.customer", headers=bearer(tokens.consumer))
    p = r.json()
    assert p["address"] == "customers.customer.v1"
    assert p["owner"] == {"team": "crm", "contact": "crm@example.com"}
    assert [(port["kind"], port["address"]) for port in p["ports"]] == [
        ("kafka_topic", "customers.customer.v1"),
        ("warehouse_table", "customers.customer_v1"),
    ]
    assert p["ports"][0]["personal_fields"] == [
        {"path": "email", "pii": "email", "classification": "confidential", "transform": "tokenize"}
    ]
    assert p["consumers"] == ["marketing.segment.v1", "orders.order.v1"]
    assert p["has_personal_data"] is True


def _graph(
    client: httpx.Client, tokens: Tokens, address: str, **params: object
) -> tuple[set[tuple[str, str]], dict[str, int]]:
    r = client.get(f"/v1/lineage/{address}", params=params, headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    body = r.json()
    return (
        {(e["source"], e["target"]) for e in body["edges"]},
        {n["address"]: n["depth"] for n in body["nodes"]},
    )


def test_lineage_downstream_to_a_depth(client: httpx.Client, tokens: Tokens) -> None:
    edges, nodes = _graph(client, tokens, "customers.customer.v1", direction="downstream", depth=2)
    assert edges == {
        ("customers.customer.v1", "orders.order.v1"),
        ("customers.customer.v1", "marketing.segment.v1"),
        ("orders.order.v1", "orders.daily.v1"),
    }
    assert nodes["orders.daily.v1"] == 2
    edges, _ = _graph(client, tokens, "customers.customer.v1", direction="downstream", depth=3)
    assert ("orders.daily.v1", "finance.revenue.v1") in edges


def test_lineage_upstream_includes_unregistered_sources(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = client.get(
        "/v1/lineage/finance.revenue.v1",
        params={"direction": "upstream", "depth": 5},
        headers=bearer(tokens.consumer),
    )
    body = r.json()
    nodes = {n["address"]: n for n in body["nodes"]}
    assert nodes["billing.invoice.v1"]["registered"] is False
    assert nodes["customers.customer.v1"]["depth"] == 3
    assert "marketing.segment.v1" not in nodes


def test_lineage_both_directions(client: httpx.Client, tokens: Tokens) -> None:
    edges, nodes = _graph(client, tokens, "orders.daily.v1", depth=1)
    assert edges == {
        ("orders.order.v1", "orders.daily.v1"),
        ("orders.daily.v1", "finance.revenue.v1"),
    }
    assert nodes == {"orders.daily.v1": 0, "orders.order.v1": 1, "finance.revenue.v1": 1}


def test_lineage_is_cut_at_the_node_limit(engine: Engine) -> None:
    with Session(engine) as s:
        whole = lineage(s, "customers.customer.v1", 5, "downstream")
        cut = lineage(s, "customers.customer.v1", 5, "downstream", max_nodes=3)
    assert not whole.truncated
    assert len(whole.nodes) == 5
    assert cut.truncated
    assert [n.address for n in cut.nodes] == [
        "customers.customer.v1",
        "marketing.segment.v1",
        "orders.order.v1",
    ]
    kept = {n.address for n in cut.nodes}
    assert all(e.source in kept and e.target in kept for e in cut.edges)
