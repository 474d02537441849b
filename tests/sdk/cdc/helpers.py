"""Shared helpers of the CDC tests: a capture running in a thread, reading topics, replay."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg2
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from meshkit.cdc import Capture, CaptureConfig, build_config


@dataclass(frozen=True)
class Env:
    """The session's PostgreSQL and broker, plus a per-test state directory."""

    dsn: str
    bootstrap: str
    state_dir: Path

    def config(self, tables: list[str], **overrides: Any) -> CaptureConfig:
        """A capture configuration with a slot, publication and topic prefix of its own."""
        tag = uuid.uuid4().hex[:8]
        settings: dict[str, Any] = {
            "dsn": self.dsn,
            "tables": tables,
            "topic_prefix": f"t{tag}",
            "bootstrap_servers": self.bootstrap,
            "slot": f"s_{tag}",
            "publication": f"p_{tag}",
            "state_dir": self.state_dir,
        }
        settings.update(overrides)
        return build_config(**settings)

    def sql(self, *statements: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run statements in autocommit; the rows of the last one (if any)."""
        with contextlib.closing(psycopg2.connect(self.dsn)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                rows: list[tuple[Any, ...]] = []
                for statement in statements:
                    cur.execute(statement, args or None)
                    rows = cur.fetchall() if cur.description else []
                return rows


@dataclass
class Event:
    key: Any
    value: Any
    headers: dict[str, bytes]


class Running:
    """A capture in a background thread; ``stop()`` ends it and re-raises its error."""

    def __init__(self, config: CaptureConfig) -> None:
        self.capture = Capture(config)
        self.config = config
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.capture.run(self._stop)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self, timeout: float = 60) -> Running:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while self.capture.progress.phase != "streaming":
            if self.error is not None or not self._thread.is_alive():
                raise AssertionError(f"capture ended early: {self.error!r}")
            if time.monotonic() > deadline:
                raise AssertionError("capture did not start streaming")
            time.sleep(0.02)
        return self

    def join_error(self, timeout: float = 60) -> None:
        """Wait until the capture ends by itself, and raise its error."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.stop()
            raise AssertionError(f"the capture still runs {timeout:.0f} s later")
        self.stop()

    def stop(self) -> None:
        """Stop the capture, and wait until the server released its slot (a walsender
        exits a moment after its connection closes; dropping the test database before
        that fails)."""
        self._stop.set()
        self._thread.join(60)
        wait_slot_released(self.config.dsn, self.config.slot)
        if self.error is not None:
            raise self.error


def wait_slot_released(dsn: str, slot: str, timeout: float = 30) -> None:
    """Wait until no server process holds the replication slot."""
    deadline = time.monotonic() + timeout
    query = "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active"
    with contextlib.closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            while True:
                cur.execute(query, (slot,))
                if cur.fetchone() is None:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"slot {slot} still active {timeout:.0f} s after stop")
                time.sleep(0.02)


@contextlib.contextmanager
def running(config: CaptureConfig) -> Iterator[Running]:
    run = Running(config).start()
    try:
        yield run
    finally:
        run.stop()


def read_topic(
    bootstrap: str, topic: str, *, count: int | None = None, timeout: float = 30, idle: float = 1.0
) -> list[Event]:
    """Every message of a single-partition topic from the start (the broker's "latest
    offset" is unreliable, so read until ``count`` messages, or until ``idle`` seconds
    pass without one)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if count is not None and len(events) >= count:
                break
            if count is None and time.monotonic() - last > idle:
                break
            batch = consumer.consume(10_000, 0.2)
            for msg in batch:
                if msg.error():
                    continue
                key = msg.key()
                value = msg.value()
                events.append(
                    Event(
                        orjson.loads(key) if key else None,
                        orjson.loads(value) if value else None,
                        dict(msg.headers() or []),
                    )
                )
                last = time.monotonic()
    finally:
        consumer.close()
    return events


def changes(events: list[Event]) -> list[Event]:
    """The events that are not tombstones."""
    return [e for e in events if e.value is not None]


def replay(events: list[Event], key: str = "id") -> dict[Any, dict[str, Any]]:
    """Apply events in order to an empty table copy (upsert on c/u/r, delete on d, clear on t)."""
    rows: dict[Any, dict[str, Any]] = {}
    for event in events:
        value = event.value
        if value is None:
            continue
        op = value["op"]
        if op in ("c", "u", "r"):
            rows[value["after"][key]] = value["after"]
        elif op == "d":
            rows.pop(value["before"][key], None)
        elif op == "t":
            rows.clear()
    return rows


def wait_replayed(
    env: Env, topic: str, query: str, *, key: str = "id", timeout: float = 60
) -> tuple[dict[Any, dict[str, Any]], list[Event]]:
    """Read the topic until its replay equals the rows ``query`` returns (as dicts by key)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(psycopg2.connect(env.dsn)) as conn, conn.cursor() as cur:
            cur.execute(query)
            names = [d.name for d in cur.description or []]
            source = {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in cur}
        events = read_topic(env.bootstrap, topic, idle=1.0, timeout=timeout)
        state = replay(events, key)
        if state == source or time.monotonic() > deadline:
            return source, events
        time.sleep(0.5)
