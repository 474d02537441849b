"""kill -9 of a component of the mesh during traffic, then a restart: nothing is lost and
the final state is exact.

The components: the capture, the flow and the registry. The registry is not on the data
path: while it is down the flow and the capture keep going (their run events are dropped
and counted, never waited for), and after its restart it still holds what was published
before the kill and takes the flow's run events again.

The customers domain runs as in production (``meshkit cdc run`` and its Bytewax flow as
processes) on a stack of its own, while its service keeps inserting, updating and
deleting customers. One component is killed with SIGKILL mid-traffic and started again.
After the traffic stops, the product topic (its latest record per key, as compaction
keeps it) and the warehouse table must equal what the service database implies: every
active customer with its current country and tier, no deleted or test customer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg2
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg2.extensions import make_dsn, parse_dsn
from sqlalchemy.orm import Session

from bench._mesh import (
    DOMAINS,
    Domain,
    check_running,
    create_database,
    database_dsn,
    domains,
    import_service,
    start_part,
    stop_part,
    wait_until,
)
from meshkit.cli.publish import publish
from meshkit.local import consumer_config
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import LocalStack
from meshkit.ports.kafka import ValueDecoder
from meshkit.privacy.keys import MASTER_KEY_ENV, write_master_key_file
from meshkit_platform.registry.auth import create_token
from meshkit_platform.registry.cli import EMBEDDED_DATABASE
from meshkit_platform.registry.db import make_engine

pytestmark = [pytest.mark.slow, pytest.mark.services]

SEEDED = 300


def expected(dsn: str) -> dict[str, tuple[str, str]]:
    """customer_id → (country, tier) of every customer the product should hold."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, country, tier FROM public.customers WHERE status <> 'test'")
        rows = {str(i): (c, t) for i, c, t in cur.fetchall()}
    conn.close()
    return rows


def topic_state(brokers: str, domain: Domain) -> dict[str, tuple[str, str]]:
    """The product topic read from the start: the latest record per key (tombstones drop)."""
    topic = domain.contract.address
    decode = ValueDecoder(domain.contract)
    consumer = Consumer(consumer_config(brokers, group_id=f"crash-{time.monotonic_ns()}"))
    state: dict[str, tuple[str, str]] = {}
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return state
        parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
        high = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        done = {p for p, h in high.items() if h == 0}
        while len(done) < len(high):
            for m in consumer.consume(5000, 0.5):
                if m.error() is not None:
                    continue
                key = m.key().decode() if m.key() else ""
                if m.value() is None:
                    state.pop(key, None)
                else:
                    record = decode(m.value(), m.headers())
                    state[str(record["customer_id"])] = (record["country"], record["tier"])
                if m.offset() + 1 >= high[m.partition()]:
                    done.add(m.partition())
        return state
    finally:
        consumer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


class Traffic:
    """The CRM changing its customers in small transactions until stopped."""

    def __init__(self, dsn: str) -> None:
        self.service: Any = import_service("customers")
        self.dsn = dsn
        self.rounds = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.service.change(self.dsn, 20, seed=100 + self.rounds)
                self.rounds += 1
                time.sleep(0.05)
        except BaseException as exc:  # reported by stop()
            self.errors.append(exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self.errors, self.errors


def registry_token(postgres: str, database: str) -> str:
    """A domain-owner token of the customers domain, as ``registry token create`` makes it."""
    p = parse_dsn(make_dsn(postgres, dbname=database))
    engine = make_engine(f"postgresql+psycopg2://{p['user']}@{p['host']}:{p['port']}/{database}")
    with Session(engine) as session:
        _, token = create_token(session, name="crash", role="domain-owner", domain="customers")
        session.commit()
    engine.dispose()
    return token


def registered(registry: str, token: str, address: str) -> dict[str, Any] | None:
    """The registry's product page of ``address`` as JSON, or None when not answering."""
    try:
        r = httpx.get(f"{registry}/v1/products/{address}",
                      headers={"Authorization": f"Bearer {token}"}, timeout=5)  # fmt: skip
    except httpx.TransportError:
        return None
    assert r.status_code == 200, r.text
    return dict(json.loads(r.text))


@pytest.mark.parametrize("component", ["cdc", "flow", "registry"])
def test_kill_9_during_traffic_loses_nothing(tmp_path: Path, component: str) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv(MASTER_KEY_ENV, write_master_key_file(tmp_path / "master.key"))
    with_registry = component == "registry"
    # the registry comes back on its address, as behind a service name in production
    fixed = {"registry_port": free_port()} if with_registry else {}
    stack = LocalStack(LocalSettings(state_dir=tmp_path / "stack", index_port=0, **fixed))
    (domain,) = [d for d in domains(customers=SEEDED) if d.name == "customers"]
    # The product topic and the warehouse table are what this test checks.
    domain.env["MESHKIT_STREAMING_PORTS"] = '["kafka_topic", "warehouse_table"]'
    try:
        for name in ("kafka", "postgres", *(["registry"] if with_registry else [])):
            stack.service(name).start()
        endpoints = stack.endpoints
        assert endpoints.kafka
        assert endpoints.postgres
        address = domain.contract.address
        if with_registry:
            assert endpoints.registry
            token = registry_token(endpoints.postgres, EMBEDDED_DATABASE)
            publish(DOMAINS / "customers" / "contracts", url=endpoints.registry, token=token)
            domain.env |= {
                "MESHKIT_REGISTRY_URL": endpoints.registry,
                "MESHKIT_REGISTRY_TOKEN": token,
                "MESHKIT_LINEAGE_INTERVAL_SECONDS": "1",
            }
        create_database(endpoints.postgres, domain.database)
        domain.dsn = str(database_dsn(endpoints.postgres, domain.database))
        domain.seed(domain.dsn, SEEDED)
        start_part(domain, tmp_path, endpoints, "cdc")
        start_part(domain, tmp_path, endpoints, "flow")

        def check() -> None:
            check_running([domain], tmp_path)

        wait_until(
            lambda: len(topic_state(endpoints.kafka, domain)) > SEEDED // 2,
            120, "the snapshot in the product topic", check,
        )  # fmt: skip
        traffic = Traffic(domain.dsn)
        traffic.start()
        wait_until(lambda: traffic.rounds >= 10, 60, "traffic", check)
        if with_registry:
            record = stack.service("registry").record()
            assert record is not None
            assert record.pid is not None
            os.kill(record.pid, signal.SIGKILL)
            wait_until(lambda: registered(endpoints.registry, token, address) is None,
                       30, "the registry to be gone", check)  # fmt: skip
        else:
            proc = domain.procs.pop(component)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
        wait_until(lambda: traffic.rounds >= 20, 60, "traffic without the " + component, check)
        restarted = time.time()
        if with_registry:
            stack.service("registry").start()
        else:
            start_part(domain, tmp_path, endpoints, component)
        wait_until(lambda: traffic.rounds >= 35, 60, "traffic after the restart", check)
        traffic.stop()
        if with_registry:  # what was published survived; run events arrive again

            def reported_since_restart() -> bool:
                page = registered(endpoints.registry, token, address)
                assert page is not None
                assert page["version"] == domain.contract.version
                run = page["run_status"]
                return run is not None and _epoch(run["last_event_at"]) > restarted

            wait_until(reported_since_restart, 60, "a run event after the restart", check)

        want = expected(domain.dsn)
        assert len(want) > SEEDED // 2
        wait_until(
            lambda: topic_state(endpoints.kafka, domain) == want,
            120, "the product topic to equal the service database", check,
        )  # fmt: skip
        stop_part(domain)  # the flow lets go of the warehouse file
        table = next(p.name_in(domain.contract) for p in domain.contract.ports.outputs
                     if p.kind == "warehouse_table")  # fmt: skip
        with duckdb.connect(str(tmp_path / "warehouse-customers.duckdb"), read_only=True) as con:
            rows = con.execute(f"SELECT customer_id, country, tier FROM {table}").fetchall()
        assert {str(i): (c, t) for i, c, t in rows} == want
        assert len(rows) == len(want)  # one row per customer: no duplicate from a replay
    finally:
        stop_part(domain)
        stack.down()
        mp.undo()
