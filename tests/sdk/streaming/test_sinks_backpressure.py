"""The port sink while a port is slow: the Kafka topic is not held back, memory stays
bounded, and a snapshot still waits for every port.

The slow port is a real serving view whose table another session holds locked: its
writer waits on PostgreSQL until the lock is released.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
import psycopg2
import pytest
from psycopg2 import sql

from meshkit.contracts import Contract
from meshkit.ports import KafkaTopicWriter, ServingViewWriter
from meshkit.privacy import Masker
from meshkit.streaming import (
    DeadLetters,
    KafkaDeadLetterPort,
    Pipeline,
    PortSet,
    dead_letter_topic,
)
from meshkit.streaming.pipeline import PortBatch
from meshkit.streaming.records import RawMessage, SourcePosition
from meshkit.streaming.sinks import _PortPartition
from tests.sdk.streaming.flowkit import consume_all, unique_contract
from tests.sdk.streaming.helpers import envelope, key_bytes, row

pytestmark = [pytest.mark.services]

TOPIC = "crm.customers"
PER_BATCH = 6
TIMEOUT = 30.0  # seconds a condition may take before the test fails


def _batches(contract: Contract, masker: Masker, count: int) -> list[PortBatch]:
    """``count`` batches of ``PER_BATCH`` new customers each, as a pipeline passes them."""
    out = []
    for b in range(count):
        ids = range(b * PER_BATCH, (b + 1) * PER_BATCH)
        raws = [
            RawMessage(
                key_bytes(i),
                orjson.dumps(envelope("c", None, row(i), 1000 + i)),
                SourcePosition(TOPIC, 0, i),
                1_700_000_000_000,
            )
            for i in ids
        ]
        batch = Pipeline(contract, masker, guard=False)(raws)
        assert len(batch.changes) == PER_BATCH
        assert not batch.failures
        out.append(batch)
    return out


def _until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _inside(t: threading.Thread, qualname: str) -> bool:
    """Whether the thread ``t`` is running (or waiting) inside the function ``qualname``."""
    frame = sys._current_frames().get(t.ident or 0)
    while frame is not None:
        if frame.f_code.co_qualname == qualname:
            return True
        frame = frame.f_back
    return False


@contextmanager
def _locked(dsn: str, contract: Contract) -> Iterator[Callable[[], bool]]:
    """The serving view's table locked by another session until the block ends; yields a
    check of whether a session waits for that lock (the writer, held up by the server)."""
    admin = psycopg2.connect(dsn)
    watcher = psycopg2.connect(dsn)
    watcher.autocommit = True
    table = sql.Identifier("public", contract.address)

    def waiting() -> bool:
        with watcher.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                (table.as_string(watcher),),
            )
            return bool((cur.fetchone() or (0,))[0])

    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        yield waiting
    finally:
        admin.rollback()  # releases the lock
        admin.close()
        watcher.close()


def _view_keys(dsn: str, contract: Contract) -> int:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            table = sql.Identifier("public", contract.address)
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
            return int((cur.fetchone() or (0,))[0])
    finally:
        conn.close()


def _partition(
    kafka_broker: str, dsn: str, contract: Contract
) -> tuple[_PortPartition, KafkaTopicWriter]:
    kafka = KafkaTopicWriter(kafka_broker)
    kafka.ensure(contract)
    view = ServingViewWriter(dsn)
    view.ensure(contract)
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"kafka_topic": kafka, "serving_view": view}, letters, DeadLetters(contract))
    return _PortPartition("p0", ports, None, None), kafka


def _in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errors


def test_a_slow_port_does_not_hold_back_the_kafka_topic(
    kafka_broker: str, postgres_database: str, masker: Masker
) -> None:
    """Twenty polls while the serving view waits on a lock: every batch is on the product
    topic and the dataflow goes on (before, the fifth batch waiting behind the view held
    the dataflow, and the topic, back); the snapshot returns only once the view has
    everything, so no position is recorded that the view has not written."""
    contract = unique_contract()
    batches = _batches(contract, masker, 20)
    total = PER_BATCH * len(batches)
    part, kafka = _partition(kafka_broker, postgres_database, contract)
    try:
        with _locked(postgres_database, contract) as waiting:

            def write_all() -> None:
                for b in batches:
                    part.write_batch([b])

            writer, errors = _in_thread(write_all)
            writer.join(TIMEOUT)
            assert not writer.is_alive(), "the dataflow was held back by the slow port"
            assert not errors, errors
            _until(waiting, "the serving view's writer to wait for the lock")
            assert len(consume_all(kafka_broker, kafka.topic)) == total
            returned: list[float] = []

            def snapshot_then_time() -> None:
                part.snapshot()
                returned.append(time.monotonic())

            snapshot, snapshot_errors = _in_thread(snapshot_then_time)
            _until(lambda: _inside(snapshot, "PortThread.wait"), "the snapshot to wait")
            released = time.monotonic()
        snapshot.join(TIMEOUT)
        assert not snapshot.is_alive(), "the snapshot did not return after the lock went"
        assert not snapshot_errors, snapshot_errors
        assert returned[0] > released  # it waited for the view to write everything
        assert _view_keys(postgres_database, contract) == total
        assert part.state.counts["written"] == total
    finally:
        part.close()


def test_a_port_too_far_behind_holds_the_dataflow_back(
    kafka_broker: str, postgres_database: str, masker: Masker
) -> None:
    """Back-pressure: once a port has ``MAX_WAITING`` changes waiting, the next batch waits
    for room (its Kafka messages are out already: the topic is written first); released,
    everything reaches both ports in order."""
    contract = unique_contract()
    batches = _batches(contract, masker, 6)
    total = PER_BATCH * len(batches)
    part, kafka = _partition(kafka_broker, postgres_database, contract)
    (thread,) = part._threads
    thread.MAX_WAITING = PER_BATCH + 1  # room for one batch waiting
    try:
        with _locked(postgres_database, contract) as waiting:
            started: list[PortBatch] = []

            def write_all() -> None:
                for b in batches:
                    started.append(b)
                    part.write_batch([b])

            writer, errors = _in_thread(write_all)
            _until(waiting, "the serving view's writer to wait for the lock")
            _until(lambda: _inside(writer, "PortThread.put"), "a batch to wait for room")
            assert thread._waiting == PER_BATCH  # one batch waits; the next one may not
            # the batch waiting for room is on the topic already, the ones after it are not
            assert len(consume_all(kafka_broker, kafka.topic)) == PER_BATCH * len(started)
            assert len(started) < len(batches)
        writer.join(TIMEOUT)
        assert not writer.is_alive(), "the dataflow stayed blocked after the lock went"
        assert not errors, errors
        part.snapshot()
        assert _view_keys(postgres_database, contract) == total
        assert len(consume_all(kafka_broker, kafka.topic)) == total
        assert part.state.counts["written"] == total
    finally:
        part.close()
