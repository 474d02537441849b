"""The port sink under bad records: what a port refuses for good is dead-lettered with
its source position and a key of its own, the counts balance, and only outages stop it."""

from __future__ import annotations

import random
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import run_main
from confluent_kafka import Producer

from meshkit.contracts import Contract
from meshkit.local.search import local_search_client
from meshkit.ports import DeliveryError, KafkaTopicWriter, SearchIndexWriter
from meshkit.privacy import Masker
from meshkit.streaming import (
    DeadLetters,
    KafkaDeadLetterPort,
    Pipeline,
    PortSet,
    StreamingSettings,
    build_flow,
    dead_letter_topic,
    read_stats,
)
from meshkit.streaming.pipeline import PortBatch
from meshkit.streaming.records import RawMessage, SourcePosition
from meshkit.streaming.sinks import _PortPartition
from meshkit.testing import SearchEndpoint
from tests.sdk.streaming.flowkit import (
    consume_all,
    create_topic,
    topic_state,
    unique_contract,
)
from tests.sdk.streaming.helpers import envelope, key_bytes, row

pytestmark = [pytest.mark.services]

TOPIC = "crm.customers"
EPOCH = timedelta(milliseconds=200)


def _letters(text: int) -> str:
    """Random letters: neither compressible nor personal data to the scanner."""
    return "".join(random.Random(text).choices(string.ascii_letters + " ", k=text))


def _messages(n: int, changed: dict[int, dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """``n`` inserts of customers 0..n-1; ``changed[i]`` replaces columns of the i-th row."""
    return [
        (key_bytes(i), orjson.dumps(envelope("c", None, row(i, **changed.get(i, {})), 1000 + i)))
        for i in range(n)
    ]


def _batch(contract: Contract, masker: Masker, messages: list[tuple[bytes, bytes]]) -> PortBatch:
    raws = [
        RawMessage(k, v, SourcePosition(TOPIC, 0, i), 1_700_000_000_000)
        for i, (k, v) in enumerate(messages)
    ]
    batch = Pipeline(contract, masker, guard=False)(raws)
    assert not batch.failures
    return batch


def _dead_letters(bootstrap: str, contract: Contract) -> list[dict[str, Any]]:
    """Every message of the dead-letter topic, in order."""
    return [orjson.loads(m.value()) for m in consume_all(bootstrap, dead_letter_topic(contract))]


@pytest.mark.parametrize("recovery", [False, True], ids=["plain", "recovery"])
def test_a_flow_dead_letters_a_value_too_large_for_kafka_and_goes_on(
    kafka_broker: str, keystore_dir: Path, tmp_path: Path, recovery: bool
) -> None:
    """A ``note`` under the flow's 1 MiB value limit but over the producer's message size
    killed the flow, and with recovery every run after it replayed it and died again; now
    it is a dead letter of the Kafka port, and a resumed run has nothing left to do."""
    contract = unique_contract()
    topic = f"{contract.domain}.cdc.public.customers"
    create_topic(kafka_broker, topic)
    messages = _messages(12, {4: {"note": _letters(1_000_100)}})
    producer = Producer({"bootstrap.servers": kafka_broker, "message.max.bytes": 5_000_000})
    for key, value in messages:
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0
    settings = StreamingSettings(
        brokers=kafka_broker,
        keystore_dir=keystore_dir,
        stats_dir=tmp_path / "stats",
        tail=False,
        ports=("kafka_topic",),
    )
    config = None
    if recovery:
        (tmp_path / "recovery").mkdir()
        init_db_dir(tmp_path / "recovery", 1)
        config = RecoveryConfig(str(tmp_path / "recovery"))
    run_main(build_flow(contract, settings), epoch_interval=EPOCH, recovery_config=config)
    if recovery:  # resumed from the committed offsets: past the oversized record
        run_main(build_flow(contract, settings), epoch_interval=EPOCH, recovery_config=config)

    assert sorted(topic_state(kafka_broker, contract)) == sorted(
        str(i) for i in range(12) if i != 4
    )
    (letter,) = _dead_letters(kafka_broker, contract)
    assert letter["step"] == "port:kafka_topic"
    assert letter["source"] == f"{topic}[0]@4"
    assert "MSG_SIZE_TOO_LARGE" in letter["reason"]
    counts = read_stats(tmp_path / "stats")["counts"]
    assert counts == {"received": 12, "written": 11, "skipped": 0, "dead_letters": 1}


@pytest.mark.parametrize("callback", [True, False], ids=["flows", "no-callback"])
def test_port_dead_letters_carry_their_source_and_a_key_each_and_counts_balance(
    kafka_broker: str,
    search_server: SearchEndpoint,
    contract: Contract,
    masker: Masker,
    tmp_path: Path,
    callback: bool,
) -> None:
    """The search server refuses two documents (a timestamp it cannot parse; the writer
    does not check, as after a contract check elsewhere). Before: both letters had
    ``source`` None, so the same Kafka key, and ``written`` still counted them; a search
    writer built without a ``dead_letter`` callback (the flows give it one) stopped the
    flow with them instead."""
    contract = unique_contract()
    batch = _batch(contract, masker, _messages(5, {}))
    for i in (1, 3):
        record = batch.changes[i].record
        assert record is not None
        record["signed_up_at"] = "yesterday"
    keep = (lambda _letters: None) if callback else None
    client = local_search_client(search_server.url)
    search = SearchIndexWriter(client, check=False, dead_letter=keep)
    search.ensure(contract)
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"search_index": search}, letters, DeadLetters(contract))
    part = _PortPartition("p0", ports, None, tmp_path / "stats")
    try:
        part.write_batch([batch])
        counts = part.snapshot()
    finally:
        part.close()
    written = consume_all(kafka_broker, dead_letter_topic(contract))
    assert sorted(orjson.loads(m.value())["source"] for m in written) == [
        f"{TOPIC}[0]@1",
        f"{TOPIC}[0]@3",
    ]
    assert len({m.key() for m in written}) == 2
    assert counts == {"received": 5, "written": 3, "skipped": 0, "dead_letters": 2}


def test_a_record_two_ports_refuse_is_one_dead_letter(
    kafka_broker: str,
    search_server: SearchEndpoint,
    contract: Contract,
    masker: Masker,
    tmp_path: Path,
) -> None:
    """Record 1 has a timestamp neither the Kafka port's check nor the search server takes:
    one dead letter. Record 2's ``note`` is too large for Kafka only: one dead letter
    (known from the producer, not from ``write``), and the search index has it."""
    contract = unique_contract()
    batch = _batch(contract, masker, _messages(4, {2: {"note": _letters(1_000_100)}}))
    record = batch.changes[1].record
    assert record is not None
    record["signed_up_at"] = "yesterday"
    batch.checked = None  # changed by hand after the pipeline checked it: no longer checked
    kafka = KafkaTopicWriter(kafka_broker)
    kafka.ensure(contract)
    client = local_search_client(search_server.url)
    search = SearchIndexWriter(client, check=False, dead_letter=lambda _letters: None)
    search.ensure(contract)
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"kafka_topic": kafka, "search_index": search}, letters,
                    DeadLetters(contract))  # fmt: skip
    part = _PortPartition("p0", ports, None, tmp_path / "stats")
    try:
        part.write_batch([batch])
        counts = part.snapshot()
    finally:
        part.close()
    assert counts == {"received": 4, "written": 2, "skipped": 0, "dead_letters": 2}
    written = _dead_letters(kafka_broker, contract)
    assert sorted((d["source"], d["step"]) for d in written) == [
        (f"{TOPIC}[0]@1", "port:kafka_topic"),
        (f"{TOPIC}[0]@2", "port:kafka_topic"),
    ]
    assert sorted(h["_id"] for h in client.search(index=search.index)["hits"]["hits"]) == [
        "0",
        "2",
        "3",
    ]


def test_a_kafka_outage_stops_the_sink_and_is_no_dead_letter(
    kafka_broker: str, contract: Contract, masker: Masker, tmp_path: Path
) -> None:
    contract = unique_contract()
    batch = _batch(contract, masker, _messages(3, {}))
    kafka = KafkaTopicWriter(kafka_broker, config={"message.timeout.ms": 500})
    kafka.ensure(contract)
    kafka._producer = Producer(
        {"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 500, "log_level": 0}
    )
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"kafka_topic": kafka}, letters, DeadLetters(contract))
    part = _PortPartition("p0", ports, None, tmp_path / "stats")
    part.write_batch([batch])
    with pytest.raises(DeliveryError, match="3 changes were not delivered"):
        part.snapshot()
    assert part.state.counts["dead_letters"] == 0
    assert consume_all(kafka_broker, dead_letter_topic(contract), timeout=2) == []
