"""The Kafka product-topic writer against the embedded broker."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from meshkit.contracts import Contract
from meshkit.contracts.exporters.published import published_fields
from meshkit.local.kafka import admin_config, consumer_config
from meshkit.ports import Change, PortError, RecordRefusedError, SchemaChangeError
from meshkit.ports.kafka import (
    AvroCodec,
    KafkaTopicWriter,
    ValueDecoder,
    decode_value,
    json_default,
)
from meshkit.privacy import Masker
from tests.sdk.ports.helpers import (
    BAD_CASES,
    FIXTURES,
    batch_with_bad_record,
    canon_state,
    expected,
    load,
    raw,
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
    assert headers["meshkit-format"] == b"json"
    assert "meshkit-schema" not in headers
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


def _kafka_threads() -> int:
    """This process's librdkafka threads (Linux names them ``rdk:main``, ``rdk:broker…``);
    clients other tests left for the garbage collector are collected first."""
    gc.collect()
    names = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.append((task / "comm").read_text())
    return sum(n.startswith("rdk:") for n in names)


def test_close_flushes_and_releases_the_producer(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    """Its connections and threads end at ``close``, not whenever the garbage collector
    finds the writer: a broker stopped later must not find a client still reconnecting."""
    before = _kafka_threads()
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic)
    w.ensure(contract)
    changes = workload(masker, 50, seed=8)
    w.write(changes)
    assert _kafka_threads() > before
    w.close()
    assert _kafka_threads() == before
    assert len(read_topic(kafka_broker, kafka_topic, len(changes))) == len(changes)
    w.close()  # a second close, or a flush after it, does nothing
    w.flush()
    with pytest.raises(PortError, match="closed"):
        w.write(changes)


def test_partition_count_change_is_refused(kafka_broker: str, kafka_topic: str) -> None:
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


# -- Avro values --------------------------------------------------------------------------


def full(contract: Contract, record: Any) -> dict[str, Any]:
    """A record with every published field (a missing optional field decodes as None)."""
    return {f.name: record.get(f.name) for f in published_fields(contract)}


def edge_records(masker: Masker) -> list[dict[str, Any]]:
    """Nulls in every nullable field, and decimals, timestamps and dates at their edges."""
    nullable = ("phone", "born", "visits", "balance", "score", "active", "address", "tags")
    nulls = {**masker.mask_record(raw(1)), **dict.fromkeys(nullable)}
    edges = {
        **masker.mask_record(raw(2)),
        "balance": Decimal("-9999999999.99"),  # decimal(12,2) at its limit, negative
        "visits": -(2**63),
        "score": -0.0,
        "address": {"city": None, "country": "FR"},
        "tags": [],
        "updated_at": datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # before 1970
    }
    small = {**masker.mask_record(raw(3)), "balance": Decimal("0.5"), "born": date(1900, 1, 1),
             "updated_at": datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC)}  # fmt: skip
    return [nulls, edges, small]


def test_avro_round_trip_through_the_broker(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic, value_format="avro")
    w.ensure(contract)
    specials = [
        Change.upsert(r, key=(r["customer_id"],), position=10_000 + i)
        for i, r in enumerate(edge_records(masker))
    ]
    changes = workload(masker, 400, seed=5)
    gone = max(k[0] for k in expected(changes))  # a live key, not one of the specials
    w.write(changes)
    w.write([*specials, Change.delete(key=(gone,), position=20_000)])
    w.flush()
    messages = read_topic(kafka_broker, kafka_topic, len(changes) + 4)
    assert len(messages) == len(changes) + 4

    fingerprint = AvroCodec(contract).fingerprint
    assert len(fingerprint) == 64
    decode = ValueDecoder(contract)
    state: dict[str, Any] = {}
    for m in messages:
        headers = dict(m.headers())
        assert headers["meshkit-format"] == b"avro"
        assert headers["meshkit-schema"] == fingerprint.encode()
        assert headers["meshkit-product"] == b"shop.customer"
        assert headers["meshkit-version"] == b"1.0.0"
        key = m.key().decode()
        record = decode(m.value(), m.headers())
        if record is None:
            state.pop(key, None)
        else:
            state[key] = record
    assert messages[-1].value() is None  # the delete is a tombstone, not an Avro value
    assert dict(messages[-1].headers())["meshkit-position"] == b"20000"

    want = {k[0]: full(contract, r) for k, r in expected([*changes, *specials]).items()}
    del want[gone]
    assert state == want  # Decimal, datetime, date, None compare by value
    for r in edge_records(masker):
        got = state[r["customer_id"]]
        assert got == full(contract, r)
        assert type(got["updated_at"]) is datetime
        assert got["updated_at"].tzinfo is not None
    assert state["c-000002"]["balance"] == Decimal("-9999999999.99")
    assert state["c-000003"]["born"] == date(1900, 1, 1)


def test_avro_is_smaller_than_json(contract: Contract, masker: Masker) -> None:
    codec = AvroCodec(contract)
    record = masker.mask_record(raw(5))
    assert decode_value(contract, codec.encode(record), value_format="avro") == full(
        contract, record
    )
    assert len(codec.encode(record)) < len(orjson.dumps(record, default=str)) / 2


def test_json_values_decode_to_the_same_record(
    writer: KafkaTopicWriter, kafka_broker: str, kafka_topic: str, contract: Contract,
    masker: Masker,
) -> None:  # fmt: skip
    records = edge_records(masker)
    writer.write([Change.upsert(r, key=(r["customer_id"],), position=i)
                  for i, r in enumerate(records)])  # fmt: skip
    writer.flush()
    messages = read_topic(kafka_broker, kafka_topic, len(records))
    decode = ValueDecoder(contract)
    assert [decode(m.value(), m.headers()) for m in messages] == [
        full(contract, r) for r in records
    ]


def test_decoder_refuses_a_value_of_another_schema(contract: Contract, masker: Masker) -> None:
    codec = AvroCodec(contract)
    value = codec.encode(masker.mask_record(raw(1)))
    headers = [("meshkit-format", b"avro"), ("meshkit-schema", codec.fingerprint.encode()),
               ("meshkit-version", b"1.0.0")]  # fmt: skip
    newer = load("customer_v1_1")
    assert AvroCodec(newer).fingerprint != codec.fingerprint
    with pytest.raises(PortError, match=r"contract version 1\.0\.0.*decode it with that"):
        decode_value(newer, value, headers)
    assert decode_value(contract, None, headers) is None  # a tombstone


def test_value_format_is_checked(kafka_broker: str) -> None:
    with pytest.raises(ValueError, match="value_format must be 'json' or 'avro'"):
        KafkaTopicWriter(kafka_broker, value_format="protobuf")  # type: ignore[arg-type]


def test_json_bytes_and_struct_arrays_round_trip_in_both_formats(masker: Masker) -> None:
    """Without the broker: the conversions of fields the customer contract lacks."""
    data = yaml.safe_load((FIXTURES / "customer.yaml").read_text())
    data["fields"] += [
        {"name": "extra", "type": "json"},
        {"name": "blob", "type": "bytes"},
        {"name": "lines", "type": "array<struct>", "fields": [
            {"name": "sku", "type": "string", "required": True},
            {"name": "price", "type": "decimal(10,2)"},
        ]},
    ]  # fmt: skip
    contract = Contract.model_validate(data)
    record = {
        **masker.mask_record(raw(4)),
        "extra": {"a": [1, 2.5, None], "b": "x"},
        "blob": b"\x00\xffbytes",
        "lines": [{"sku": "s-1", "price": Decimal("1.5")}, {"sku": "s-2", "price": None}],
    }
    want = {**full(contract, record), "lines": [
        {"sku": "s-1", "price": Decimal("1.50")}, {"sku": "s-2", "price": None}]}  # fmt: skip
    decode = ValueDecoder(contract)
    avro = AvroCodec(contract).encode(record)
    assert decode(avro, {"meshkit-format": b"avro"}) == want
    as_json = orjson.dumps(record, default=json_default)
    assert decode(as_json, {"meshkit-format": b"json"}) == want
    assert decode(as_json) == want  # no header: JSON
    text = {**record, "extra": '{"already": "text"}'}  # a json field given as its text
    assert decode(AvroCodec(contract).encode(text), value_format="avro")["extra"] == {  # type: ignore[index]
        "already": "text"
    }


@pytest.mark.parametrize(
    ("key_fields", "expected_key"),
    [
        (["region"], lambda r: r["region"].encode()),  # one text field: its text
        (["n"], lambda r: str(r["n"]).encode()),  # one integer field: its JSON
        (["region", "n"], lambda r: orjson.dumps([r["region"], r["n"]])),  # a JSON array
    ],
)
def test_every_message_carries_its_key_and_position(
    kafka_broker: str, key_fields: list[str], expected_key: Any
) -> None:
    """Keys of text, integer and composite primary keys, and each message's own position
    header, for every message of a batch (also when one batch mixes key types' paths)."""
    contract = Contract.model_validate(
        {
            "domain": "shop", "name": "keys", "version": "1.0.0",
            "owner": {"team": "shop", "contact": "shop@example.com"},
            "fields": [
                {"name": "region", "type": "string", "required": True},
                {"name": "n", "type": "integer", "required": True},
            ],
            "primary_key": key_fields,
            "ports": {"outputs": [{"kind": "kafka_topic", "partitions": 1}]},
        }
    )  # fmt: skip
    records = [{"region": f"r-{i % 7}-ü", "n": i * 1_000_003} for i in range(300)]
    changes = [
        Change("upsert", tuple(r[k] for k in key_fields), r, 10 * i + 3)
        for i, r in enumerate(records)
    ]
    topic = f"test-ports-keys-{'-'.join(key_fields)}"
    writer = KafkaTopicWriter(kafka_broker, topic=topic)
    writer.ensure(contract)
    writer.write(changes)
    writer.close()
    messages = read_topic(kafka_broker, topic, len(changes))
    assert [m.key() for m in messages] == [expected_key(r) for r in records]
    positions = [dict(m.headers())["meshkit-position"] for m in messages]
    assert positions == [str(c.position).encode() for c in changes]
