"""What flows through a meshkit dataflow: raw messages, typed change records, failures.

Plain data, no engine types, so the record logic works the same under Bytewax or any
other engine:

- ``RawMessage``: a Kafka message as read (key and value bytes, where it came from);
- ``ChangeRecord``: one Debezium change event, typed (``op``, ``key``, ``before``,
  ``after``, ``position``, and the commit time ``ts_ms``);
- ``Failure``: a record that a step refused, with the reason, the step and the source
  position; it ends in the dead-letter port.

``parse_envelopes(messages)`` turns a batch of raw messages into change records, failures
(invalid JSON, not an envelope, wrong types) and the number of tombstones (the empty
message Debezium sends after a delete, which carries nothing to apply).

The Debezium envelope read here is the documented one (see ``docs/cdc.md``)::

    {"before": {...} | null, "after": {...} | null, "op": "c" | "u" | "d" | "r" | "t",
     "source": {"lsn": 24023128, "txId": 555, ...}, "ts_ms": 1559033904863}

A change's ``position`` is ``source.lsn`` when the event has one (it grows with every
change of a key, so port writers can drop replays), else the Kafka offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from meshkit.ports.base import Change, kind_of

Op = Literal["c", "u", "d", "r", "t"]
_OPS = frozenset("cudrt")


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a message was read: topic, partition and offset (``topic[0]@42``)."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A Kafka message as read, before any parsing."""

    key: bytes | None
    value: bytes | None
    source: SourcePosition
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change event of a source table (or of another product's topic)."""

    op: Op
    key: dict[str, Any] | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    position: int
    source: SourcePosition
    ts_ms: int | None = None
    tx_id: int | None = None

    @property
    def row(self) -> dict[str, Any] | None:
        """The row as it is after the change (``before`` for a delete)."""
        return self.before if self.op == "d" else self.after


@dataclass(frozen=True, slots=True)
class Failure:
    """A record a step refused: why, in which step, from where, and its payload.

    ``payload`` is what the step had (a raw ``bytes`` value, a row, a product record);
    the dead-letter port masks it before it leaves the domain.
    """

    step: str
    reason: str
    source: SourcePosition | None
    payload: Any = None
    field: str | None = None


@dataclass
class Parsed:
    """The outcome of parsing one batch of raw messages."""

    records: list[ChangeRecord]
    failures: list[Failure]
    tombstones: int = 0


def parse_envelope(message: RawMessage, *, step: str = "parse") -> ChangeRecord | Failure | None:
    """One message as a ``ChangeRecord``, a ``Failure``, or None for a tombstone."""
    if message.value is None:
        return None
    src = message.source
    try:
        value = orjson.loads(message.value)
    except orjson.JSONDecodeError as exc:
        return Failure(step, f"invalid JSON: {exc}", src, message.value)
    if not isinstance(value, dict):
        return Failure(step, f"not a change event: a JSON {type(value).__name__}", src, value)
    if "payload" in value and "op" not in value and isinstance(value["payload"], dict):
        value = value["payload"]  # JsonConverter with schemas.enable=true
    op = value.get("op")
    if op not in _OPS:
        what = "missing" if op is None else f"{kind_of(op)} other than"
        return Failure(step, f"not a change event: 'op' is {what} c, u, d, r or t", src, value)
    before, after = value.get("before"), value.get("after")
    for name, image in (("before", before), ("after", after)):
        if image is not None and not isinstance(image, dict):
            return Failure(step, f"'{name}' must be an object or null", src, value, name)
    if op in "cur" and after is None:
        return Failure(step, f"a {op!r} event without 'after'", src, value, "after")
    if op == "d" and before is None and message.key is None:
        return Failure(step, "a delete without 'before' or a key", src, value, "before")
    source = value.get("source")
    position = src.offset
    tx_id = None
    if isinstance(source, dict):
        lsn = source.get("lsn")
        if type(lsn) is int and lsn >= 0:
            position = lsn
        tx = source.get("txId")
        tx_id = tx if type(tx) is int else None
    ts = value.get("ts_ms")
    if isinstance(source, dict) and type(source.get("ts_ms")) is int:
        ts = source["ts_ms"]  # commit time of the change
    key = _key(message.key)
    return ChangeRecord(
        op, key, before, after, position, src, ts if type(ts) is int else None, tx_id
    )


def _key(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        key = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(key, dict) and "payload" in key and isinstance(key["payload"], dict):
        key = key["payload"]
    return key if isinstance(key, dict) else None


def parse_envelopes(messages: Sequence[RawMessage], *, step: str = "parse") -> Parsed:
    """Parse a batch (see ``parse_envelope``)."""
    out = Parsed([], [])
    records, failures = out.records, out.failures
    for m in messages:
        r = parse_envelope(m, step=step)
        if r is None:
            out.tombstones += 1
        elif type(r) is ChangeRecord:
            records.append(r)
        else:
            failures.append(r)  # type: ignore[arg-type]
    return out


def parse_product_message(message: RawMessage, *, step: str = "parse") -> ChangeRecord | Failure:
    """A message of another product's topic: a JSON record (upsert) or a tombstone (delete).

    The position is the Kafka offset (a product topic is keyed by the primary key, so
    each key lives in one partition and its offsets grow with its changes).
    """
    src = message.source
    key = _key(message.key)
    if message.value is None:
        if key is None:
            return Failure(step, "a tombstone without a JSON key", src, None)
        return ChangeRecord("d", key, key, None, src.offset, src, message.timestamp_ms)
    try:
        value = orjson.loads(message.value)
    except orjson.JSONDecodeError as exc:
        return Failure(step, f"invalid JSON: {exc}", src, message.value)
    if not isinstance(value, dict):
        return Failure(step, f"not a record: a JSON {type(value).__name__}", src, value)
    return ChangeRecord("u", key, None, value, src.offset, src, message.timestamp_ms)


@dataclass(frozen=True, slots=True)
class ProductChange(Change):
    """A change of a product record: an upsert (``record`` set) or a delete of ``key``.

    ``position`` orders the changes of one key (the source's LSN or offset); ``source``
    and ``ts_ms`` (the source commit time) travel along for dead letters and latency. It
    is a port ``Change`` itself, so the port writers take it as it is.
    """

    op: Literal["upsert", "delete"]
    key: tuple[Any, ...]
    record: dict[str, Any] | None
    position: int
    source: SourcePosition | None = None
    ts_ms: int | None = None

    def with_record(self, record: dict[str, Any]) -> ProductChange:
        return ProductChange(self.op, self.key, record, self.position, self.source, self.ts_ms)
