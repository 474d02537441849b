"""A contract change on its way into the running mesh.

- An **additive** change (a new optional field, minor version bump) flows through without
  downtime: the customer product's capture and flow run, a reader keeps querying the
  search alias, and the flow is redeployed with contract 1.1.0. The reader never misses
  the index or sees fewer documents, a consumer still on 1.0.0 decodes every message,
  and the warehouse table and the index gain the field in place for every row.
- A **breaking** change (a field's type changed, version not bumped to a new major) is
  stopped by the gate a domain repository runs in pre-commit and CI
  (``meshkit hooks contract-diff`` against the last commit) with the reason, before
  anything is deployed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import Consumer, TopicPartition

from bench._mesh import (
    DOMAINS,
    check_running,
    connect_generator,
    create_database,
    database_dsn,
    domains,
    start_part,
    stop_part,
    touch,
    wait_until,
)
from meshkit.contracts import load_contract
from meshkit.local import consumer_config, local_search_client
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import LocalStack
from meshkit.ports.kafka import ValueDecoder
from meshkit.privacy.keys import MASTER_KEY_ENV, write_master_key_file

pytestmark = [pytest.mark.slow, pytest.mark.services]

SEEDED = 300
MESHKIT = str(Path(sys.executable).with_name("meshkit"))
NEW_FIELD = "  - {name: status, type: string, description: Account status in the CRM.}\n"


def additive(contract: Path) -> None:
    """customer.yaml 1.0.0 → 1.1.0 with the CRM's ``status`` as a new optional field."""
    text = contract.read_text()
    assert "version: 1.0.0" in text
    text = text.replace("version: 1.0.0", "version: 1.1.0")
    text = text.replace(
        "primary_key: [customer_id]", NEW_FIELD.rstrip("\n") + "\nprimary_key: [customer_id]"
    )
    contract.write_text(text)


def read_topic(brokers: str, topic: str) -> list[tuple[bytes | None, list[tuple[str, bytes]]]]:
    consumer = Consumer(consumer_config(brokers, group_id=f"change-{time.monotonic_ns()}"))
    out: list[tuple[bytes | None, list[tuple[str, bytes]]]] = []
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
        high = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        done = {p for p, h in high.items() if h == 0}
        while len(done) < len(high):
            for m in consumer.consume(5000, 0.5):
                if m.error() is None:
                    out.append((m.value(), list(m.headers() or [])))
                    if m.offset() + 1 >= high[m.partition()]:
                        done.add(m.partition())
        return out
    finally:
        consumer.close()


class AliasReader:
    """Queries the product's search alias every 20 ms; records misses and the lowest count."""

    def __init__(self, url: str, alias: str) -> None:
        self.es = local_search_client(url)
        self.alias = alias
        self.queries = 0
        self.failures: list[str] = []
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.counts.append(int(self.es.count(index=self.alias)["count"]))
            except Exception as exc:  # any failure is what this reader is here to catch
                self.failures.append(type(exc).__name__)
            self.queries += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.es.close()


def test_additive_change_flows_through_without_downtime(tmp_path: Path) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv(MASTER_KEY_ENV, write_master_key_file(tmp_path / "master.key"))
    contracts = tmp_path / "contracts"
    shutil.copytree(DOMAINS / "customers" / "contracts", contracts)
    stack = LocalStack(LocalSettings(state_dir=tmp_path / "stack", index_port=0))
    (domain,) = [d for d in domains(customers=SEEDED) if d.name == "customers"]
    old = load_contract(contracts / "customer.yaml")
    domain.env["MESHKIT_STREAMING_CONTRACT"] = str(contracts / "customer.yaml")
    domain.env["MESHKIT_STREAMING_PORTS"] = '["kafka_topic", "warehouse_table", "search_index"]'
    reader: AliasReader | None = None
    try:
        for name in ("kafka", "postgres", "search"):
            stack.service(name).start()
        endpoints = stack.endpoints
        assert endpoints.kafka
        assert endpoints.postgres
        assert endpoints.search
        create_database(endpoints.postgres, domain.database)
        domain.dsn = str(database_dsn(endpoints.postgres, domain.database))
        domain.seed(domain.dsn, SEEDED)
        connect_generator(domain)
        start_part(domain, tmp_path, endpoints, "cdc", contracts=contracts)
        start_part(domain, tmp_path, endpoints, "flow", declarative=True)

        def check() -> None:
            check_running([domain], tmp_path)

        es = local_search_client(endpoints.search)

        def documents() -> int:
            if not es.indices.exists_alias(name=old.id):
                return 0
            es.indices.refresh(index=old.id)
            return int(es.count(index=old.id)["count"])

        active = SEEDED - 20  # the seed's test accounts (about 2 %) stay out
        wait_until(lambda: documents() >= active, 120, "the 1.0.0 documents", check)
        before = documents()
        reader = AliasReader(endpoints.search, old.id)
        reader.start()

        additive(contracts / "customer.yaml")  # the domain merges 1.1.0 and redeploys
        stop_part(domain, "flow")
        start_part(domain, tmp_path, endpoints, "flow", declarative=True)
        touch(domain, SEEDED)  # the service keeps working: every row changes once more
        new = load_contract(contracts / "customer.yaml")
        assert new.version == "1.1.0"

        def with_status() -> int:
            es.indices.refresh(index=old.id)
            hits = es.search(index=old.id, size=10_000)["hits"]["hits"]
            return sum(1 for h in hits if h["_source"].get("status") == "active")

        wait_until(lambda: with_status() >= before, 120, "1.1.0 documents with status", check)
        reader.stop()
        assert reader.queries > 20
        assert reader.failures == []  # the alias answered every query through the redeploy
        assert min(reader.counts) >= before  # and never held fewer documents

        # A consumer still on 1.0.0 reads every message, the new ones included.
        decode_old = ValueDecoder(old)
        messages = [(v, h) for v, h in read_topic(endpoints.kafka, old.address) if v]
        decoded = [decode_old(v, h) for v, h in messages]
        assert len(decoded) >= before + SEEDED - 20
        assert all("customer_id" in r for r in decoded)
        assert any(dict(h).get("meshkit-version") == b"1.1.0" for _, h in messages)

        stop_part(domain)  # the flow lets go of the warehouse file
        table = next(p.name_in(new) for p in new.ports.outputs if p.kind == "warehouse_table")
        with duckdb.connect(str(tmp_path / "warehouse-customers.duckdb"), read_only=True) as con:
            total, filled = con.execute(f"SELECT count(*), count(status) FROM {table}").fetchone()
        assert total == before  # the same table, altered in place: no row lost or doubled
        assert filled == total  # every row rewritten with the new field
        es.close()
    finally:
        if reader is not None:
            reader.stop()
        stop_part(domain)
        if domain.conn is not None:
            domain.conn.close()
        stack.down()
        mp.undo()


def test_breaking_change_is_stopped_by_the_gate(tmp_path: Path) -> None:
    repo = tmp_path / "customers"
    shutil.copytree(DOMAINS / "customers" / "contracts", repo / "contracts")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "customer 1.0.0"], check=True)
    contract = repo / "contracts" / "customer.yaml"
    text = contract.read_text()
    # full_name becomes required: a consumer's writer of the product (or a replay of old
    # records without it) would now be refused
    breaking = text.replace("version: 1.0.0", "version: 1.1.0").replace(
        "  - name: full_name\n    type: string\n",
        "  - name: full_name\n    type: string\n    required: true\n",
    )
    assert breaking.count("required: true") == text.count("required: true") + 1
    contract.write_text(breaking)
    gate = subprocess.run(
        [MESHKIT, "hooks", "contract-diff", str(contract)],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert gate.returncode == 1, gate.stdout + gate.stderr
    out = gate.stdout + gate.stderr
    assert "full_name" in out
    assert "2.0.0" in out  # it says which version the change needs
    assert "Traceback" not in out
    # the same change as a new major passes the gate
    contract.write_text(contract.read_text().replace("version: 1.1.0", "version: 2.0.0"))
    gate = subprocess.run(
        [MESHKIT, "hooks", "contract-diff", str(contract)],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert gate.returncode == 0, gate.stdout + gate.stderr
