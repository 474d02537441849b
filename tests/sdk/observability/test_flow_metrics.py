"""A running flow's metrics, probes and JSON logs, read as Prometheus and a log collector
would, against what the flow did (real broker, real Bytewax runtime, recovery on)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from meshkit.privacy import LocalKeyStore, Masker
from meshkit.streaming import Pipeline, RawMessage, SourcePosition, read_stats
from tests.sdk.observability.flowrun import CANARY, FlowProcess, flow_env, init_recovery
from tests.sdk.observability.scrape import free_port, probe, scrape, total, wait_for
from tests.sdk.streaming.flowkit import (
    OVERSIZED_LIMIT,
    Stream,
    customer_stream,
    setup_input,
    unique_contract,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]


def canaried(stream: Stream) -> Stream:
    """Every record's e-mail and note carry the canary (poison records too)."""
    out = Stream(poison=list(stream.poison))
    for key, value in stream.messages:
        marked = value
        if marked is not None:
            marked = marked.replace(b"example.com", CANARY + b".example")
            marked = marked.replace(b"customer number", CANARY + b" note")
        out.messages.append((key, marked))
    return out


def test_flow_metrics_count_what_the_flow_did_and_logs_carry_no_values(
    tmp_path: Path, kafka_broker: str, session_master_key: str
) -> None:
    del session_master_key  # the key store's master key, in the environment
    contract = unique_contract(directory=tmp_path)
    stream = canaried(customer_stream(2000, customers=200, seed=11, poison=20))
    assert any(CANARY in (v or b"") for _, v in stream.messages)
    topic = setup_input(kafka_broker, contract, stream)
    keys = tmp_path / "keys"
    port = free_port()
    env = flow_env(
        tmp_path / "customer.yaml", tmp_path, kafka_broker, keys,
        MESHKIT_METRICS_PORT=str(port), MESHKIT_LOG_FORMAT="json",
    )  # fmt: skip
    init_recovery(tmp_path / "recovery", 1)
    flow = FlowProcess(env, tmp_path / "recovery", tmp_path / "flow.log")
    flow.start()
    n = len(stream.messages)
    try:
        # until a snapshot (every port flushed) counted every message
        def done() -> bool:
            assert flow.alive(), flow.tail()
            stats = tmp_path / "stats"
            return stats.exists() and read_stats(stats)["counts"]["received"] == n

        wait_for(done, 120, lambda: f"flow did not finish: {flow.tail()}")
        samples = scrape(port)
        assert probe(port, "/healthz") == (200, {"status": "ok"})
        assert probe(port, "/readyz")[0] == 200
    finally:
        flow.kill()

    with LocalKeyStore.open(keys) as store:
        raws = [RawMessage(k, v, SourcePosition(topic, 0, i))
                for i, (k, v) in enumerate(stream.messages)]  # fmt: skip
        batch = Pipeline(
            contract, Masker.from_contract(contract, store=store), max_value_bytes=OVERSIZED_LIMIT
        )(raws)
    product = contract.address
    assert total(samples, "meshkit_flow_received_total", product=product) == n
    lag = ("meshkit_flow_consumer_lag", (("partition", "0"), ("topic", topic)))
    assert samples[lag] == 0  # read to the end of the topic
    assert total(samples, "meshkit_flow_written_total", product=product) == len(batch.changes)
    assert total(samples, "meshkit_flow_skipped_total", product=product) == batch.skipped
    by_step = Counter(f.step for f in batch.failures)
    assert len(batch.failures) == len(stream.poison)
    for step, count in by_step.items():
        assert total(samples, "meshkit_flow_dead_letters_total", product=product, step=step) == (
            count
        ), step
    assert total(samples, "meshkit_flow_dead_letters_total", product=product) == len(stream.poison)
    for kind in ("kafka_topic", "warehouse_table"):
        written = total(samples, "meshkit_port_written_total", product=product, port=kind)
        assert written == len(batch.changes), kind
        writes = total(samples, "meshkit_port_write_seconds_count", product=product, port=kind)
        flushes = total(samples, "meshkit_port_flush_seconds_count", product=product, port=kind)
        assert writes >= 1, kind
        assert flushes >= 1, kind

    # the log: JSON lines only, no value of any record, and the dead letters located
    text = (tmp_path / "flow.log").read_bytes()
    assert CANARY not in text.lower()
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert lines
    refused = [x for x in lines if x["message"].endswith("dead-lettered")]
    assert refused
    for line in refused:
        assert line["product"] == product
        assert line["step"] in by_step
        assert line["source"].startswith(f"{topic}[0]@")
        assert f"{product}.deadletter" in line["hint"]
