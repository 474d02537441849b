"""The SDK's OpenLineage emitter against the real registry: a streaming job's events and
counts arrive, personal fields are tagged; with the registry down the job never waits and
the undelivered events are counted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pyarrow as pa
import pytest
from openlineage.client.serde import Serde
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit.batch import local_resources, product_asset, product_checks, reporting
from meshkit.contracts import load_contract
from meshkit.lineage import Counts, LineageEmitter, LineageJob, dataset, flow_job
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV, new_master_key
from meshkit.streaming import read_stats
from meshkit_platform.registry.db import Run
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body
from tests.sdk.batch.conftest import FIXTURES as BATCH_FIXTURES
from tests.sdk.batch.conftest import customers_table
from tests.sdk.cdc.helpers import Env as CdcEnv
from tests.sdk.cdc.helpers import wait_slot_released
from tests.sdk.observability.flowrun import FlowProcess, flow_env, init_recovery
from tests.sdk.observability.scrape import free_port, scrape, total, wait_for
from tests.sdk.streaming.flowkit import customer_stream, setup_input, unique_contract


@pytest.fixture(scope="module", autouse=True)
def products(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(contract("orders", "source"), contract("orders", "flow")),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text


def test_a_flows_job_tags_the_contracts_personal_fields_and_reads_its_input_topics() -> None:
    contract = unique_contract()
    personal = [f.name for f in contract.fields if f.pii is not None]
    assert personal  # the fixture contract holds personal data
    topics = [p.name_in(contract) for p in contract.ports.inputs]
    assert topics == [f"{contract.domain}.cdc.public.customers"]
    wire = Serde.to_dict(flow_job(contract.address, personal, topics).event("START"))
    assert wire["job"]["name"] == f"{contract.address}.flow"
    assert [d["name"] for d in wire["inputs"]] == topics
    assert wire["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    tags = wire["outputs"][0]["facets"]["tags"]["tags"]
    assert sorted(t["field"] for t in tags) == sorted(personal)
    assert {t["key"] for t in tags} == {"personal-data"}


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


def _run_flow(
    tmp_path: Path,
    kafka_broker: str,
    n: int,
    until: Callable[[str, int], bool] = lambda address, messages: True,
    register: Callable[[Path], None] | None = None,
    **extra: str,
) -> dict[Any, float]:
    """Run the flow over ``n`` customer changes until it counted all of its messages and
    ``until(address, messages)`` holds; its metrics at that point. ``register`` gets the
    contract file before the flow starts."""
    contract = unique_contract(directory=tmp_path)
    if register is not None:
        register(tmp_path / "customer.yaml")
    stream = customer_stream(n, customers=50, seed=5, poison=5)
    setup_input(kafka_broker, contract, stream)
    port = free_port()
    env = flow_env(
        tmp_path / "customer.yaml", tmp_path, kafka_broker, tmp_path / "keys",
        MESHKIT_METRICS_PORT=str(port), MESHKIT_LINEAGE_INTERVAL_SECONDS="0.2", **extra,
    )  # fmt: skip
    init_recovery(tmp_path / "recovery", 1)
    flow = FlowProcess(env, tmp_path / "recovery", tmp_path / "flow.log")
    flow.start()
    try:

        def done() -> bool:
            assert flow.alive(), flow.tail()
            stats = tmp_path / "stats"
            messages = len(stream.messages)
            return (
                stats.exists()
                and read_stats(stats)["counts"]["received"] == messages
                and until(contract.address, messages)
            )

        wait_for(done, 120, lambda: f"flow did not finish: {flow.tail()}")
        samples = scrape(port)
    finally:
        flow.kill()
    return samples


@pytest.mark.services
def test_a_running_flow_reports_streaming_run_events_with_counts_and_its_inputs(
    tmp_path: Path,
    kafka_broker: str,
    session_master_key: str,
    server: str,
    client: httpx.Client,
    tokens: Tokens,
    engine: Engine,
) -> None:
    del session_master_key
    published: list[str] = []

    def register(path: Path) -> None:
        """The flow's product is registered, as its domain's CI publishes it."""
        text = path.read_text()
        domain = load_contract(path).domain
        body = {"contracts": [{"file": "contracts/customer.yaml", "text": text}]}
        r = client.post(f"/v1/domains/{domain}/contracts", json=body, headers=bearer(tokens.admin))
        assert r.status_code == 200, r.text
        published.append(r.json()["results"][0]["address"])

    def reported_all(address: str, messages: int) -> bool:
        """The registry holds a RUNNING event of the flow counting every message."""
        with Session(engine) as s:
            runs = s.scalars(select(Run).where(Run.job_name == f"{address}.flow")).all()
        counts = [r.facets.get("meshkit_counts") or {} for r in runs]
        states = {r.state for r in runs}
        return states == {"RUNNING"} and any(c.get("read") == messages for c in counts)

    samples = _run_flow(
        tmp_path, kafka_broker, 300, reported_all, register,
        MESHKIT_REGISTRY_URL=server, MESHKIT_REGISTRY_TOKEN=tokens.admin,
    )  # fmt: skip
    assert total(samples, "meshkit_lineage_events_total", outcome="sent") >= 2
    assert total(samples, "meshkit_lineage_events_total", outcome="dropped") == 0
    # the registry observed what the flow reads: its CDC topic → the product
    (address,) = published
    lineage = client.get(
        f"/v1/lineage/{address}?direction=upstream&depth=1", headers=bearer(tokens.consumer)
    )
    assert lineage.status_code == 200, lineage.text
    topic = f"{address.split('.')[0]}.cdc.public.customers"
    edges = {(e["source"], e["target"], e["kind"]) for e in lineage.json()["edges"]}
    assert (topic, address, "observed") in edges
    nodes = {n["address"]: n["registered"] for n in lineage.json()["nodes"]}
    assert nodes[topic] is False


@pytest.mark.services
def test_with_the_registry_down_the_flow_completes_and_counts_dropped_events(
    tmp_path: Path, kafka_broker: str, session_master_key: str
) -> None:
    del session_master_key
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
    samples = _run_flow(
        tmp_path, kafka_broker, 300, MESHKIT_REGISTRY_URL=down, MESHKIT_REGISTRY_TOKEN="t"
    )
    assert total(samples, "meshkit_lineage_events_total", outcome="dropped") > 0
    assert total(samples, "meshkit_lineage_events_total", outcome="sent") == 0


@pytest.mark.services
def test_a_dagster_materialisation_and_its_checks_report_their_runs(
    tmp_path: Path,
    session_master_key: str,
    server: str,
    tokens: Tokens,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    del session_master_key
    monkeypatch.setenv(MASTER_KEY_ENV, new_master_key())  # a key store of this test's own
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "privacy"))
    monkeypatch.setenv("MESHKIT_REGISTRY_URL", server)
    monkeypatch.setenv("MESHKIT_REGISTRY_TOKEN", tokens.admin)
    contract_file = BATCH_FIXTURES / "customers" / "contracts" / "customer.yaml"
    contract = load_contract(contract_file)
    published = httpx.post(
        f"{server}/v1/domains/customers/contracts",
        json=publish_body(contract_file.read_text()),
        headers=bearer(tokens.admin),
        timeout=30,
    )
    assert published.status_code == 200, published.text

    @product_asset(contract)
    def customer() -> pa.Table:
        return customers_table(3)

    result = dg.materialize(
        [customer, product_checks(customer)],
        resources=local_resources(duckdb_path=tmp_path / "warehouse.duckdb"),
    )
    assert result.success
    jobs = ("customers/customer/v1", "customers/customer/v1/checks")

    def reported() -> bool:
        with Session(engine) as s:
            runs = s.scalars(select(Run).where(Run.job_name.in_(jobs))).all()
            return sorted((r.job_name, r.state) for r in runs) == [
                (job, "COMPLETE") for job in jobs
            ]

    wait_for(reported, 30, lambda: "the runs never reached the registry")
    with Session(engine) as s:
        run = s.scalars(select(Run).where(Run.job_name == jobs[0])).one()
        assert run.job_namespace == "customers"
        assert run.facets["meshkit_counts"]["written"] == 3
        checks = s.scalars(select(Run).where(Run.job_name == jobs[1])).one()
        assert checks.job_namespace == "customers"
    evaluated = result.get_asset_check_evaluations()
    assert len(evaluated) > 1
    assert all(c.passed for c in evaluated)
    counts = checks.facets["meshkit_checks"]
    assert (counts["passed"], counts["failed"]) == (len(evaluated), 0)
    # the product page's last checks: each evaluated check by name, all passed
    page = httpx.get(
        f"{server}/v1/products/{contract.address}", headers=bearer(tokens.consumer), timeout=30
    ).json()
    # the materialisation's output is the line's own address: it marks the line fresh
    assert page["run_status"]["last_state"] == "COMPLETE"
    last = page["last_checks"]
    assert (last["passed"], last["failed"]) == (len(evaluated), 0)
    assert {c["name"] for c in last["checks"]} >= {c.check_name for c in evaluated}
    # every event was accepted by the registry's OpenLineage endpoint, none dropped
    emitter = reporting._emitters[(server, tokens.admin)]
    wait_for(lambda: emitter.sent == 3, 10, lambda: f"sent {emitter.sent}")
    assert emitter.dropped == 0


@pytest.mark.services
def test_a_cdc_capture_reports_its_run_with_the_events_it_produced(
    postgres_database: str,
    kafka_broker: str,
    tmp_path: Path,
    server: str,
    tokens: Tokens,
    engine: Engine,
) -> None:
    cdc = CdcEnv(dsn=postgres_database, bootstrap=kafka_broker, state_dir=tmp_path / "cdc")
    table = f"ol_{tmp_path.name[-8:].replace('-', '_')}".lower()
    cdc.sql(
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} (id int PRIMARY KEY, note text)",
        f"INSERT INTO {table} SELECT i, 'n' FROM generate_series(1, 40) i",
    )
    config = cdc.config([f"public.{table}"])
    cmd = [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run", "-q",
           "--dsn", cdc.dsn, "--table", f"public.{table}",
           "--topic-prefix", config.topic_prefix, "--slot", config.slot,
           "--publication", config.publication, "--bootstrap-servers", cdc.bootstrap,
           "--state-dir", str(cdc.state_dir), "--metrics-port", str(free_port())]  # fmt: skip
    env = {
        **os.environ,
        "MESHKIT_REGISTRY_URL": server,
        "MESHKIT_REGISTRY_TOKEN": tokens.admin,
        "MESHKIT_LINEAGE_INTERVAL_SECONDS": "0.2",
    }
    log = tmp_path / "cdc.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env)
    try:

        def reported() -> bool:
            assert proc.poll() is None, log.read_text()
            with Session(engine) as s:
                run = s.scalars(select(Run).where(Run.job_name == f"cdc.{config.slot}")).first()
            counts = (run.facets.get("meshkit_counts") or {}) if run is not None else {}
            return run is not None and run.state == "RUNNING" and counts.get("written") == 40

        wait_for(reported, 60, lambda: f"no RUNNING event counting 40: {log.read_text()[-2000:]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        wait_slot_released(cdc.dsn, config.slot)
    assert code == 0, log.read_text()
    with Session(engine) as s:
        run = s.scalars(select(Run).where(Run.job_name == f"cdc.{config.slot}")).one()
    assert run.job_namespace == config.slot.removeprefix("meshkit_")
