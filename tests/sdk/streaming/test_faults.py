"""Effectively-once under faults: kill -9 of the dataflow at random moments, a frozen
broker (SIGSTOP/SIGCONT), and poison messages; every port ends exactly as expected."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from meshkit.contracts import Contract
from meshkit.local.kafka import KafkaBroker
from meshkit.local.settings import LocalSettings
from meshkit.privacy import LocalKeyStore, Masker
from meshkit.streaming import read_stats
from meshkit.testing import SearchEndpoint
from tests.sdk.streaming.flowkit import (
    OVERSIZED_LIMIT,
    Stream,
    assert_ports_equal,
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


class FlowProcess:
    """The declarative flow as ``python -m bytewax.run`` with recovery, restartable."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.recovery = tmp / "recovery"
        self.recovery.mkdir()
        subprocess.run(
            [sys.executable, "-m", "bytewax.recovery", str(self.recovery), "1"], check=True
        )
        self.stats = tmp / "stats"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "flow.log"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "bytewax.run", "meshkit.streaming.declarative:flow",
               "-r", str(self.recovery), "-s", "1", "-b", "0"]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log)

    def received(self) -> int:
        if not self.stats.exists():
            return 0
        try:
            return int(read_stats(self.stats)["counts"]["received"])
        except (ValueError, KeyError):
            return 0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def alive(self) -> bool:
        assert self.proc is not None
        return self.proc.poll() is None

    def close(self) -> None:
        """Kill the flow if it still runs (a failed assertion must not leave it behind)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def wait_until(self, total: int, timeout: float) -> None:
        """Until a snapshot (ports flushed) counted every message; then stop the flow."""
        deadline = time.monotonic() + timeout
        while self.received() < total:
            assert self.alive(), self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"stuck at {self.received()} of {total}"
            time.sleep(0.2)
        self.kill()


def flow_env(
    contract_dir: Path, tmp: Path, kafka: str, dsn: str, search: str, keys: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "MESHKIT_STREAMING_CONTRACT": str(contract_dir / "customer.yaml"),
        "MESHKIT_STREAMING_BROKERS": kafka,
        "MESHKIT_STREAMING_WAREHOUSE": str(tmp / "warehouse.duckdb"),
        "MESHKIT_STREAMING_VIEW_DSN": dsn,
        "MESHKIT_STREAMING_SEARCH_URL": search,
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(keys),
        "MESHKIT_STREAMING_STATS_DIR": str(tmp / "stats"),
        "MESHKIT_STREAMING_BATCH_SIZE": "1000",
        "MESHKIT_STREAMING_MAX_VALUE_BYTES": str(OVERSIZED_LIMIT),
    }


def check_ports(
    contract: Contract, stream: Stream, topic: str, tmp: Path, kafka: str, dsn: str,
    search: SearchEndpoint, keys: Path,
) -> dict[str, Any]:  # fmt: skip
    with LocalKeyStore.open(keys) as store:
        expected = expected_state(contract, Masker.from_contract(contract, store=store), stream,
                                  topic)  # fmt: skip
    assert_ports_equal(
        expected,
        warehouse=warehouse_state(tmp / "warehouse.duckdb", contract),
        view=view_state(dsn, contract),
        search=search_state(search.client(), contract),
        topic=topic_state(kafka, contract),
    )
    letters = dead_letters(kafka, contract)
    assert sorted(v["source"] for v in letters.values()) == sorted(
        f"{topic}[0]@{i}" for i in stream.poison
    )
    counts: dict[str, Any] = read_stats(tmp / "stats")["counts"]
    assert counts["received"] == len(stream.messages)
    assert counts["dead_letters"] == len(stream.poison)
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    return counts


def test_kill_9_at_random_moments_is_effectively_once(
    kafka_broker: str,
    postgres_database: str,
    search_server: SearchEndpoint,
    keystore_dir: Path,
    tmp_path: Path,
) -> None:
    contract = unique_contract(directory=tmp_path)
    # Sized so that 10 kills land before the end (since the columnar path a round moves
    # up to ~13,000 events: 40,000 ran out after 4 rounds; with modules loaded from
    # bytecode a flow starts sooner and 100,000 ran out after 9 rounds; the 10 rounds of
    # 200,000 reached 96,000, the whole test ~68 s).
    stream = customer_stream(200_000, customers=5000, seed=11, poison=100)
    topic = setup_input(kafka_broker, contract, stream)
    flow = FlowProcess(tmp_path, flow_env(tmp_path, tmp_path, kafka_broker, postgres_database,
                                          search_server.url, keystore_dir))  # fmt: skip
    try:
        rng = random.Random(5)
        total = len(stream.messages)
        kills = 0
        progress = []
        for _ in range(10):
            flow.start()
            before = flow.received()
            if rng.random() < 0.3:  # during start-up or the first epoch
                time.sleep(rng.uniform(0.5, 3.0))
            else:  # once a snapshot went through: while it reads, writes or snapshots
                deadline = time.monotonic() + 30
                while flow.received() <= before and flow.alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 0.6))
            if flow.received() >= total:
                break
            flow.kill()
            kills += 1
            progress.append(flow.received())
        assert kills == 10, progress  # every round killed the flow mid-run
        flow.start()
        flow.wait_until(total, timeout=180)
        check_ports(contract, stream, topic, tmp_path, kafka_broker, postgres_database,
                    search_server, keystore_dir)  # fmt: skip
    finally:
        flow.close()


def test_broker_frozen_then_resumed_loses_nothing(
    kafka_broker: str,
    postgres_database: str,
    search_server: SearchEndpoint,
    keystore_dir: Path,
    meshkit_local_settings: LocalSettings,
    tmp_path: Path,
) -> None:
    record = KafkaBroker(meshkit_local_settings).record()
    assert record is not None
    assert record.pid is not None
    contract = unique_contract(directory=tmp_path)
    stream = customer_stream(8000, customers=1000, seed=12, poison=20)
    topic = setup_input(kafka_broker, contract, stream)
    flow = FlowProcess(tmp_path, flow_env(tmp_path, tmp_path, kafka_broker, postgres_database,
                                          search_server.url, keystore_dir))  # fmt: skip
    flow.start()
    try:
        deadline = time.monotonic() + 30
        while flow.received() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(record.pid, signal.SIGSTOP)
        try:
            time.sleep(5.0)
            assert flow.alive()
        finally:
            os.kill(record.pid, signal.SIGCONT)
        flow.wait_until(len(stream.messages), timeout=120)
    finally:
        flow.close()
    check_ports(contract, stream, topic, tmp_path, kafka_broker, postgres_database,
                search_server, keystore_dir)  # fmt: skip
