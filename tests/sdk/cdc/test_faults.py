"""Nothing is lost when the capture is killed (-9) at random moments, or when the broker
freezes (SIGSTOP) for 10 s: the replayed topic always ends equal to the source table."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn

from meshkit.cdc import CaptureConfig
from meshkit.cdc.envelope import topic_name
from meshkit.cdc.state import CaptureState
from meshkit.local.kafka import KafkaBroker
from meshkit.local.settings import LocalSettings
from tests.sdk.cdc.helpers import Env, Running, wait_replayed, wait_slot_released

pytestmark = [pytest.mark.services, pytest.mark.slow]


class Writer(threading.Thread):
    """Small transactions of inserts, updates and deletes, one after the other.

    Each insert is remembered with the WAL position read at the start of its transaction:
    a transaction that starts after a position commits after it."""

    def __init__(self, dsn: str, table: str, first_id: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.table, self.next_id = dsn, table, first_id
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.inserted: list[tuple[int, int]] = []  # (id, WAL position before its transaction)
        self.changes = 0

    def run(self) -> None:
        with contextlib.closing(psycopg2.connect(self.dsn)) as conn, conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute(_WAL_LSN)
                (began,) = cur.fetchone()  # type: ignore[misc]
                new: list[int] = []
                for _ in range(self.rng.randint(1, 5)):
                    action = self.rng.random()
                    if action < 0.5:
                        cur.execute(f"INSERT INTO {self.table} VALUES (%s, 0)", (self.next_id,))
                        new.append(self.next_id)
                        self.next_id += 1
                    elif action < 0.85:
                        cur.execute(
                            f"UPDATE {self.table} SET n = n + 1 WHERE id = %s",
                            (self.rng.randrange(1, self.next_id),),
                        )
                    else:
                        cur.execute(
                            f"DELETE FROM {self.table} WHERE id = %s",
                            (self.rng.randrange(1, self.next_id),),
                        )
                    self.changes += 1
                conn.commit()
                self.inserted += [(i, int(began)) for i in new]

    def inserted_after(self, lsn: int) -> set[int]:
        """Ids inserted by transactions that started after WAL position ``lsn``."""
        return {i for i, began in list(self.inserted) if began > lsn}


_WAL_LSN = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _table(env: Env, name: str, rows: int) -> None:
    env.sql(
        f"DROP TABLE IF EXISTS {name}",
        f"CREATE TABLE {name} (id int PRIMARY KEY, n int)",
        f"INSERT INTO {name} SELECT g, 0 FROM generate_series(1, {rows}) g",
    )


class Chaos:
    """Capture processes started and killed -9 at chosen points of their life."""

    def __init__(self, env: Env, config: CaptureConfig, log: Path) -> None:
        self.env, self.config, self.log = env, config, log
        self.rounds = 0

    def spawn(self) -> tuple[subprocess.Popen[bytes], str]:
        """A capture process; its database sessions are named by the round."""
        self.rounds += 1
        name = f"chaos_{self.rounds}"
        dsn = make_dsn(self.config.dsn, application_name=name)
        cfg = self.config
        args = ["--dsn", dsn, "--table", "public.chaos", "--topic-prefix", cfg.topic_prefix,
                "--bootstrap-servers", cfg.bootstrap_servers, "--slot", cfg.slot,
                "--publication", cfg.publication, "--state-dir", str(cfg.state_dir)]  # fmt: skip
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run",
                 "-q", *args],
                stdout=subprocess.DEVNULL, stderr=out,
            )  # fmt: skip
        return proc, name

    def state(self) -> CaptureState:
        return CaptureState.load(self.config.state_path(), self.config.slot)

    def sessions(self, name: str, like: str = "%") -> bool:
        """Whether the process named ``name`` has a session whose last query is ``like``."""
        return bool(
            self.env.sql(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND query LIKE %s",
                args=(name, like),
            )
        )

    def streamed(self, proc: subprocess.Popen[bytes], since: int) -> bool:
        """Whether ``proc`` streams and acknowledged a position past ``since``."""
        if proc.poll() is not None:
            raise AssertionError(f"the capture exited: {self.log.read_text()}")
        state = self.state()
        return state.pid == proc.pid and state.snapshot_completed and state.acked_lsn > since

    def reach(self, point: str, proc: subprocess.Popen[bytes], name: str, since: int) -> None:
        """Wait until ``proc`` is at ``point`` of its life."""
        if point == "start-up":  # connected to the database, not streaming yet
            _wait(lambda: self.sessions(name) or proc.poll() is not None, "a session")
        elif point == "snapshot":  # reading the snapshot (unless it completed first)
            _wait(
                lambda: self.sessions(name, "%meshkit_snapshot_%") or self.streamed(proc, since),
                "the snapshot",
            )
        else:
            _wait(lambda: self.streamed(proc, since), "streaming")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, self.log.read_text()


def test_kill_9_at_random_moments_loses_nothing(cdc_env: Env, tmp_path: Path) -> None:
    """Ten captures killed -9: while starting, in the snapshot, and while streaming (each
    point waited for, not guessed by time), under steady writes; then one that runs on."""
    rows = 20_000
    _table(cdc_env, "chaos", rows)
    config = cdc_env.config(["public.chaos"], snapshot_chunk_rows=200)
    chaos = Chaos(cdc_env, config, tmp_path / "capture.log")
    rng = random.Random(42)
    plan = ["start-up", "snapshot", "snapshot", *rng.choices(["start-up", "streaming"], k=7)]
    seen: list[str] = []
    writer = Writer(cdc_env.dsn, "chaos", rows + 1, seed=1)
    writer.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for point in plan:
            since = chaos.state().acked_lsn
            proc, name = chaos.spawn()
            procs.append(proc)
            chaos.reach(point, proc, name, since)
            seen.append("streaming" if chaos.streamed(proc, since) else point)
            chaos.kill(proc)
        since = chaos.state().acked_lsn
        final, _ = chaos.spawn()
        procs.append(final)
        try:
            _wait(lambda: chaos.streamed(final, since), "the last capture streaming")
            (streaming_from,) = cdc_env.sql(_WAL_LSN)[0]
            _wait(lambda: len(writer.inserted_after(streaming_from)) >= 200, "200 inserts")
        finally:
            writer.stop.set()
            writer.join()
        source, events = wait_replayed(
            cdc_env, topic_name(config.topic_prefix, "public", "chaos"), "SELECT * FROM chaos",
            timeout=120,
        )  # fmt: skip
        final.send_signal(signal.SIGTERM)
        assert final.wait(60) == 0, chaos.log.read_text()
        wait_slot_released(config.dsn, config.slot)
    finally:
        writer.stop.set()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    values = [e.value for e in events if e.value is not None]
    state = {}
    for value in values:
        if value["op"] in ("c", "u", "r"):
            state[value["after"]["id"]] = value["after"]
        elif value["op"] == "d":
            state.pop(value["before"]["id"], None)
    assert state == source  # zero lost changes
    # every insert that began after the completed snapshot's position has its 'c' event
    snapshot_lsn = max(v["source"]["lsn"] for v in values if v["op"] == "r")
    created = {v["after"]["id"] for v in values if v["op"] == "c"}
    after_snapshot = writer.inserted_after(snapshot_lsn)
    assert len(after_snapshot) >= 200
    assert after_snapshot <= created
    assert "snapshot" in seen or "streaming" in seen, seen
    assert seen.count("streaming") >= 1, seen


def test_broker_paused_10s_loses_nothing(
    cdc_env: Env, meshkit_local_settings: LocalSettings
) -> None:
    record = KafkaBroker(meshkit_local_settings).record()
    assert record is not None
    assert record.pid is not None
    _table(cdc_env, "paused", 100)
    config = cdc_env.config(["public.paused"])
    run = Running(config).start()
    writer = Writer(cdc_env.dsn, "paused", 101, seed=2)
    writer.start()
    slot_lsn = (
        "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = %s"
    )

    def confirmed() -> int:
        return int(cdc_env.sql(slot_lsn, args=(config.slot,))[0][0])

    try:
        started = confirmed()
        _wait(lambda: writer.changes > 50 and confirmed() > started, "acknowledged changes")
        os.kill(record.pid, signal.SIGSTOP)
        try:
            # what Kafka confirmed before the freeze may still be acknowledged; nothing
            # written after the freeze began can be, however long feedback takes to land
            (frozen_at,) = cdc_env.sql(_WAL_LSN)[0]
            writes_at_freeze = writer.changes
            highest = started
            deadline = time.monotonic() + 10.0  # the freeze lasts 10 s
            while time.monotonic() < deadline:
                highest = max(highest, confirmed())
                time.sleep(0.05)
        finally:
            os.kill(record.pid, signal.SIGCONT)
        assert writer.changes > writes_at_freeze  # the source kept changing meanwhile
        _wait(lambda: confirmed() > max(highest, frozen_at), "acknowledgements to resume")
    finally:
        writer.stop.set()
        writer.join()
    try:
        # nothing Kafka had not confirmed was acknowledged while it was frozen
        assert highest <= frozen_at
        source, events = wait_replayed(
            cdc_env, topic_name(config.topic_prefix, "public", "paused"), "SELECT * FROM paused"
        )
    finally:
        run.stop()
    values = [e.value for e in events if e.value is not None]
    state = {}
    for value in values:
        if value["op"] in ("c", "u", "r"):
            state[value["after"]["id"]] = value["after"]
        elif value["op"] == "d":
            state.pop(value["before"]["id"], None)
    assert state == source
    assert {i for i, _ in writer.inserted} <= {v["after"]["id"] for v in values if v["op"] == "c"}
