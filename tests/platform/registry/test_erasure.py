"""Erasure requests at the registry: who may file, which products hold the subject (from
the example domains' contracts and lineage), per-product status with overdue, judging a
worker's evidence, completion, and no subject id stored or shown in clear."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import uvicorn
from psycopg2 import sql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit_platform.registry import RegistrySettings, create_app
from meshkit_platform.registry.auth import create_token
from tests.platform.registry.conftest import SMALL_LIMIT, Tokens, bearer

ROOT = Path(__file__).resolve().parents[3]
ERASURE_KEY = "erasure-key-for-tests-0123456789abcdef"
CANARY = "cust-canary-Q7xZ2"  # a subject id that cannot appear by chance


def serve(engine: Engine, settings: RegistrySettings) -> Iterator[str]:
    """The registry app served by uvicorn in a thread; yields its base URL."""
    app = create_app(engine, settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def publish_domains(client: httpx.Client, token: str) -> None:
    """The example domains' contracts, as their CI publishes them."""
    for domain in ("customers", "orders"):
        docs = [
            {"file": f"contracts/{p.name}", "text": p.read_text(encoding="utf-8")}
            for p in sorted((ROOT / "domains" / domain / "contracts").glob("*.yaml"))
        ]
        r = client.post(
            f"/v1/domains/{domain}/contracts", json={"contracts": docs}, headers=bearer(token)
        )
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[str]:
    settings = RegistrySettings(
        max_body_bytes=SMALL_LIMIT, token_cache_seconds=0, erasure_key=ERASURE_KEY
    )
    yield from serve(engine, settings)


@pytest.fixture(scope="module")
def billing_owner(engine: Engine) -> str:
    with Session(engine) as s:
        token = create_token(s, name="b", role="domain-owner", domain="billing")[1]
        s.commit()
    return token


@pytest.fixture(scope="module", autouse=True)
def mesh(client: httpx.Client, tokens: Tokens) -> None:
    publish_domains(client, tokens.admin)


def _file(client: httpx.Client, token: str, subject: str, **extra: Any) -> httpx.Response:
    return client.post("/v1/erasures", json={"subject": subject, **extra}, headers=bearer(token))


def _evidence(**ports: dict[str, int]) -> dict[str, Any]:
    clean = {
        "subject_records_before": 1,
        "subject_records_after": 0,
        "ciphertexts_checked": 0,
        "ciphertexts_readable": 0,
        "control_checked": 0,
        "control_readable": 0,
    }
    return {"key_erased": True, "ports": [{"kind": k, **clean, **v} for k, v in ports.items()]}


CUSTOMER_PORTS = {
    "kafka_topic": {"ciphertexts_checked": 2, "control_checked": 3, "control_readable": 3},
    "warehouse_table": {"ciphertexts_checked": 1, "control_checked": 3, "control_readable": 3},
    "search_index": {"ciphertexts_checked": 1, "control_checked": 3, "control_readable": 3},
}


def test_the_request_names_every_product_holding_the_subject_type(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _file(client, tokens.admin, "customer:holders-1")
    assert r.status_code == 201, r.text
    body = r.json()
    found = {p["address"]: p for p in body["products"]}
    assert sorted(found) == [
        "customers.customer.v1",
        "orders.customer_orders.v1",
        "orders.order.v1",
    ]
    assert found["customers.customer.v1"]["reason"] == "declares customer_id as its data subject"
    assert found["orders.customer_orders.v1"]["reason"] == (
        "reads orders.order.v1 and carries customer_id"
    )
    assert {p["status"] for p in body["products"]} == {"pending"}
    assert body["excluded"] == [
        {
            "address": "orders.order_daily.v1",
            "reason": "reads customers.customer.v1 but publishes no customer_id",
        }
    ]
    assert body["status"] == "open"
    assert body["subject_type"] == "customer"
    assert "holders-1" not in r.text


def test_a_subject_is_filed_once(client: httpx.Client, tokens: Tokens) -> None:
    assert _file(client, tokens.admin, "customer:twice").status_code == 201
    again = _file(client, tokens.owner_customers, "customer:twice")
    assert again.status_code == 409
    assert "already has an open erasure request" in again.json()["error"]


def test_who_may_file(client: httpx.Client, tokens: Tokens, billing_owner: str) -> None:
    assert _file(client, tokens.consumer, "customer:w1").status_code == 403
    refused = _file(client, billing_owner, "customer:w1")
    assert refused.status_code == 403
    assert "holds no customer data" in refused.json()["error"]
    assert _file(client, tokens.revoked, "customer:w1").status_code == 401
    assert _file(client, tokens.owner_orders, "customer:w1").status_code == 201


def test_bad_subjects_are_refused_without_echo(client: httpx.Client, tokens: Tokens) -> None:
    for bad in ("customer 4711", "Customer:4711", "customer:", "4711", "x:" + "9" * 300):
        r = _file(client, tokens.admin, bad)
        assert r.status_code == 422, bad
        assert bad not in r.text
    unknown = _file(client, tokens.admin, "patient:17")
    assert unknown.status_code == 422
    assert "no registered product holds data of subject type 'patient'" in unknown.json()["error"]


def test_a_domain_not_responding_in_time_is_overdue(client: httpx.Client, tokens: Tokens) -> None:
    r = _file(client, tokens.admin, "customer:late-1", due_in_hours=0.0002)
    assert r.status_code == 201
    request_id = r.json()["id"]
    deadline = time.monotonic() + 10
    while True:
        shown = client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).json()
        if shown["status"] == "overdue" or time.monotonic() > deadline:
            break
        threading.Event().wait(0.05)
    assert shown["status"] == "overdue"
    assert {p["status"] for p in shown["products"]} == {"overdue"}
    # the customers domain reports: its product is verified, the orders domain's overdue
    path = f"/v1/erasures/{request_id}/products/customers.customer.v1/report"
    owner = bearer(tokens.owner_customers)
    done = client.post(path, json=_evidence(**CUSTOMER_PORTS), headers=owner)
    assert done.status_code == 200, done.text
    status = {p["address"]: p["status"] for p in done.json()["products"]}
    assert status == {
        "customers.customer.v1": "verified",
        "orders.customer_orders.v1": "overdue",
        "orders.order.v1": "overdue",
    }
    assert done.json()["status"] == "overdue"


def test_evidence_is_judged_and_the_request_completes(
    client: httpx.Client, tokens: Tokens, engine: Engine
) -> None:
    r = _file(client, tokens.admin, "customer:judged-1")
    request_id = r.json()["id"]
    work = client.get("/v1/domains/orders/erasures", headers=bearer(tokens.owner_orders)).json()
    item = next(w for w in work if w["request_id"] == request_id)
    assert item["subject_id"] == "judged-1"
    assert sorted(p["address"] for p in item["products"]) == [
        "orders.customer_orders.v1",
        "orders.order.v1",
    ]

    def report(address: str, token: str, evidence: dict[str, Any]) -> dict[str, Any]:
        path = f"/v1/erasures/{request_id}/products/{address}/report"
        resp = client.post(path, json=evidence, headers=bearer(token))
        assert resp.status_code == 200, resp.text
        return next(p for p in resp.json()["products"] if p["address"] == address)

    # still readable, a port missing, a control that does not decrypt: each one fails
    leaky = dict(CUSTOMER_PORTS, kafka_topic={**CUSTOMER_PORTS["kafka_topic"],
                                               "ciphertexts_readable": 1})  # fmt: skip
    got = report("customers.customer.v1", tokens.owner_customers, _evidence(**leaky))
    assert got["status"] == "failed"
    assert "kafka_topic: 1 encrypted value(s) of the subject still decrypt" in got["problem"]
    partial = {k: v for k, v in CUSTOMER_PORTS.items() if k != "search_index"}
    got = report("customers.customer.v1", tokens.owner_customers, _evidence(**partial))
    assert got["status"] == "failed"
    assert got["problem"] == "no evidence for its search_index port"
    blind = {k: {**v, "control_readable": 0} for k, v in CUSTOMER_PORTS.items()}
    got = report("customers.customer.v1", tokens.owner_customers, _evidence(**blind))
    assert got["status"] == "failed"
    assert "another subject's encrypted values do not decrypt either" in got["problem"]
    no_control = {k: {**v, "control_checked": 0, "control_readable": 0}
                  for k, v in CUSTOMER_PORTS.items()}  # fmt: skip
    got = report("customers.customer.v1", tokens.owner_customers, _evidence(**no_control))
    assert got["status"] == "reported"
    left = _evidence(kafka_topic={}, warehouse_table={"subject_records_after": 2})
    got = report("orders.order.v1", tokens.owner_orders, left)
    assert got["status"] == "failed"
    assert got["problem"] == "warehouse_table: 2 record(s) of the subject left"

    # a domain reports only for its own products
    path = f"/v1/erasures/{request_id}/products/customers.customer.v1/report"
    wrong = client.post(path, json=_evidence(**CUSTOMER_PORTS), headers=bearer(tokens.owner_orders))
    assert wrong.status_code == 403

    report("customers.customer.v1", tokens.owner_customers, _evidence(**CUSTOMER_PORTS))
    report("orders.order.v1", tokens.owner_orders, _evidence(kafka_topic={}, warehouse_table={}))
    shown = client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).json()
    assert shown["status"] == "open"
    report("orders.customer_orders.v1", tokens.owner_orders, _evidence(serving_view={}))
    shown = client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).json()
    assert shown["status"] == "complete"
    assert {p["status"] for p in shown["products"]} == {"verified"}
    # once complete, nothing is left to do, no report is taken and the sealed id is gone
    late = client.post(
        f"/v1/erasures/{request_id}/products/orders.order.v1/report",
        json=_evidence(kafka_topic={"subject_records_after": 3}, warehouse_table={}),
        headers=bearer(tokens.owner_orders),
    )
    assert late.status_code == 409
    work = client.get("/v1/domains/orders/erasures", headers=bearer(tokens.owner_orders)).json()
    assert request_id not in {w["request_id"] for w in work}
    with engine.connect() as con:
        from sqlalchemy import text

        sealed = con.execute(
            text("SELECT subject_sealed FROM erasure_requests WHERE id = :id"), {"id": request_id}
        ).scalar_one()
    assert sealed is None
    verify = client.get("/v1/audit/verify", headers=bearer(tokens.admin)).json()
    assert verify["ok"] is True


def test_who_may_read_requests_and_work(
    client: httpx.Client, tokens: Tokens, billing_owner: str
) -> None:
    request_id = _file(client, tokens.admin, "customer:reader-1").json()["id"]
    assert client.get("/v1/erasures", headers=bearer(tokens.consumer)).status_code == 403
    assert (
        client.get(f"/v1/erasures/{request_id}", headers=bearer(billing_owner)).status_code == 403
    )
    assert (
        client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.owner_orders)).status_code
        == 200
    )
    for token in (tokens.consumer, tokens.owner_orders, billing_owner):
        r = client.get("/v1/domains/customers/erasures", headers=bearer(token))
        assert r.status_code == 403
    mine = client.get("/v1/erasures", headers=bearer(billing_owner)).json()
    assert mine == []


def test_every_erasure_endpoint_needs_a_token(client: httpx.Client) -> None:
    calls = [
        client.post("/v1/erasures", json={"subject": "customer:1"}),
        client.get("/v1/erasures"),
        client.get("/v1/erasures/er_0123456789abcdef"),
        client.get("/v1/domains/orders/erasures"),
        client.post(
            "/v1/erasures/er_0123456789abcdef/products/orders.order.v1/report",
            json=_evidence(kafka_topic={}),
        ),
    ]
    assert [r.status_code for r in calls] == [401] * len(calls)


def test_without_an_erasure_key_the_registry_refuses_erasures(
    engine: Engine, tokens: Tokens
) -> None:
    for url in serve(engine, RegistrySettings(token_cache_seconds=0)):
        with httpx.Client(base_url=url) as c:
            r = _file(c, tokens.admin, "customer:1")
        assert r.status_code == 503
        assert "MESHKIT_REGISTRY_ERASURE_KEY" in r.json()["error"]


def test_canary_no_subject_id_in_the_database_logs_or_answers(
    client: httpx.Client,
    tokens: Tokens,
    registry_dsn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    r = _file(client, tokens.admin, f"customer:{CANARY}")
    answers.append(r.text)
    request_id = r.json()["id"]
    answers.append(_file(client, tokens.admin, f"customer:{CANARY}").text)  # 409
    answers.append(client.get("/v1/erasures", headers=bearer(tokens.admin)).text)
    answers.append(client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).text)
    for address, token, ports in (
        ("customers.customer.v1", tokens.owner_customers, CUSTOMER_PORTS),
        ("orders.order.v1", tokens.owner_orders, {"kafka_topic": {}, "warehouse_table": {}}),
        ("orders.customer_orders.v1", tokens.owner_orders, {"serving_view": {}}),
    ):
        path = f"/v1/erasures/{request_id}/products/{address}/report"
        answers.append(client.post(path, json=_evidence(**ports), headers=bearer(token)).text)
    answers.append(client.get("/v1/products/customers.customer", headers=bearer(tokens.admin)).text)
    assert all(CANARY not in a for a in answers)
    assert CANARY not in caplog.text
    # every table's every row, as text
    conn = psycopg2.connect(registry_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
            tables = [t for (t,) in cur.fetchall()]
            assert "erasure_requests" in tables
            dump = []
            for table in tables:
                cur.execute(
                    sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier("public", table))
                )
                dump += [row for (row,) in cur.fetchall()]
    finally:
        conn.close()
    text = "\n".join(dump)
    assert CANARY not in text
    assert CANARY.encode().hex() not in text  # nor as the hex of a bytea column
