"""Integration helpers: a CDC event stream with poison, and readers of every port's state."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract
from meshkit.ports import ValueDecoder, ViewReader
from meshkit.ports.search import document_id
from meshkit.privacy import Masker
from meshkit.streaming import Pipeline, RawMessage, SourcePosition, dead_letter_topic
from meshkit.streaming.sources import cdc_topics
from tests.sdk.streaming.helpers import FIXTURES, envelope, row

OVERSIZED_LIMIT = 64 * 1024


def unique_contract(
    name: str = "customer", directory: Path | None = None, replace: dict[str, str] | None = None
) -> Contract:
    """The fixture contract under a fresh domain, so topics, tables and indexes are new
    (written to ``directory/<name>.yaml`` when given); ``replace`` maps snippets of the
    fixture's text to what they become (e.g. a port's options)."""
    text = (FIXTURES / f"{name}.yaml").read_text()
    domain = f"t{uuid.uuid4().hex[:10]}"
    text = text.replace("domain: shop", f"domain: {domain}")
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} is not in the fixture {name}.yaml"
        text = text.replace(old, new)
    contract, problems = parse_contract(text)
    assert contract is not None, problems
    if directory is not None:
        (directory / f"{name}.yaml").write_text(text)
    return contract


@dataclass
class Stream:
    """Messages of a CDC topic (key, value) and which offsets are poison."""

    messages: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    poison: list[int] = field(default_factory=list)


def customer_stream(n: int, *, customers: int, seed: int, poison: int = 0) -> Stream:
    """``n`` change events over ``customers`` ids (inserts, updates, deletes + tombstones),
    with ``poison`` bad messages of every kind spread through it."""
    rng = random.Random(seed)
    alive: dict[int, dict[str, Any]] = {}
    out = Stream()
    lsn = 1000
    poison_at = set(rng.sample(range(n), poison)) if poison else set()
    kinds = ["json", "types", "missing", "oversized", "notenvelope"]
    for i in range(n):
        lsn += 10
        if i in poison_at:
            kind = kinds[len(out.poison) % len(kinds)]
            cid = rng.randrange(customers)
            key = orjson.dumps({"id": cid})
            value: bytes
            if kind == "json":
                value = b'{"op": "c", "after": {"id": ' + str(cid).encode() + b", broken"
            elif kind == "types":
                value = orjson.dumps(envelope("c", None, row(cid, balance_cents_eur=[1, 2]), lsn))
            elif kind == "missing":
                bad = row(cid)
                del bad["email_address"]
                value = orjson.dumps(envelope("c", None, bad, lsn))
            elif kind == "oversized":
                value = orjson.dumps(envelope("c", None, row(cid, note="x" * 100_000), lsn))
            else:
                value = orjson.dumps({"hello": "world"})
            out.poison.append(len(out.messages))
            out.messages.append((key, value))
            continue
        cid = rng.randrange(customers)
        key = orjson.dumps({"id": cid})
        if cid not in alive:
            after = row(cid, tier=rng.choice(["free", "plus", "pro"]))
            alive[cid] = after
            out.messages.append((key, orjson.dumps(envelope("c", None, after, lsn))))
        elif rng.random() < 0.15:
            before = alive.pop(cid)
            out.messages.append((key, orjson.dumps(envelope("d", before, None, lsn))))
            out.messages.append((key, None))  # the tombstone
        else:
            after = row(cid, tier=rng.choice(["free", "plus", "pro"]), note=f"v{i}")
            alive[cid] = after
            out.messages.append((key, orjson.dumps(envelope("u", None, after, lsn))))
    return out


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new])[topic].result(10)


def produce(bootstrap: str, topic: str, stream: Stream) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "message.max.bytes": 2_000_000})  # fmt: skip
    for key, value in stream.messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(30) == 0


def setup_input(bootstrap: str, contract: Contract, stream: Stream) -> str:
    (topic,) = cdc_topics(contract)
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, stream)
    return topic


def expected_state(
    contract: Contract, masker: Masker, stream: Stream, topic: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The product's final state: the pipeline over every message, newest change per key."""
    raws = [
        RawMessage(k, v, SourcePosition(topic, 0, i)) for i, (k, v) in enumerate(stream.messages)
    ]
    batch = Pipeline(contract, masker, max_value_bytes=OVERSIZED_LIMIT)(raws)
    assert len(batch.failures) == len(stream.poison)
    state: dict[tuple[Any, ...], dict[str, Any] | None] = {}
    for c in sorted(batch.changes, key=lambda c: c.position):
        state[c.key] = c.record
    return {k: v for k, v in state.items() if v is not None}


def consume_all(bootstrap: str, topic: str, timeout: float = 10.0) -> list[Any]:
    """Every message of a topic (all partitions), from the beginning to the end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: list[Any] = []
    import time

    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    while time.monotonic() < deadline:  # the broker's end offsets are unreliable: wait idle
        msgs = consumer.consume(10_000, 0.2)
        real = [m for m in msgs if m.error() is None]
        out += real
        if real:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > 1.0:
            break
    consumer.close()
    return out


def topic_state(bootstrap: str, contract: Contract) -> dict[str, dict[str, Any]]:
    """The product topic reduced by key (newest meshkit-position wins; tombstones delete)."""
    newest: dict[bytes, tuple[int, bytes | None]] = {}
    for m in consume_all(bootstrap, contract.address):
        pos = int(dict(m.headers())["meshkit-position"])
        if m.key() not in newest or pos >= newest[m.key()][0]:
            newest[m.key()] = (pos, m.value())
    return {k.decode(): orjson.loads(v) for k, (_, v) in newest.items() if v is not None}


def avro_topic_state(bootstrap: str, contract: Contract) -> dict[str, dict[str, Any]]:
    """``topic_state`` of a topic with Avro values, decoded with the contract and put in
    their JSON form (so it compares like the JSON topic); fails on a JSON message."""
    decoder = ValueDecoder(contract)
    newest: dict[bytes, tuple[int, Any]] = {}
    for m in consume_all(bootstrap, contract.address):
        headers = dict(m.headers())
        if m.value() is not None:
            assert headers["meshkit-format"] == b"avro"
        pos = int(headers["meshkit-position"])
        if m.key() not in newest or pos >= newest[m.key()][0]:
            newest[m.key()] = (pos, decoder(m.value(), m.headers()))
    return {
        k.decode(): orjson.loads(orjson.dumps(v, default=str))
        for k, (_, v) in newest.items()
        if v is not None
    }


def dead_letters(bootstrap: str, contract: Contract) -> dict[str, dict[str, Any]]:
    """The dead-letter topic by letter key (a replay writes the same key again)."""
    return {
        m.key().decode(): orjson.loads(m.value())
        for m in consume_all(bootstrap, dead_letter_topic(contract))
    }


def warehouse_state(path: Path, contract: Contract) -> dict[str, dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rel = con.execute(f'SELECT * FROM "{contract.domain}"."{contract.name}_v1"')
        names = [d[0] for d in rel.description]
        rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()
    for r in rows:
        r.pop("_meshkit_pos")
    return {r["customer_id"]: r for r in rows}


def view_state(dsn: str, contract: Contract) -> dict[str, dict[str, Any]]:
    reader = ViewReader(dsn, contract)
    try:
        return {r["customer_id"]: r for r in reader.all()}
    finally:
        reader.close()


def search_state(client: Any, contract: Contract) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=contract.id)
    from elasticsearch.helpers import scan

    return {h["_id"]: h["_source"] for h in scan(client, index=contract.id, size=5000)}


def assert_ports_equal(
    expected: dict[tuple[Any, ...], dict[str, Any]],
    *,
    warehouse: dict[str, dict[str, Any]],
    view: dict[str, dict[str, Any]] | None = None,
    search: dict[str, dict[str, Any]] | None = None,
    topic: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Every port holds exactly the expected keys and values."""
    want = {document_id(k): v for k, v in expected.items()}
    assert warehouse == want
    if view is not None:
        assert view == want
    for name, port in (("search", search), ("topic", topic)):
        if port is None:
            continue
        assert set(port) == set(want), name
        for k, doc in port.items():  # JSON values: compare in their JSON form
            expect = orjson.loads(orjson.dumps(want[k], default=str))
            if name == "search":  # the index leaves out masked personal fields
                expect = {f: v for f, v in expect.items() if f not in {"phone", "birth_date"}}
            assert doc == expect, (name, k, doc, expect)
