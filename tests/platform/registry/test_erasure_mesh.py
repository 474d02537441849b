"""Erasure across both example domains: the registry files the request, the customers
domain's worker runs as ``meshkit erasure work``, the orders domain's as its Dagster
sensor, on real ports (Kafka-protocol broker, DuckDB file, search server, PostgreSQL
serving view). After the request completes, the subject's encrypted fields are
unreadable in every port of every product, its records are gone where a port holds its
id, everyone else's still read, and the registry shows every product verified. No
personal value of any subject reaches the registry's database."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from meshkit.cli.app import app as meshkit_app
from meshkit.contracts import Contract, load_contract
from meshkit.erasure.ports import PortTargets, SearchPort, TopicPort
from meshkit.local import local_search_client
from meshkit.ports import DuckDBWarehouseWriter, KafkaTopicWriter, ServingViewWriter
from meshkit.ports.base import Change
from meshkit.ports.search import SearchIndexWriter
from meshkit.privacy import LocalKeyStore, Masker, SubjectCipher
from meshkit.testing import SearchEndpoint
from meshkit_platform.registry import RegistrySettings
from tests.platform.registry.conftest import SMALL_LIMIT, Tokens, bearer
from tests.platform.registry.test_erasure import ERASURE_KEY, publish_domains, serve

ROOT = Path(__file__).resolve().parents[3]
CUSTOMERS = ROOT / "domains" / "customers" / "contracts"
ORDERS = ROOT / "domains" / "orders" / "contracts"
SUBJECT, OTHERS = "2", ("1", "3")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def person(i: str) -> dict[str, Any]:
    """A customer whose personal values are canaries: unique, searchable strings."""
    return {
        "customer_id": i,
        "email": f"canary-mail-{i}-x7@example.com",
        "full_name": f"Canaryname Person{i}xq",
        "birth_date": date(1980 + int(i), 1, 1),
        "country": "DE",
        "tier": "plus",
        "signed_up_at": T0,
    }


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[str]:
    settings = RegistrySettings(
        max_body_bytes=SMALL_LIMIT, token_cache_seconds=0, erasure_key=ERASURE_KEY
    )
    yield from serve(engine, settings)


@pytest.fixture(scope="module", autouse=True)
def mesh(client: httpx.Client, tokens: Tokens) -> None:
    publish_domains(client, tokens.admin)


def _changes(records: list[dict[str, Any]], key: str) -> list[Change]:
    return [Change.upsert(r, key=(r[key],), position=i) for i, r in enumerate(records, 1)]


def _write(writer: Any, contract: Contract, changes: list[Change]) -> None:
    writer.ensure(contract)
    writer.write(changes)
    writer.flush()
    writer.close()


@pytest.fixture
def ports(
    tmp_path: Path,
    kafka_broker: str,
    search_server: SearchEndpoint,
    postgres_database: str,
    session_master_key: str,
) -> dict[str, Any]:
    """Both domains' products written to their ports, personal data masked per contract."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    warehouse = tmp_path / "warehouse.duckdb"
    stores = {"customers": tmp_path / "customers-keys", "orders": tmp_path / "orders-keys"}
    customer = load_contract(CUSTOMERS / "customer.yaml")
    order = load_contract(ORDERS / "order.yaml")
    recent = load_contract(ORDERS / "customer_orders.yaml")

    with LocalKeyStore.open(stores["customers"]) as store:
        store.create_token_key("customers")
        masked = Masker.from_contract(customer, store=store).mask_records(
            [person(i) for i in ("1", "2", "3")]
        )
    changes = _changes(masked, "customer_id")
    # the subject changed tiers once: the topic keeps both messages
    changes.append(Change.upsert({**masked[1], "tier": "pro"}, key=("2",), position=9))
    topic = prefix + customer.address
    _write(KafkaTopicWriter(kafka_broker, topic=prefix + customer.address), customer, changes)
    _write(DuckDBWarehouseWriter(warehouse), customer, changes[:3])
    search = local_search_client(search_server.url)
    _write(SearchIndexWriter(search, prefix=prefix), customer, changes[:3])

    orders = [
        {
            "order_id": f"o{n}",
            "customer_id": c,
            "status": "paid",
            "total": Decimal("10.50"),
            "currency": "EUR",
            "shipping_postcode": "10115",
            "placed_at": T0 + timedelta(hours=n),
        }
        for n, c in enumerate(["1", "2", "2", "3"], 1)
    ]
    order_rows = Masker.from_contract(order).mask_records(orders)
    _write(
        KafkaTopicWriter(kafka_broker, topic=prefix + order.address),
        order,
        _changes(order_rows, "order_id"),
    )
    _write(DuckDBWarehouseWriter(warehouse), order, _changes(order_rows, "order_id"))
    views = [
        {
            "customer_id": c,
            "recent_order_ids": [o["order_id"] for o in orders if o["customer_id"] == c],
            "last_order_at": T0,
            "last_order_status": "paid",
        }
        for c in ("1", "2", "3")
    ]
    _write(ServingViewWriter(postgres_database), recent, _changes(views, "customer_id"))
    return {
        "prefix": prefix,
        "topic": topic,
        "warehouse": warehouse,
        "stores": stores,
        "search": search,
        "search_url": search_server.url,
        "view_dsn": postgres_database,
        "brokers": kafka_broker,
        "contracts": {"customer": customer, "order": order, "recent": recent},
        "names": {i: person(i)["full_name"] for i in ("1", "2", "3")},
    }


def _read(store_dir: Path, text: str) -> str:
    with LocalKeyStore.open(store_dir) as store:
        outcome = SubjectCipher(store, cache_ttl=0).decrypt_many([text], "full_name")[0]
    assert outcome is not None
    return str(outcome.value) if outcome.status == "ok" else outcome.status


def test_an_erasure_across_both_example_domains(
    client: httpx.Client,
    server: str,
    tokens: Tokens,
    ports: dict[str, Any],
    registry_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = ports["contracts"]["customer"]
    topic = TopicPort(ports["brokers"], customer, ports["topic"])
    before = topic.history("customer_id", SUBJECT)
    assert len(before) == 2
    assert _read(ports["stores"]["customers"], before[0]["full_name"]) == ports["names"]["2"]

    # the customers domain files the request, as the person asked there
    filed = client.post(
        "/v1/erasures",
        json={"subject": f"customer:{SUBJECT}"},
        headers=bearer(tokens.owner_customers),
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]

    env = {
        "MESHKIT_REGISTRY_URL": server,
        "MESHKIT_ERASURE_BROKERS": ports["brokers"],
        "MESHKIT_ERASURE_WAREHOUSE": str(ports["warehouse"]),
        "MESHKIT_ERASURE_SEARCH_URL": ports["search_url"],
        "MESHKIT_ERASURE_VIEW_DSN": ports["view_dsn"],
        "MESHKIT_ERASURE_PREFIX": ports["prefix"],
    }
    # customers: the CLI verb
    result = CliRunner().invoke(
        meshkit_app,
        ["erasure", "work", "--domain", "customers", "--contracts", str(CUSTOMERS)],
        env={
            **env,
            "MESHKIT_REGISTRY_TOKEN": tokens.owner_customers,
            "MESHKIT_ERASURE_KEYSTORE_DIR": str(ports["stores"]["customers"]),
        },
    )
    assert result.exit_code == 0, result.output
    assert f"{request_id}  customers.customer.v1  verified" in result.output
    assert ports["names"]["2"] not in result.output
    shown = client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).json()
    assert shown["status"] == "open"

    # orders: the Dagster sensor the generated domain wires in
    for name, value in {
        **env,
        "MESHKIT_REGISTRY_TOKEN": tokens.owner_orders,
        "MESHKIT_ERASURE_KEYSTORE_DIR": str(ports["stores"]["orders"]),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(ROOT / "domains" / "orders" / "src"))
    orders_defs = importlib.import_module("orders.definitions").defs
    sensor = next(s for s in orders_defs.sensors or () if s.name == "meshkit_erasure")
    tick = sensor.evaluate_tick(dg.build_sensor_context())
    assert tick.skip_message == "2 product(s) of open erasure requests handled, 2 verified"

    shown = client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).json()
    assert shown["status"] == "complete"
    assert {p["address"]: p["status"] for p in shown["products"]} == {
        "customers.customer.v1": "verified",
        "orders.customer_orders.v1": "verified",
        "orders.order.v1": "verified",
    }
    evidence = {
        e["kind"]: e
        for p in shown["products"]
        if p["address"] == "customers.customer.v1"
        for e in p["evidence"]["ports"]
    }
    assert sorted(evidence) == ["kafka_topic", "search_index", "warehouse_table"]
    # both messages carry the same text (deterministic encryption): one distinct value
    assert evidence["kafka_topic"]["subject_records_before"] == 1
    assert evidence["kafka_topic"]["ciphertexts_checked"] == 1
    assert evidence["kafka_topic"]["control_readable"] == 2

    # read back from each port, independently of the worker
    keys = ports["stores"]["customers"]
    topic = TopicPort(ports["brokers"], customer, ports["topic"])  # a port reads once
    after = topic.history("customer_id", SUBJECT)
    assert [_read(keys, r["full_name"]) for r in after] == ["erased", "erased"]
    assert topic.subject_rows("customer_id", SUBJECT) == []  # tombstoned
    for other in OTHERS:
        (row,) = topic.subject_rows("customer_id", other)
        assert _read(keys, row["full_name"]) == ports["names"][other]
    with duckdb.connect(str(ports["warehouse"])) as con:
        rows = con.execute(
            "SELECT customer_id, full_name FROM customers.customer_v1 ORDER BY customer_id"
        ).fetchall()
        orders_left = con.execute(
            "SELECT DISTINCT customer_id FROM orders.order_v1 ORDER BY 1"
        ).fetchall()
    assert [r[0] for r in rows] == list(OTHERS)
    assert [_read(keys, r[1]) for r in rows] == [ports["names"][o] for o in OTHERS]
    assert [r[0] for r in orders_left] == list(OTHERS)
    search = SearchPort(
        PortTargets(search_url=ports["search_url"]), ports["prefix"] + customer.address
    )
    assert search.subject_rows("customer_id", SUBJECT) == []
    (doc,) = search.subject_rows("customer_id", "1")
    assert "full_name" not in doc  # a search index holds personal data only as tokens
    search.close()
    order_topic = TopicPort(ports["brokers"], ports["contracts"]["order"],
                            ports["prefix"] + ports["contracts"]["order"].address)  # fmt: skip
    assert order_topic.subject_rows("customer_id", SUBJECT) == []
    assert len(order_topic.subject_rows("customer_id", "1")) == 1
    with psycopg2.connect(ports["view_dsn"]) as conn, conn.cursor() as cur:
        table = sql.Identifier("public", ports["contracts"]["recent"].address)
        cur.execute(sql.SQL("SELECT customer_id FROM {} ORDER BY 1").format(table))
        assert [r[0] for r in cur.fetchall()] == list(OTHERS)
    conn.close()

    # the registry's database, answers and logs hold no personal value of any subject
    with psycopg2.connect(registry_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        dump: list[str] = []
        for (name,) in cur.fetchall():
            ident = sql.Identifier("public", name)
            cur.execute(sql.SQL("SELECT t::text FROM {} AS t").format(ident))
            dump += [r for (r,) in cur.fetchall()]
    conn.close()
    answers = [
        client.get(f"/v1/erasures/{request_id}", headers=bearer(tokens.admin)).text,
        client.get("/v1/erasures", headers=bearer(tokens.owner_orders)).text,
        client.get("/v1/domains/customers/erasures", headers=bearer(tokens.owner_customers)).text,
    ]
    text = "\n".join(dump + answers)
    for i in ("1", "2", "3"):
        for value in (person(i)["full_name"], person(i)["email"]):
            assert value not in text
            assert value not in caplog.text  # nor in any log line of the registry or workers
    ports["search"].close()
