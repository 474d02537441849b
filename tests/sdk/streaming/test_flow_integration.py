"""A declarative flow end to end: embedded broker in, the real port writers out."""

from __future__ import annotations

from pathlib import Path

import pytest
from bytewax.testing import run_main

from meshkit.privacy import LocalKeyStore, Masker
from meshkit.streaming import StreamingSettings, build_flow, read_stats
from meshkit.testing import SearchEndpoint
from tests.sdk.streaming.flowkit import (
    OVERSIZED_LIMIT,
    assert_ports_equal,
    avro_topic_state,
    customer_stream,
    dead_letters,
    expected_state,
    search_state,
    setup_input,
    topic_state,
    unique_contract,
    view_state,
    warehouse_state,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_declarative_flow_writes_every_port_and_dead_letters_the_poison(
    kafka_broker: str,
    postgres_database: str,
    search_server: SearchEndpoint,
    keystore_dir: Path,
    tmp_path: Path,
) -> None:
    contract = unique_contract()
    stream = customer_stream(3000, customers=400, seed=1, poison=25)
    topic = setup_input(kafka_broker, contract, stream)
    settings = StreamingSettings(
        brokers=kafka_broker,
        warehouse=tmp_path / "warehouse.duckdb",
        view_dsn=postgres_database,
        search_url=search_server.url,
        keystore_dir=keystore_dir,
        stats_dir=tmp_path / "stats",
        tail=False,
        batch_size=500,
        max_value_bytes=OVERSIZED_LIMIT,
    )
    run_main(build_flow(contract, settings))

    with LocalKeyStore.open(keystore_dir) as store:
        expected = expected_state(contract, Masker.from_contract(contract, store=store), stream,
                                  topic)  # fmt: skip
    assert len(expected) > 200
    assert_ports_equal(
        expected,
        warehouse=warehouse_state(tmp_path / "warehouse.duckdb", contract),
        view=view_state(postgres_database, contract),
        search=search_state(search_server.client(), contract),
        topic=topic_state(kafka_broker, contract),
    )
    # nothing personal left the domain untransformed
    some = next(iter(expected.values()))
    assert some["email"].startswith("tok:customer.1:")

    letters = dead_letters(kafka_broker, contract)
    assert sorted(v["source"] for v in letters.values()) == sorted(
        f"{topic}[0]@{i}" for i in stream.poison
    )
    steps = {v["step"] for v in letters.values()}
    assert steps == {"parse", "map", "validate"}
    assert all("@example.com" not in str(v) for v in letters.values())

    stats = read_stats(tmp_path / "stats")
    counts = stats["counts"]
    assert counts["received"] == len(stream.messages)
    assert counts["dead_letters"] == len(stream.poison)
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    # each port's latency at write and when a flush confirmed it (here: at the end)
    for port in ("kafka_topic", "warehouse_table", "serving_view", "search_index"):
        (written,) = stats["latency_ms"][port].values()
        (committed,) = stats["committed_ms"][port].values()
        assert written["samples"] == committed["samples"] > 200
        assert committed["p50"] >= written["p50"]
        assert committed["p99"] >= written["p99"]


def test_declarative_flow_writes_avro_when_the_topic_port_says_so(
    kafka_broker: str, keystore_dir: Path, tmp_path: Path
) -> None:
    port = "{kind: kafka_topic, partitions: 1}"
    contract = unique_contract(replace={port: port[:-1] + ", format: avro}"})
    stream = customer_stream(800, customers=150, seed=3)
    topic = setup_input(kafka_broker, contract, stream)
    settings = StreamingSettings(
        brokers=kafka_broker,
        warehouse=tmp_path / "warehouse.duckdb",
        keystore_dir=keystore_dir,
        tail=False,
        batch_size=200,
        ports=("kafka_topic", "warehouse_table"),
    )
    run_main(build_flow(contract, settings))

    with LocalKeyStore.open(keystore_dir) as store:
        expected = expected_state(contract, Masker.from_contract(contract, store=store), stream,
                                  topic)  # fmt: skip
    assert len(expected) > 50
    assert_ports_equal(
        expected,
        warehouse=warehouse_state(tmp_path / "warehouse.duckdb", contract),
        topic=avro_topic_state(kafka_broker, contract),
    )
