"""A declarative flow over another product's topic, as meshkit's own Kafka writer wrote it:
upstream inserts, updates and deletes (tombstones) end as the same state downstream."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from bytewax.testing import run_main
from confluent_kafka import Producer

from meshkit.contracts import Contract
from meshkit.ports import KafkaTopicWriter
from meshkit.ports.kafka import close_producer, json_default
from meshkit.streaming import ProductChange, StreamingSettings, build_flow, dead_letter_topic
from tests.sdk.streaming.flowkit import consume_all, dead_letters, unique_contract

pytestmark = [pytest.mark.services, pytest.mark.slow]

Key = tuple[Any, ...]


def upstream_changes(
    n: int, keys: list[Key], make: Any, *, seed: int
) -> tuple[list[ProductChange], dict[Key, dict[str, Any]]]:
    """``n`` changes of the upstream product over ``keys`` (inserts, updates, deletes) and
    the state they leave (newest change per key, deletes removed)."""
    rng = random.Random(seed)
    state: dict[Key, dict[str, Any]] = {}
    changes = []
    for i in range(n):
        key = rng.choice(keys)
        if key in state and rng.random() < 0.3:
            del state[key]
            changes.append(ProductChange("delete", key, None, i))
        else:
            state[key] = make(key, rng)
            changes.append(ProductChange("upsert", key, state[key], i))
    return changes, state


def publish(bootstrap: str, contract: Contract, changes: list[ProductChange]) -> None:
    """The upstream product's flow: meshkit's Kafka writer, in batches."""
    writer = KafkaTopicWriter(bootstrap)
    writer.ensure(contract)
    for start in range(0, len(changes), 100):
        writer.write(changes[start : start + 100])
    writer.close()


def run(bootstrap: str, contract: Contract, tmp_path: Path) -> None:
    settings = StreamingSettings(
        brokers=bootstrap,
        warehouse=tmp_path / "warehouse.duckdb",
        tail=False,
        batch_size=150,
    )
    run_main(build_flow(contract, settings))


def warehouse_rows(path: Path, contract: Contract) -> list[dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rel = con.execute(f'SELECT * FROM "{contract.domain}"."{contract.name}_v1"')
        names = [d[0] for d in rel.description]
        rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()
    for r in rows:
        r.pop("_meshkit_pos")
    return rows


def test_deletes_of_a_one_field_key_reach_the_downstream_ports(
    kafka_broker: str, tmp_path: Path
) -> None:
    up = unique_contract("article")
    down = unique_contract("article_stock", replace={"product: shop.article": f"product: {up.id}"})

    def article(key: Key, rng: random.Random) -> dict[str, Any]:
        price = Decimal(rng.randrange(100, 10_000)).scaleb(-2)
        return {
            "article_id": key[0],
            "title": "a title",
            "stock": rng.randrange(50),
            "price": price,
        }

    changes, state = upstream_changes(600, [(f"a-{i}",) for i in range(60)], article, seed=7)
    assert sum(c.op == "delete" for c in changes) > 50
    publish(kafka_broker, up, changes)

    run(kafka_broker, down, tmp_path)

    expected = {
        k[0]: {"sku": r["article_id"], "units": r["stock"], "price": r["price"]}
        for k, r in state.items()
    }
    assert 0 < len(expected) < 60  # some articles end deleted
    rows = warehouse_rows(tmp_path / "warehouse.duckdb", down)
    assert {r["sku"]: r for r in rows} == expected
    # the downstream topic, reduced by key, holds the same records; its deletes are
    # tombstones keyed as the writer keys them
    newest: dict[bytes, bytes | None] = {}
    for m in consume_all(kafka_broker, down.address):
        newest[m.key()] = m.value()
    assert {k.decode(): orjson.loads(v) for k, v in newest.items() if v is not None} == {
        k: orjson.loads(orjson.dumps(r, default=json_default)) for k, r in expected.items()
    }
    assert sum(v is None for v in newest.values()) == len({c.key for c in changes}) - len(expected)
    assert consume_all(kafka_broker, dead_letter_topic(down), timeout=3) == []


def test_deletes_of_a_composite_key_apply_and_an_unreadable_key_is_a_dead_letter(
    kafka_broker: str, tmp_path: Path
) -> None:
    up = unique_contract("order_line")
    down = unique_contract(
        "order_line_copy", replace={"product: shop.order_line": f"product: {up.id}"}
    )

    def line(key: Key, rng: random.Random) -> dict[str, Any]:
        return {"order_id": key[0], "line_no": key[1], "quantity": rng.randrange(1, 9)}

    keys = [(f"o-{o}", n) for o in range(25) for n in range(1, 4)]
    changes, state = upstream_changes(500, keys, line, seed=11)
    assert sum(c.op == "delete" for c in changes) > 40
    publish(kafka_broker, up, changes)
    # two tombstones whose keys are not the writer's: one value where two are expected,
    # and text that is no JSON at all
    producer = Producer({"bootstrap.servers": kafka_broker})
    for bad in (b'["o-secret-1"]', b"o-secret-2|1"):
        producer.produce(up.address, None, bad)
    assert producer.flush(10) == 0
    close_producer(producer)

    run(kafka_broker, down, tmp_path)

    rows = warehouse_rows(tmp_path / "warehouse.duckdb", down)
    assert {(r["order"], r["line"]): r["qty"] for r in rows} == {
        k: r["quantity"] for k, r in state.items()
    }
    letters = dead_letters(kafka_broker, down)
    assert sorted(v["source"] for v in letters.values()) == [
        f"{up.address}[0]@{len(changes)}",
        f"{up.address}[0]@{len(changes) + 1}",
    ]
    for letter in letters.values():
        assert letter["step"] == "parse"
        assert "a JSON array of 2 values (order_id, line_no)" in letter["reason"]
    assert "secret" not in str(letters)
