"""The Kafka product-topic writer against the embedded broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from meshkit.contracts import Contract
from meshkit.local.kafka import admin_config, consumer_config
from meshkit.ports import Change, RecordRefusedError, SchemaChangeError
from meshkit.ports.kafka import KafkaTopicWriter
from meshkit.privacy import Masker
from tests.sdk.ports.helpers import (
    BAD_CASES,
    batch_with_bad_record,
    canon_state,
    expected,
    workload,
)


@pytest.fixture
def writer(kafka_broker: str, kafka_topic: str, contract: Contract) -> Iterator[KafkaTopicWriter]:
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic)
    w.ensure(contract)
    yield w
    w.flush()


def read_topic(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The first ``count`` messages of partition 0 (an empty list waits 1 s for none)."""
    consumer = Consumer(consumer_config(bootstrap, "ports-test", **{"enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out: list[Any] = []
    try:
        idle = 0
        while len(out) < count and idle < (2 if count == 0 else 20):
            batch = consumer.consume(10_000, timeout=0.5)
            idle = 0 if batch else idle + 1
            for m in batch:
                assert m.error() is None
                out.append(m)
    finally:
        consumer.close()
    return out


def compacted(messages: list[Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for m in messages:
        key = m.key().decode()
        if m.value() is None:
            state.pop(key, None)
        else:
            state[key] = orjson.loads(m.value())
    return state


def test_topic_created_from_contract(kafka_broker: str, contract: Contract) -> None:
    topic = "test-ports-created"
    w = KafkaTopicWriter(kafka_broker, topic=topic)
    w.ensure(contract)
    admin = AdminClient(admin_config(kafka_broker))
    meta = admin.list_topics(topic, timeout=10).topics[topic]
    assert len(meta.partitions) == 1
    admin.delete_topics([topic])[topic].result(10)


def test_messages_keys_headers_and_final_state(
    writer: KafkaTopicWriter, kafka_broker: str, kafka_topic: str, contract: Contract,
    masker: Masker,
) -> None:  # fmt: skip
    changes = workload(masker, 2000)
    for i in range(0, len(changes), 500):
        writer.write(changes[i : i + 500])
    writer.flush()
    messages = read_topic(kafka_broker, kafka_topic, len(changes))
    assert len(messages) == len(changes)
    first = messages[0]
    headers = dict(first.headers())
    assert headers["meshkit-product"] == b"shop.customer"
    assert headers["meshkit-version"] == b"1.0.0"
    assert headers["meshkit-position"] == str(changes[0].position).encode()
    assert first.key() == changes[0].key[0].encode()
    deletes = [m for m in messages if m.value() is None]
    assert len(deletes) == sum(c.op == "delete" for c in changes)
    assert canon_state(contract, compacted(messages)) == canon_state(contract, expected(changes))


def test_replay_after_crash_keeps_the_compacted_state(
    writer: KafkaTopicWriter, kafka_broker: str, kafka_topic: str, contract: Contract,
    masker: Masker,
) -> None:  # fmt: skip
    changes = workload(masker, 600, seed=11)
    writer.write(changes[:400])
    writer.flush()
    again = KafkaTopicWriter(kafka_broker, topic=kafka_topic)  # restarted from position 200
    again.ensure(contract)
    again.write(changes[200:])
    again.flush()
    messages = read_topic(kafka_broker, kafka_topic, 800)
    assert len(messages) == 800  # at-least-once: the replayed 200 are there twice
    assert canon_state(contract, compacted(messages)) == canon_state(contract, expected(changes))


def test_partition_count_change_is_refused(kafka_broker: str, kafka_topic: str) -> None:
    import yaml

    from tests.sdk.ports.helpers import FIXTURES

    data = yaml.safe_load((FIXTURES / "customer.yaml").read_text())
    data["ports"]["outputs"][0]["partitions"] = 4
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic)
    with pytest.raises(SchemaChangeError, match="partitions 1 -> 4"):
        w.ensure(Contract.model_validate(data))


@pytest.mark.parametrize(("field", "value", "named", "message"), BAD_CASES[:4])
def test_bad_record_refused_and_nothing_produced(
    writer: KafkaTopicWriter, kafka_broker: str, kafka_topic: str, masker: Masker,
    field: str, value: Any, named: str, message: str,
) -> None:  # fmt: skip
    with pytest.raises(RecordRefusedError) as err:
        writer.write(batch_with_bad_record(masker, field, value))
    assert err.value.field == named
    assert message in str(err.value)
    writer.flush()
    assert read_topic(kafka_broker, kafka_topic, 0) == []


def test_delete_is_a_tombstone(
    writer: KafkaTopicWriter, kafka_broker: str, kafka_topic: str
) -> None:
    writer.write([Change.delete(key=("c-000001",), position=3)])
    writer.flush()
    (message,) = read_topic(kafka_broker, kafka_topic, 1)
    assert (message.key(), message.value()) == (b"c-000001", None)
