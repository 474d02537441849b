"""A running ``meshkit cdc run``'s metrics, probes and JSON logs against what it captured
(real PostgreSQL, real broker)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.sdk.cdc.helpers import Env, read_topic, wait_slot_released
from tests.sdk.observability.flowrun import CANARY
from tests.sdk.observability.scrape import free_port, probe, scrape, total, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def cdc_env(postgres_database: str, kafka_broker: str, tmp_path: Path) -> Env:
    return Env(dsn=postgres_database, bootstrap=kafka_broker, state_dir=tmp_path / "cdc-state")


def test_capture_metrics_count_what_it_captured(cdc_env: Env, tmp_path: Path) -> None:
    table = f"obs_{tmp_path.name[-8:].replace('-', '_')}".lower()
    canary = CANARY.decode()
    cdc_env.sql(
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} (id int PRIMARY KEY, email text, note text)",
        f"INSERT INTO {table} SELECT i, 'u' || i || '@{canary}.example', '{canary}' "
        "FROM generate_series(1, 40) i",
    )
    config = cdc_env.config([f"public.{table}"])
    port = free_port()
    log = tmp_path / "cdc.log"
    cmd = [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run", "-q",
           "--dsn", cdc_env.dsn, "--table", f"public.{table}",
           "--topic-prefix", config.topic_prefix, "--slot", config.slot,
           "--publication", config.publication, "--bootstrap-servers", cdc_env.bootstrap,
           "--state-dir", str(cdc_env.state_dir),
           "--metrics-port", str(port), "--log-format", "json"]  # fmt: skip
    topic = f"{config.topic_prefix}.public.{table}"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    try:

        def alive() -> None:
            assert proc.poll() is None, log.read_text()

        def ready() -> bool:
            alive()
            return probe(port, "/readyz")[0] == 200

        wait_for(ready, 60, lambda: f"never ready: {log.read_text()[-2000:]}")
        cdc_env.sql(
            f"INSERT INTO {table} SELECT i, 'v' || i || '@{canary}.example', '{canary}' "
            "FROM generate_series(41, 60) i",
            f"UPDATE {table} SET note = '{canary}!' WHERE id <= 10",
            f"DELETE FROM {table} WHERE id > 55",
        )
        # 40 snapshot rows + 20 inserts + 10 updates + 5 deletes (each with its tombstone)
        expected = 40 + 20 + 10 + 5 * 2

        def counted() -> bool:
            alive()
            samples = scrape(port)
            return total(samples, "meshkit_cdc_events_total", slot=config.slot) >= expected

        wait_for(counted, 60, lambda: f"events: {scrape(port)}")
        events = read_topic(cdc_env.bootstrap, topic, count=expected, timeout=60)

        def caught_up() -> bool:  # the slot figures are read every few seconds
            alive()
            s = scrape(port)
            lag = total(s, "meshkit_cdc_slot_confirmed_lag_bytes", slot=config.slot)
            acked = total(s, "meshkit_cdc_acked_lsn", slot=config.slot)
            return acked > 0 and ("meshkit_cdc_slot_retained_wal_bytes", (
                ("slot", config.slot),)) in s and lag < 1 << 20  # fmt: skip

        wait_for(caught_up, 60, lambda: f"slot figures: {scrape(port)}")
        samples = scrape(port)
        assert probe(port, "/healthz") == (200, {"status": "ok"})
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        wait_slot_released(cdc_env.dsn, config.slot)
    assert code == 0, log.read_text()
    assert len(events) == expected
    assert total(samples, "meshkit_cdc_events_total", slot=config.slot, topic=topic) == expected
    assert total(samples, "meshkit_cdc_slot_retained_wal_bytes", slot=config.slot) > 0

    text = log.read_bytes()
    assert CANARY not in text
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert any("metrics" in x["message"] and str(port) in x["message"] for x in lines)
