"""The SDK's OpenLineage emitter against the real registry: a streaming job's events and
counts arrive, personal fields are tagged; with the registry down the job never waits and
the undelivered events are counted."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from openlineage.client.serde import Serde
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit.lineage import Counts, LineageEmitter, LineageJob, dataset
from meshkit_platform.registry.db import Run
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


@pytest.fixture(scope="module", autouse=True)
def products(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(contract("orders", "source"), contract("orders", "flow")),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text


def _job() -> LineageJob:
    return LineageJob(
        "orders_flow",
        namespace="orders",
        processing="STREAMING",
        integration="BYTEWAX",
        inputs=[dataset("kafka://local", "orders.source.v1")],
        outputs=[dataset("kafka://local", "orders.flow.v1", personal_fields=["email"])],
    )


def test_a_streaming_job_reports_to_the_registry_with_counts(
    server: str, client: httpx.Client, tokens: Tokens, engine: Engine
) -> None:
    job = _job()
    start = job.event("START")
    event = job.event("RUNNING", counts=Counts(read=10, written=9, dead_letters=1))
    wire = Serde.to_dict(event)  # what the transport posts
    tags = wire["outputs"][0]["facets"]["tags"]["tags"]
    assert [(t["key"], t["value"], t["field"]) for t in tags] == [
        ("personal-data", "true", "email")
    ]
    assert wire["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    with LineageEmitter(server, tokens.owner_orders) as emitter:
        emitter.emit(start)
        emitter.emit(event)
    assert emitter.sent == 2
    assert emitter.dropped == 0
    r = client.get("/v1/products/orders.flow.v1", headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    status = r.json()["run_status"]
    assert status["last_state"] == "RUNNING"
    assert status["last_run_id"] == job.run_id
    with Session(engine) as s:
        run = s.get(Run, job.run_id)
        assert run is not None
        assert run.events == 2
        counts = run.facets["meshkit_counts"]
    assert (counts["read"], counts["written"], counts["dead_letters"]) == (10, 9, 1)
    lineage = client.get(
        "/v1/lineage/orders.flow.v1?direction=upstream&depth=1", headers=bearer(tokens.consumer)
    )
    assert lineage.status_code == 200
    assert "orders.source.v1" in lineage.text


def test_a_refused_event_is_counted_as_dropped(server: str, tokens: Tokens) -> None:
    job = _job()  # a consumer token may not report runs: 403
    with LineageEmitter(server, tokens.consumer) as emitter:
        emitter.emit(job.event("START"))
    assert emitter.sent == 0
    assert emitter.dropped == 1


def test_with_the_registry_down_emitting_never_waits_and_counts_drops() -> None:
    with socket.socket() as sock:  # a port nobody listens on: the registry is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emitter = LineageEmitter(f"http://127.0.0.1:{port}", "t", capacity=10, timeout=1)
    job = _job()
    started = time.perf_counter()
    for n in range(5000):  # a flow's periodic events, far more than the buffer holds
        emitter.emit(job.event("RUNNING", counts=Counts(read=n, written=n)))
    elapsed = time.perf_counter() - started
    emitter.close(timeout=2)
    assert emitter.sent == 0
    assert emitter.dropped == 5000
    # building and queueing 5000 events: the flow's own cost, no network wait in it
    assert elapsed < 5, elapsed
