"""OpenLineage run events: recorded singly and in batches, size-limited, matched to product
lines by their port addresses; freshness against the SLO; lineage observed from runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body

ENDPOINT = "/api/v1/lineage"


def _with_slo(text: str, freshness: str) -> str:
    return text.replace("primary_key:", f"slo: {{freshness: {freshness}}}\nprimary_key:")


@pytest.fixture(scope="module", autouse=True)
def products(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(
            contract("orders", "source"),
            _with_slo(contract("orders", "flow"), "1h"),
            contract("orders", "noslo"),
        ),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text


def event(
    state: str = "COMPLETE",
    *,
    at: datetime | None = None,
    outputs: tuple[str, ...] = ("orders.flow.v1",),
    inputs: tuple[str, ...] = (),
    run_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "eventType": state,
        "eventTime": (at or datetime.now(UTC)).isoformat(),
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "orders", "name": "orders_flow"},
        "inputs": [{"namespace": "kafka://local", "name": n} for n in inputs],
        "outputs": [{"namespace": "kafka://local", "name": n} for n in outputs],
        "producer": "https://example.com/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        **extra,
    }


def _post(client: httpx.Client, token: str, body: object) -> httpx.Response:
    return client.post(ENDPOINT, json=body, headers=bearer(token))


def _status(client: httpx.Client, tokens: Tokens, address: str) -> dict[str, Any]:
    r = client.get(f"/v1/products/{address}", headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    return dict(r.json()["run_status"])


def test_a_single_event_is_recorded_and_the_line_is_fresh(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _post(client, tokens.owner_orders, event(inputs=("orders.source.v1",)))
    assert r.status_code == 201, r.text
    assert r.json() == {"accepted": 1, "products": ["orders.flow.v1"]}
    status = _status(client, tokens, "orders.flow.v1")
    assert status["last_state"] == "COMPLETE"
    assert status["freshness"]["status"] == "fresh"
    assert status["freshness"]["slo_seconds"] == 3600


def test_freshness_turns_stale_when_runs_stop_and_fresh_when_they_resume(
    client: httpx.Client, tokens: Tokens
) -> None:
    # a table port named <domain>.<product>_v<major> matches the line too
    old = datetime.now(UTC) - timedelta(hours=2)
    client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(_with_slo(contract("orders", "stopped"), "1h")),
        headers=bearer(tokens.admin),
    )
    r = _post(client, tokens.admin, event(at=old, outputs=("orders.stopped_v1",)))
    assert r.json()["products"] == ["orders.stopped.v1"]
    stale = _status(client, tokens, "orders.stopped.v1")["freshness"]
    assert stale["status"] == "stale"
    assert stale["age_seconds"] > 3600

    # a failed run is not a success; a streaming job's RUNNING event is
    _post(client, tokens.admin, event("FAIL", outputs=("orders.stopped.v1",)))
    assert _status(client, tokens, "orders.stopped.v1")["freshness"]["status"] == "stale"
    _post(client, tokens.admin, event("RUNNING", outputs=("orders.stopped.v1",)))
    assert _status(client, tokens, "orders.stopped.v1")["freshness"]["status"] == "fresh"


def test_an_older_event_arriving_late_does_not_move_the_status_back(
    client: httpx.Client, tokens: Tokens
) -> None:
    now = datetime.now(UTC)
    run = str(uuid.uuid4())
    _post(client, tokens.admin, event("COMPLETE", at=now, outputs=("orders.noslo.v1",), run_id=run))
    _post(
        client,
        tokens.admin,
        event("START", at=now - timedelta(minutes=5), outputs=("orders.noslo.v1",), run_id=run),
    )
    status = _status(client, tokens, "orders.noslo.v1")
    assert status["last_state"] == "COMPLETE"
    assert status["freshness"]["status"] == "unknown"  # no SLO


def test_a_batch_is_recorded(client: httpx.Client, tokens: Tokens) -> None:
    run = str(uuid.uuid4())
    batch = [event(s, run_id=run) for s in ("START", "RUNNING", "COMPLETE")]
    r = _post(client, tokens.admin, batch)
    assert r.status_code == 201, r.text
    assert r.json()["accepted"] == 3


def test_over_the_size_limit_is_413(client: httpx.Client, tokens: Tokens) -> None:
    big = event(run={"runId": str(uuid.uuid4()), "facets": {"x": "y" * (1024 * 1024)}})
    r = _post(client, tokens.admin, big)
    assert r.status_code == 413, r.text
    many = [event() for _ in range(1001)]
    r = _post(client, tokens.admin, many)
    assert r.status_code == 413, r.text
    assert "1000" in r.json()["error"]


def test_lineage_observed_in_runs(client: httpx.Client, tokens: Tokens) -> None:
    _post(client, tokens.admin, event(inputs=("orders.source.v1", "crm.public.customers")))
    r = client.get(
        "/v1/lineage/orders.flow.v1",
        params={"direction": "upstream", "depth": 1},
        headers=bearer(tokens.consumer),
    )
    edges = {(e["source"], e["kind"], e["via"]) for e in r.json()["edges"]}
    assert ("orders.source.v1", "observed", "orders/orders_flow") in edges
    assert ("crm.public.customers", "observed", "orders/orders_flow") in edges


def test_roles(client: httpx.Client, tokens: Tokens) -> None:
    assert _post(client, tokens.consumer, event()).status_code == 403
    r = _post(client, tokens.owner_customers, event())
    assert r.status_code == 403
    assert "orders.flow.v1" in r.json()["error"]
    assert client.post(ENDPOINT, json=event()).status_code == 401
    # events for datasets that are no registered port are recorded as runs only
    r = _post(client, tokens.owner_customers, event(outputs=("somewhere.else",)))
    assert r.status_code == 201
    assert r.json()["products"] == []


def _checked(
    names_results: dict[str, bool | None], *, at: datetime, address: str = "orders.flow.v1"
) -> dict[str, Any]:
    """A checks run reading ``address``, as meshkit.batch reports one."""
    assertions = [
        {"assertion": n, "success": ok, "severity": "error"} for n, ok in names_results.items()
    ]
    body = event("COMPLETE", at=at, outputs=())
    body["job"]["name"] = "orders/flow/v1/checks"
    body["inputs"] = [
        {
            "namespace": "duckdb://warehouse",
            "name": address,
            "inputFacets": {"dataQualityAssertions": {"assertions": assertions}},
        }
    ]
    return body


def test_a_checks_run_sets_the_lines_last_checks_shown_by_the_api_and_the_page(
    server: str, client: httpx.Client, tokens: Tokens
) -> None:
    now = datetime.now(UTC)
    first = _checked({"schema": True, "not_null_id": False, "freshness": None}, at=now)
    r = _post(client, tokens.owner_orders, first)
    assert r.status_code == 201, r.text
    assert r.json()["products"] == ["orders.flow.v1"]

    def last_checks() -> dict[str, Any]:
        answer = client.get("/v1/products/orders.flow.v1", headers=bearer(tokens.consumer))
        return dict(answer.json()["last_checks"])

    checks = last_checks()
    assert (checks["passed"], checks["failed"], checks["skipped"]) == (1, 1, 1)
    assert checks["run_id"] == first["run"]["runId"]
    assert checks["job"] == "orders/orders/flow/v1/checks"
    assert [(c["name"], c["success"]) for c in checks["checks"]] == [
        ("schema", True),
        ("not_null_id", False),
        ("freshness", None),
    ]
    # a newer run replaces them; an older one arriving late does not
    r = _post(client, tokens.admin, _checked({"schema": True}, at=now + timedelta(seconds=1)))
    assert r.status_code == 201, r.text
    r = _post(client, tokens.admin, _checked({"stale": False}, at=now - timedelta(minutes=5)))
    assert r.status_code == 201, r.text
    checks = last_checks()
    assert [c["name"] for c in checks["checks"]] == ["schema"]
    assert (checks["passed"], checks["failed"]) == (1, 0)
    # the product page shows them
    with httpx.Client(base_url=server, timeout=30) as browser:
        r = browser.post("/ui/token", data={"token": tokens.consumer, "next": "/ui"})
        assert r.status_code == 303, r.text
        page = browser.get("/ui/products/orders.flow.v1").text
    assert 'id="checks"' in page
    assert "1 passed · 0 failed · 0 skipped" in page
    assert 'data-check="schema"' in page


def test_checks_of_another_domains_line_are_refused_and_malformed_ones_are_422(
    client: httpx.Client, tokens: Tokens
) -> None:
    body = _checked({"schema": True}, at=datetime.now(UTC))
    r = _post(client, tokens.owner_customers, body)
    assert r.status_code == 403, r.text
    assert "orders.flow.v1" in r.json()["error"]
    facets = body["inputs"][0]["inputFacets"]
    facets["dataQualityAssertions"] = {"assertions": [{"success": True}]}
    assert _post(client, tokens.admin, body).status_code == 422
    facets["dataQualityAssertions"] = {"assertions": "all good"}
    assert _post(client, tokens.admin, body).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"eventType": "COMPLETE"},
        {**event(), "eventTime": "yesterday"},
        {**event(), "eventType": "DONE"},
        {**event(), "run": {"runId": "x" * 65}},
        [{"nope": 1}],
        "text",
    ],
    ids=["no-time", "bad-time", "bad-type", "long-run-id", "bad-batch", "string"],
)
def test_malformed_events_are_422(client: httpx.Client, tokens: Tokens, body: object) -> None:
    r = _post(client, tokens.admin, body)
    assert r.status_code == 422, r.text


def test_wrong_content_type_or_encoding_is_415(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        ENDPOINT, content=b"{}", headers={**bearer(tokens.admin), "Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    r = client.post(
        ENDPOINT,
        content=b"{}",
        headers={
            **bearer(tokens.admin),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert r.status_code == 415
