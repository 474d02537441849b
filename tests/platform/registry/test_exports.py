"""Standards out: ODCS per output port, and the catalog as Backstage entities."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from meshkit.contracts import load_contract
from meshkit.contracts.odcs import to_odcs
from tests.platform.registry.conftest import Tokens, bearer

DOMAINS = Path(__file__).parents[3] / "domains"
CUSTOMER = DOMAINS / "customers" / "contracts" / "customer.yaml"
# the input ports name the version of the upstream contract published beside them
ORDER_VERSION = load_contract(DOMAINS / "orders" / "contracts" / "order.yaml").version
CUSTOMER_VERSION = load_contract(CUSTOMER).version
# The top-level keys ODPS v1.0.0 allows (its JSON schema has additionalProperties: false).
ODPS_KEYS = {
    "apiVersion",
    "kind",
    "id",
    "name",
    "version",
    "status",
    "domain",
    "tenant",
    "authoritativeDefinitions",
    "description",
    "customProperties",
    "tags",
    "inputPorts",
    "outputPorts",
    "managementPorts",
    "support",
    "team",
    "productCreatedTs",
}


@pytest.fixture(scope="module", autouse=True)
def customers(client: httpx.Client, tokens: Tokens) -> None:
    body = {
        "contracts": [{"file": "contracts/customer.yaml", "text": CUSTOMER.read_text()}],
        "owners": ["customer-data"],
    }
    r = client.post("/v1/domains/customers/contracts", json=body, headers=bearer(tokens.admin))
    assert r.status_code == 200, r.text
    orders = {
        "contracts": [
            {"file": f"contracts/{p.name}", "text": p.read_text()}
            for p in sorted((DOMAINS / "orders" / "contracts").glob("*.yaml"))
        ]
    }
    r = client.post("/v1/domains/orders/contracts", json=orders, headers=bearer(tokens.admin))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("kafka_topic", {"type": "kafka", "topic": "customers.customer.v1"}),
        ("warehouse_table", {"type": "bigquery", "dataset": "customers", "table": "customer_v1"}),
        (
            "search_index",
            {
                "type": "custom",
                "customProperties": [{"property": "index", "value": "customers.customer.v1"}],
            },
        ),
    ],
)
def test_odcs_per_port_is_the_sdk_export_with_the_port_as_server(
    client: httpx.Client, tokens: Tokens, kind: str, expected: dict[str, object]
) -> None:
    r = client.get(
        f"/v1/products/customers.customer.v1/ports/{kind}/odcs", headers=bearer(tokens.consumer)
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc.pop("servers") == [{"server": kind, **expected}]
    assert doc == to_odcs(load_contract(CUSTOMER))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/products/customers.customer.v1/ports/serving_view/odcs", 404),
        ("/v1/products/customers.nothing.v1/ports/kafka_topic/odcs", 404),
        ("/v1/products/customers.customer.v1/ports/ftp/odcs", 422),
    ],
)
def test_odcs_of_what_is_not_there(
    client: httpx.Client, tokens: Tokens, path: str, status: int
) -> None:
    r = client.get(path, headers=bearer(tokens.consumer))
    assert r.status_code == status, r.text
    assert r.json()["error"]


def test_the_catalog_as_backstage_entities(client: httpx.Client, tokens: Tokens) -> None:
    r = client.get("/v1/catalog/backstage", headers=bearer(tokens.consumer))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/yaml")
    entities = [d for d in yaml.safe_load_all(r.text) if d]
    by_kind: dict[str, list[dict[str, object]]] = {}
    for e in entities:
        assert e["apiVersion"] == "backstage.io/v1alpha1"
        by_kind.setdefault(e["kind"], []).append(e)
    (domain,) = [d for d in by_kind["Domain"] if d["metadata"]["name"] == "customers"]  # type: ignore[index]
    assert domain["metadata"] == {"name": "customers"}
    assert domain["spec"] == {"owner": "customer-data"}
    (system,) = [
        d
        for d in by_kind["System"]
        if d["spec"]["domain"] == "customers"  # type: ignore[index]
    ]
    assert system["metadata"]["name"] == "customers.customer.v1"  # type: ignore[index]
    assert "personal-data" in system["metadata"]["tags"]  # type: ignore[index]
    assert system["spec"] == {"owner": "customer-data", "domain": "customers"}
    apis = {a["metadata"]["name"]: a["spec"] for a in by_kind["API"]}  # type: ignore[index]
    assert {a for a in apis if a.startswith("customers.")} == {
        "customers.customer.v1.kafka_topic",
        "customers.customer.v1.search_index",
        "customers.customer.v1.warehouse_table",
    }
    spec = apis["customers.customer.v1.kafka_topic"]
    assert spec["type"] == "odcs"  # type: ignore[index]
    assert spec["lifecycle"] == "production"  # type: ignore[index]
    assert spec["system"] == "customers.customer.v1"  # type: ignore[index]
    definition = yaml.safe_load(spec["definition"])  # type: ignore[index]
    assert definition["servers"][0]["topic"] == "customers.customer.v1"


def test_odps_product_document(client: httpx.Client, tokens: Tokens) -> None:
    r = client.get("/v1/products/orders.order_daily.v1/odps", headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) <= ODPS_KEYS
    assert (doc["apiVersion"], doc["kind"], doc["id"], doc["status"]) == (
        "v1.0.0",
        "DataProduct",
        "orders.order_daily.v1",
        "active",
    )
    assert doc["inputPorts"] == [
        {"name": "orders", "version": ORDER_VERSION, "contractId": "orders.order"},
        {"name": "customers", "version": CUSTOMER_VERSION, "contractId": "customers.customer"},
    ]
    assert doc["outputPorts"] == [
        {
            "name": "warehouse_table",
            "description": "orders.order_daily_v1",
            "type": "warehouse_table",
            "version": "1.0.0",
            "contractId": "orders.order_daily",
        }
    ]
    assert doc["team"] == [
        {"username": "checkout-team@example.com", "name": "checkout", "role": "owner"}
    ]
    assert doc["support"][0]["url"] == "mailto:checkout-team@example.com"
    missing = client.get("/v1/products/orders.none.v1/odps", headers=bearer(tokens.consumer))
    assert missing.status_code == 404
