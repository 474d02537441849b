"""One sequence of changes written to every port ends in the same state everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

import meshkit.ports
from meshkit.contracts import Contract
from meshkit.local.kafka import consumer_config
from meshkit.ports import (
    DuckDBWarehouseWriter,
    KafkaTopicWriter,
    PortWriter,
    SearchIndexWriter,
    ServingViewWriter,
    ViewReader,
)
from meshkit.privacy import Masker
from meshkit.testing import SearchEndpoint
from tests.sdk.ports.helpers import canon_state, expected, workload


def kafka_state(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    import orjson

    consumer = Consumer(consumer_config(bootstrap, "cross-port", **{"enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    state: dict[str, Any] = {}
    seen = 0
    try:
        while seen < count:
            batch = consumer.consume(10_000, timeout=5)
            assert batch, "the topic holds fewer messages than were written"
            for m in batch:
                seen += 1
                if m.value() is None:
                    state.pop(m.key().decode(), None)
                else:
                    state[m.key().decode()] = orjson.loads(m.value())
    finally:
        consumer.close()
    return state


def test_same_changes_same_state_in_all_four_ports(
    tmp_path: Path,
    contract: Contract,
    masker: Masker,
    kafka_broker: str,
    kafka_topic: str,
    postgres_database: str,
    search_server: SearchEndpoint,
) -> None:
    es = search_server.client()
    writers: list[PortWriter] = [
        KafkaTopicWriter(kafka_broker, topic=kafka_topic),
        DuckDBWarehouseWriter(tmp_path / "w.duckdb"),
        SearchIndexWriter(es, prefix="cross-"),
        ServingViewWriter(postgres_database),
    ]
    changes = workload(masker, 2500, seed=21)
    for w in writers:
        w.ensure(contract)
        for i in range(0, len(changes), 400):
            w.write(changes[i : i + 400])
        w.flush()
    want = canon_state(contract, expected(changes))

    duck = writers[1]
    assert isinstance(duck, DuckDBWarehouseWriter)
    cur = duck.con.execute("SELECT * FROM shop.customer_v1")
    names = [d[0] for d in cur.description]
    warehouse = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}

    reader = ViewReader(postgres_database, contract)
    view = {r["customer_id"]: r for r in reader.all()}
    reader.close()

    hits = es.search(index="cross-shop.customer", size=10_000)["hits"]["hits"]
    search = {h["_id"]: h["_source"] for h in hits}

    topic = kafka_state(kafka_broker, kafka_topic, len(changes))

    assert canon_state(contract, warehouse) == want
    assert canon_state(contract, view) == want
    assert canon_state(contract, topic) == want
    # the search index holds no PII other than tokens: compare what it holds
    not_indexed = {"phone", "born"}

    def searchable(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {k: {f: v for f, v in r.items() if f not in not_indexed} for k, r in state.items()}

    assert searchable(canon_state(contract, search)) == searchable(want)
    for w in writers:
        w.close()
    es.close()


def test_public_names_resolve() -> None:
    for name in meshkit.ports.__all__:
        assert getattr(meshkit.ports, name) is not None
    assert not [n for n in meshkit.ports.__all__ if n.startswith("_")]
