"""Benchmark of the CDC capture: PostgreSQL changes to Debezium events confirmed by Kafka.

    python -m bench.cdc [--quick]

Starts an embedded PostgreSQL and broker (the local stack's own services, in a temporary
directory), creates two slots at the same WAL position, then writes 200,000 row changes
(``--quick``: 10,000) in transactions of 1,000: half inserts, a quarter updates, a
quarter deletes. Both slots then read the same WAL:

- baseline: ``pg_logical_slot_get_binary_changes`` on the bare slot, every pgoutput
  message fetched into Python as bytes, nothing decoded or produced (row changes/s);
- value: ``Capture`` from the second slot, from "streaming" to the moment the LSN after
  the last change is acknowledged, i.e. every event decoded, mapped to the Debezium
  envelope, produced and confirmed by Kafka (row changes/s; deletes also produce a
  tombstone).

The throughput part runs 3 times (``--runs``), each in its own process on fresh services;
the BENCH line gives the run with the median ratio, the lowest and highest ratio and the
spread (half the range over the median; target <= 0.15, i.e. runs within ±15 %), and CPU
per change beside the rate: the capture thread's own CPU time (``cpu_us_per_change=``)
and the whole process's while the capture ran, librdkafka's threads included
(``process_cpu_us_per_change=``). A busy machine moves the rates and the ratio; the CPU
per change much less. ``ratio=`` is value / baseline (target >= 0.3); the absolute
target is 60,000 events/s.
Then commit-to-Kafka latency under a steady 5,000 changes/s for 10 s (``--quick``: 3 s)
with the capture running as ``meshkit cdc run`` in its own process: for each event, the
time a consumer receives it minus its commit timestamp (``source.ts_us``); ``p50_ms=`` and
``p99_ms=`` (target p99 < 200 ms). PASS needs all four targets.

``--quick`` is a smoke run: with 10,000 changes the capture's fixed start-up (slot start,
first fetch) weighs much more than in the bare read, so its ratio is not the measure; the
full run is. Latest figures: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg2
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench._common import BenchResult, parser, report
from meshkit.cdc import Capture, build_config
from meshkit.local.kafka import KafkaBroker
from meshkit.local.postgres import Postgres
from meshkit.local.settings import LocalSettings

RATIO_TARGET = 0.3
RATE_TARGET = 60_000.0
P99_TARGET_MS = 200.0
SPREAD_TARGET = 0.15
LOAD_RATE = 5_000


class _Result(BenchResult):
    """Passes only when the ratio, the absolute rate and the p99 latency reach their targets."""

    @property
    def passed(self) -> bool:
        return (
            super().passed
            and self.value >= RATE_TARGET
            and float(self.extra["p99_ms"]) < P99_TARGET_MS
            and float(self.extra["ratio_spread"]) <= SPREAD_TARGET
        )


def _sql(dsn: str, *statements: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cur.execute(statement)
                rows = cur.fetchall() if cur.description else []
            return rows


def _workload(dsn: str, changes: int) -> None:
    """``changes`` row changes: 1/2 inserts, 1/4 updates, 1/4 deletes, 1,000 per transaction."""
    inserts = changes // 2
    quarter = changes // 4
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        for start in range(1, inserts + 1, 1000):
            cur.execute(
                "INSERT INTO bench SELECT g, 'customer ' || g, g * 1.25, now(), g %% 2 = 0 "
                "FROM generate_series(%s, %s) g",
                (start, min(start + 999, inserts)),
            )
            conn.commit()
        for start in range(1, quarter + 1, 1000):
            end = min(start + 999, quarter)
            cur.execute(
                "UPDATE bench SET amount = amount + 1 WHERE id BETWEEN %s AND %s", (start, end)
            )
            conn.commit()
            cur.execute(
                "DELETE FROM bench WHERE id BETWEEN %s AND %s",
                (inserts - end + 1, inserts - start + 1),
            )
            conn.commit()


def _throughput(
    dsn: str, bootstrap: str, state: Path, changes: int
) -> tuple[float, float, float, float]:
    """(capture changes/s, bare changes/s, capture thread CPU µs per change, process CPU µs
    per change while the capture ran: the capture thread plus librdkafka's threads)."""
    _sql(
        dsn,
        "DROP TABLE IF EXISTS bench",
        "CREATE TABLE bench (id int PRIMARY KEY, name text, amount numeric(12,2), "
        "ts timestamptz, flag boolean)",
    )
    config = build_config(
        dsn=dsn, tables=["public.bench"], topic_prefix="bench", bootstrap_servers=bootstrap,
        slot="bench_capture", publication="bench_pub", snapshot_mode="no_data", state_dir=state,
    )  # fmt: skip
    stop = threading.Event()
    stop.set()
    Capture(config).run(stop)  # creates the slot, publication and topic, then stops
    _sql(dsn, "SELECT pg_create_logical_replication_slot('bench_bare', 'pgoutput')")
    _workload(dsn, changes)
    target = int(_sql(dsn, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0][0])

    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        cur.execute(
            "SELECT lsn, xid, data FROM pg_logical_slot_get_binary_changes('bench_bare', NULL, "
            "NULL, 'proto_version', '1', 'publication_names', 'bench_pub')"
        )
        messages = len(cur.fetchall())
        bare = time.perf_counter() - start
    print(f"bare slot read: {messages:,} pgoutput messages in {bare:.3f}s")

    capture = Capture(config)
    stop = threading.Event()
    thread_cpu: list[float] = []

    def run() -> None:
        used = time.thread_time()
        try:
            capture.run(stop)
        finally:
            thread_cpu.append(time.thread_time() - used)

    thread = threading.Thread(target=run)
    process_cpu = time.process_time()
    thread.start()
    while capture.progress.phase != "streaming" and thread.is_alive():
        time.sleep(0.001)
    start = time.perf_counter()
    while capture.progress.acked_lsn < target and thread.is_alive():
        time.sleep(0.002)
    took = time.perf_counter() - start
    stop.set()
    thread.join()
    process_us = (time.process_time() - process_cpu) / changes * 1e6
    thread_us = thread_cpu[0] / changes * 1e6
    print(
        f"capture: {changes:,} changes ({capture.progress.events:,} Kafka messages with "
        f"tombstones) confirmed in {took:.3f}s; CPU per change {thread_us:.1f} µs in the "
        f"capture thread, {process_us:.1f} µs in the process"
    )
    _sql(dsn, "SELECT pg_drop_replication_slot('bench_bare')")
    return changes / took, changes / bare, thread_us, process_us


def _latency(dsn: str, bootstrap: str, state: Path, seconds: float) -> tuple[float, float, int]:
    _sql(dsn, "DROP TABLE IF EXISTS steady", "CREATE TABLE steady (id int PRIMARY KEY, v text)")
    log = state / "latency-capture.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run", "-q",
             "--dsn", dsn, "--table", "public.steady", "--topic-prefix", "lat",
             "--bootstrap-servers", bootstrap, "--slot", "bench_latency", "--publication",
             "bench_latency", "--snapshot-mode", "no_data", "--state-dir", str(state)],
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-latency", "fetch.wait.max.ms": 5}
    )
    latencies: list[float] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            for msg in consumer.consume(1000, 0.05):
                if msg.error() or not msg.value():
                    continue
                received = time.time_ns() // 1000
                latencies.append((received - orjson.loads(msg.value())["source"]["ts_us"]) / 1000)

    try:
        deadline = time.monotonic() + 60
        while not _sql(dsn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'bench_latency' "
                       "AND active"):  # fmt: skip
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the capture did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        consumer.assign([TopicPartition("lat.public.steady", 0, OFFSET_BEGINNING)])
        reader = threading.Thread(target=consume)
        reader.start()
        time.sleep(1.0)  # the consumer's first fetch round (connection, offsets) happens now
        batch = 50
        interval = batch / LOAD_RATE
        sent = 0
        with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                cur.execute(
                    "INSERT INTO steady SELECT g, 'v' FROM generate_series(%s, %s) g",
                    (sent + 1, sent + batch),
                )
                conn.commit()
                sent += batch
                pause = start + sent / LOAD_RATE - time.monotonic()
                if pause > 0:
                    time.sleep(min(pause, interval))
        deadline = time.monotonic() + 30
        while len(latencies) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        done.set()
        reader.join()
    finally:
        consumer.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    if len(latencies) < sent:
        raise SystemExit(f"only {len(latencies)} of {sent} events arrived")
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"latency at {LOAD_RATE:,} changes/s over {seconds:.0f}s: {sent:,} events, "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip
    return p50, p99, sent


def _services(tmp: str) -> tuple[Postgres, KafkaBroker, str, str]:
    settings = LocalSettings(state_dir=Path(tmp), kafka_port=0, postgres_port=0)
    postgres, broker = Postgres(settings), KafkaBroker(settings)
    postgres.start()
    bootstrap = broker.start().address
    dsn = postgres.dsn()
    assert dsn is not None
    return postgres, broker, dsn, bootstrap


def _one_run(changes: int) -> None:
    """One throughput run on fresh services; prints its figures as one JSON line."""
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-cdc-") as tmp:
        postgres, broker, dsn, bootstrap = _services(tmp)
        try:
            state = Path(tmp) / "cdc"
            state.mkdir()
            figures = _throughput(dsn, bootstrap, state, changes)
        finally:
            broker.stop()
            postgres.stop()
    print("RUN " + orjson.dumps(dict(zip(_FIGURES, figures, strict=True))).decode())


_FIGURES = ("value", "baseline", "thread_us", "process_us")


def _runs(changes: int, runs: int) -> list[dict[str, float]]:
    """``runs`` throughput runs, each in its own process (own services, own interpreter)."""
    out: list[dict[str, float]] = []
    for i in range(runs):
        done = subprocess.run(
            [sys.executable, "-m", "bench.cdc", "--one-run", str(changes)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith("RUN ")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"run {i + 1} failed: {done.stderr[-2000:]}")
        out.append(orjson.loads(lines[-1][4:]))
        figures = out[-1]
        print(
            f"run {i + 1}: capture {figures['value']:,.0f}/s, bare {figures['baseline']:,.0f}/s, "
            f"ratio {figures['value'] / figures['baseline']:.3f}, "
            f"{figures['thread_us']:.1f} µs CPU per change (thread), "
            f"{figures['process_us']:.1f} µs (process)"
        )
    return out


def _spread(values: list[float]) -> float:
    """Half the range over the median: the runs lie within median ± this fraction."""
    return (max(values) - min(values)) / 2 / statistics.median(values)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=None, help="throughput runs (default 3; quick 1)")
    p.add_argument("--one-run", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one_run is not None:
        _one_run(args.one_run)
        return
    changes = 10_000 if args.quick else 200_000
    seconds = 3.0 if args.quick else 10.0
    runs = _runs(changes, args.runs or (1 if args.quick else 3))
    ratios = [r["value"] / r["baseline"] for r in runs]
    median = sorted(runs, key=lambda r: r["value"] / r["baseline"])[len(runs) // 2]
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-cdc-") as tmp:
        postgres, broker, dsn, bootstrap = _services(tmp)
        try:
            state = Path(tmp) / "cdc"
            state.mkdir()
            p50, p99, _ = _latency(dsn, bootstrap, state, seconds)
        finally:
            broker.stop()
            postgres.stop()
    report(
        _Result(
            name="cdc",
            value=median["value"],
            baseline=median["baseline"],
            target=RATIO_TARGET,
            extra={
                "runs": len(runs),
                "ratio_min": round(min(ratios), 3),
                "ratio_max": round(max(ratios), 3),
                "ratio_spread": round(_spread(ratios), 3),
                "rate_spread": round(_spread([r["value"] for r in runs]), 3),
                "cpu_us_per_change": round(median["thread_us"], 2),
                "process_cpu_us_per_change": round(median["process_us"], 2),
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "rate_target": int(RATE_TARGET),
                "p99_target_ms": int(P99_TARGET_MS),
                "changes": changes,
            },
        )
    )


if __name__ == "__main__":
    main()
