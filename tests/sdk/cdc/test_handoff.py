"""The initial snapshot hands over to the stream with nothing lost or duplicated, even
while the table is being written to; and schema changes mid-stream are reflected."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter

import psycopg2
import pytest

from meshkit.cdc import SchemaChange
from meshkit.cdc.capture import Capture
from meshkit.cdc.envelope import topic_name
from tests.sdk.cdc.helpers import Env, Running, read_topic, replay, running, wait_replayed

pytestmark = pytest.mark.services


def _writer(dsn: str, table: str, stop: threading.Event, first_id: int) -> None:
    rng = random.Random(7)
    next_id = first_id
    with contextlib.closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                action = rng.random()
                if action < 0.4:
                    cur.execute(f"INSERT INTO {table} VALUES (%s, %s, 0)", (next_id, "new"))
                    next_id += 1
                elif action < 0.8:
                    cur.execute(
                        f"UPDATE {table} SET n = n + 1, name = 'upd' WHERE id = %s",
                        (rng.randrange(1, next_id),),
                    )
                else:
                    cur.execute(f"DELETE FROM {table} WHERE id = %s", (rng.randrange(1, next_id),))


@pytest.mark.slow
def test_snapshot_then_stream_under_concurrent_writes(cdc_env: Env) -> None:
    rows = 20_000
    cdc_env.sql(
        "DROP TABLE IF EXISTS handoff",
        "CREATE TABLE handoff (id int PRIMARY KEY, name text, n int)",
        f"INSERT INTO handoff SELECT g, 'row' || g, 0 FROM generate_series(1, {rows}) g",
        "ANALYZE handoff",
    )
    config = cdc_env.config(["public.handoff"], snapshot_chunk_rows=1000)
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(cdc_env.dsn, "handoff", stop, rows + 1))
    writer.start()
    try:
        run = Running(config).start()  # the snapshot is taken while the writer runs
        threading.Event().wait(2.0)  # and the stream follows it for a while
    finally:
        stop.set()
        writer.join()
    try:
        source, events = wait_replayed(
            cdc_env, topic_name(config.topic_prefix, "public", "handoff"), "SELECT * FROM handoff"
        )
    finally:
        run.stop()
    assert replay(events) == source  # the copy equals the source table
    ops = Counter(e.value["op"] for e in events if e.value is not None)
    assert ops["r"] > 0
    assert ops["c"] + ops["u"] + ops["d"] > 100  # the writer was busy during the handoff
    snap = [e for e in events if e.value is not None and e.value["op"] == "r"]
    assert len({e.key["id"] for e in snap}) == len(snap)  # no row read twice
    assert snap[0].value["source"]["snapshot"] == "first"
    assert snap[-1].value["source"]["snapshot"] == "last"
    stream = [e for e in events if e.value is not None and e.value["op"] != "r"]
    ids = [(e.value["source"]["lsn"], e.value["source"]["txId"], e.value["op"]) for e in stream]
    assert len(set(ids)) == len(ids)  # no change sent twice


def test_schema_change_mid_stream(cdc_env: Env) -> None:
    cdc_env.sql(
        "DROP TABLE IF EXISTS evolving",
        "CREATE TABLE evolving (id int PRIMARY KEY, a int, b text)",
    )
    config = cdc_env.config(["public.evolving"], snapshot_mode="no_data")
    seen: list[SchemaChange] = []
    run = Running(config)
    run.capture = Capture(config, on_schema_change=seen.append)
    run.start()
    try:
        cdc_env.sql(
            "INSERT INTO evolving VALUES (1, 10, 'x')",
            "ALTER TABLE evolving ADD COLUMN c numeric(6,2) DEFAULT 1.5",
            "INSERT INTO evolving VALUES (2, 20, 'y', 2.25)",
            "ALTER TABLE evolving DROP COLUMN b",
            "INSERT INTO evolving VALUES (3, 30, 3)",
            "ALTER TABLE evolving ALTER COLUMN a TYPE text",
            "INSERT INTO evolving VALUES (4, 'forty', 4)",
            "UPDATE evolving SET c = 9 WHERE id = 1",
        )
        events = read_topic(
            cdc_env.bootstrap, topic_name(config.topic_prefix, "public", "evolving"), count=5
        )
    finally:
        run.stop()
    afters = [e.value["after"] for e in events]
    assert afters == [
        {"id": 1, "a": 10, "b": "x"},
        {"id": 2, "a": 20, "b": "y", "c": "2.25"},
        {"id": 3, "a": 30, "c": "3.00"},
        {"id": 4, "a": "forty", "c": "4.00"},
        {"id": 1, "a": "10", "c": "9.00"},
    ]
    changes = [(c.added, c.dropped, c.retyped) for c in seen]
    assert changes == [(("c",), (), ()), ((), ("b",), ()), ((), (), ("a",))]


def test_schema_change_while_stopped_is_reported_on_restart(cdc_env: Env) -> None:
    cdc_env.sql("DROP TABLE IF EXISTS offline", "CREATE TABLE offline (id int PRIMARY KEY, a int)")
    config = cdc_env.config(["public.offline"], snapshot_mode="no_data")
    with running(config):
        cdc_env.sql("INSERT INTO offline VALUES (1, 1)")
        read_topic(cdc_env.bootstrap, topic_name(config.topic_prefix, "public", "offline"), count=1)
    cdc_env.sql("ALTER TABLE offline DROP COLUMN a", "INSERT INTO offline VALUES (2)")
    seen: list[SchemaChange] = []
    run = Running(config)
    run.capture = Capture(config, on_schema_change=seen.append)
    run.start()
    try:
        events = read_topic(
            cdc_env.bootstrap, topic_name(config.topic_prefix, "public", "offline"), count=2
        )
    finally:
        run.stop()
    assert events[1].value["after"] == {"id": 2}
    assert [c.dropped for c in seen] == [("a",)]


def test_a_lost_slot_means_a_new_snapshot(cdc_env: Env) -> None:
    cdc_env.sql(
        "DROP TABLE IF EXISTS relost",
        "CREATE TABLE relost (id int PRIMARY KEY)",
        "INSERT INTO relost VALUES (1), (2), (3)",
    )
    config = cdc_env.config(["public.relost"])
    topic = topic_name(config.topic_prefix, "public", "relost")
    with running(config):
        assert len(read_topic(cdc_env.bootstrap, topic, count=3)) == 3
    # the slot disappears (dropped by hand, or the server was rebuilt); changes meanwhile
    cdc_env.sql("SELECT pg_drop_replication_slot(%s)", args=(config.slot,))
    cdc_env.sql("INSERT INTO relost VALUES (4)")
    with running(config):
        events = read_topic(cdc_env.bootstrap, topic, count=7)
    assert [e.value["op"] for e in events] == ["r"] * 7
    assert sorted(e.key["id"] for e in events[3:]) == [1, 2, 3, 4]
