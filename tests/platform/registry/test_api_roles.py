"""Every endpoint by every role: allowed calls answer 2xx, the others 401 or 403."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body

Call = Callable[[httpx.Client, dict[str, str], int], httpx.Response]

_counter = iter(range(1, 10_000))


def _publish_json(domain: str) -> Call:
    def call(client: httpx.Client, headers: dict[str, str], n: int) -> httpx.Response:
        body = publish_body(contract(domain, f"p{n}"))
        return client.post(f"/v1/domains/{domain}/contracts", json=body, headers=headers)

    return call


def _publish_yaml(domain: str) -> Call:
    def call(client: httpx.Client, headers: dict[str, str], n: int) -> httpx.Response:
        return client.post(
            "/v1/contracts",
            content=contract(domain, f"y{n}").encode(),
            headers={**headers, "Content-Type": "application/yaml"},
        )

    return call


def _get(path: str) -> Call:
    def call(client: httpx.Client, headers: dict[str, str], _: int) -> httpx.Response:
        return client.get(path, headers=headers)

    return call


def _run_event(client: httpx.Client, headers: dict[str, str], n: int) -> httpx.Response:
    body = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00+00:00",
        "run": {"runId": f"run-{n}"},
        "job": {"namespace": "orders", "name": "seed"},
        "outputs": [{"namespace": "kafka://local", "name": "orders.seed.v1"}],
    }
    return client.post("/api/v1/lineage", json=body, headers=headers)


ENDPOINTS: dict[str, tuple[Call, set[str]]] = {
    # name: (call, roles allowed)
    "publish orders (JSON)": (_publish_json("orders"), {"admin", "owner_orders"}),
    "publish customers (JSON)": (_publish_json("customers"), {"admin", "owner_customers"}),
    "publish orders (YAML)": (_publish_yaml("orders"), {"admin", "owner_orders"}),
    "search": (_get("/v1/products?q=product"), {"admin", "owner_orders", "consumer"}),
    "get product": (_get("/v1/products/orders.seed.v1"), {"admin", "owner_orders", "consumer"}),
    "lineage": (_get("/v1/lineage/orders.seed.v1?depth=2"), {"admin", "owner_orders", "consumer"}),
    "domains": (_get("/v1/domains"), {"admin", "owner_orders", "consumer"}),
    "domain": (_get("/v1/domains/orders"), {"admin", "owner_orders", "consumer"}),
    "audit verify": (_get("/v1/audit/verify"), {"admin"}),
    "run events (orders line)": (_run_event, {"admin", "owner_orders"}),
    "odcs": (
        _get("/v1/products/orders.seed.v1/ports/kafka_topic/odcs"),
        {"admin", "owner_orders", "consumer"},
    ),
    "odps": (_get("/v1/products/orders.seed.v1/odps"), {"admin", "owner_orders", "consumer"}),
    "readers": (
        _get("/v1/products/orders.seed.v1/readers"),
        {"admin", "owner_orders", "consumer"},
    ),
    "backstage": (_get("/v1/catalog/backstage"), {"admin", "owner_orders", "consumer"}),
}
COVERED = {
    "/v1/domains/{domain}/contracts",
    "/v1/contracts",
    "/v1/products",
    "/v1/products/{address}",
    "/v1/lineage/{address}",
    "/v1/domains",
    "/v1/domains/{domain}",
    "/v1/audit/verify",
    "/api/v1/lineage",
    "/v1/products/{address}/ports/{kind}/odcs",
    "/v1/products/{address}/odps",
    "/v1/products/{address}/readers",
    "/v1/catalog/backstage",
    # erasure: every role and no token in test_erasure.py (it needs an erasure key)
    "/v1/erasures",
    "/v1/erasures/{request_id}",
    "/v1/domains/{domain}/erasures",
    "/v1/erasures/{request_id}/products/{address}/report",
    # access requests and grants: roles and no token in test_access.py
    "/v1/products/{address}/access-preview",
    "/v1/products/{address}/access-requests",
    "/v1/access-requests",
    "/v1/access-requests/{request_id}",
    "/v1/access-requests/{request_id}/approve",
    "/v1/access-requests/{request_id}/deny",
    "/v1/grants/{grant_id}/revoke",
    "/v1/grants",
    "/v1/grants/states",
}
ROLES = ("admin", "owner_orders", "owner_customers", "consumer")


@pytest.fixture(scope="module", autouse=True)
def seed(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(contract("orders", "seed")),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_or_refused_with_403(
    client: httpx.Client, tokens: Tokens, endpoint: str, role: str
) -> None:
    call, allowed = ENDPOINTS[endpoint]
    if role == "owner_customers" and endpoint not in {
        "publish orders (JSON)",
        "publish orders (YAML)",
        "publish customers (JSON)",
        "audit verify",
        "run events (orders line)",
    }:
        allowed = allowed | {"owner_customers"}  # every token reads
    r = call(client, bearer(getattr(tokens, role)), next(_counter))
    if role in allowed:
        assert r.status_code in (200, 201), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mkr_nope_nope"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "revoked",
    ],
    ids=["none", "empty", "unknown", "basic", "revoked"],
)
def test_without_a_valid_token_every_endpoint_answers_401(
    client: httpx.Client, tokens: Tokens, endpoint: str, headers: dict[str, str] | str
) -> None:
    call, _ = ENDPOINTS[endpoint]
    sent = bearer(tokens.revoked) if headers == "revoked" else headers
    assert isinstance(sent, dict)
    r = call(client, sent, next(_counter))
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert "token" in r.json()["error"]


def test_health_and_the_openapi_spec_need_no_token(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "schema_revision": "0008"}
    spec = client.get("/openapi.json").json()
    # every endpoint of the spec is in the matrix above (update both together)
    assert set(spec["paths"]) - {"/healthz"} == COVERED
