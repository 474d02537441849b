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

Another product's topic (``parse_product_message``) carries what meshkit's Kafka writer
writes (``meshkit.ports.kafka``): the record as JSON, a tombstone for a delete, and the
primary key as the message key — the value's text for a one-field key, a JSON array of
the values for a composite key. The key holds values only, no field names, and the
writer's headers (product, version, format, position) name none either; the input port
knows only the product and its major (the upstream contract is not at hand while a
flow runs). So the names come from the consuming contract (``ProductKey.of``): a
declarative flow over a product keys its records as the upstream keys them, so the
source field of each of its primary-key fields, in key order, names the upstream key's
values. Every upsert checks this: one whose key does not equal the record's values at
those names is refused (the consuming contract's key does not map from the upstream's
key, and its deletes would remove the wrong rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from meshkit.contracts import Contract
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


class ProductKey:
    """How the message keys of another product's topic read as field → value.

    ``names`` are the upstream key's field names in key order; ``text`` the names whose
    values the consuming contract reads as text. Decoding (``decode``), in the writer's
    format (``meshkit.ports.kafka.encode_key``):

    - one name: the key's UTF-8 text (the mapping casts it as any field, e.g. ``"42"``
      to an integer). The writer quotes a date, timestamp, decimal or bytes value as a
      JSON string (``"2024-05-01"``): for a field not read as text, such a key is
      unquoted;
    - several names: a JSON array with one value per name, zipped with the names;
    - a JSON object (a Debezium-style key, ``{"id": 1}``) that holds the names is read
      as the field → value it is.

    A key that cannot be read so is ``None`` (the caller refuses the message).
    """

    __slots__ = ("names", "text")

    def __init__(self, names: Sequence[str], *, text: Sequence[str] = ()) -> None:
        self.names = tuple(names)
        self.text = frozenset(text)

    @classmethod
    def of(cls, contract: Contract) -> ProductKey:
        """The key of the product ``contract`` maps from: the source field of each of its
        primary-key fields (see the module docstring), read as text where the mapping
        reads a string (the field's ``cast``, else its type)."""
        mapping = contract.mapping
        fields = contract.field_index
        names: list[str] = []
        text: list[str] = []
        for k in contract.primary_key:
            source = mapping.source_of(k) if mapping is not None else k
            names.append(source)
            m = mapping.fields.get(k) if mapping is not None else None
            dtype = m.cast if m is not None and m.cast is not None else fields[k].data_type
            if dtype.kind == "string":
                text.append(source)
        return cls(names, text=text)

    @property
    def expected(self) -> str:
        """What a key looks like, for a refusal's reason (names, never values)."""
        if len(self.names) == 1:
            return f"the UTF-8 text of {self.names[0]!r}"
        return f"a JSON array of {len(self.names)} values ({', '.join(self.names)})"

    def decode(self, raw: bytes) -> dict[str, Any] | None:
        """The key as field → value, or None when it cannot be read (see the class)."""
        names = self.names
        if len(names) == 1:
            name = names[0]
            try:
                text: Any = raw.decode()
            except UnicodeDecodeError:
                return None
            if raw[:1] == b"{" and (obj := _key(raw)) is not None and name in obj:
                return obj
            if name not in self.text and raw[:1] == b'"' and raw[-1:] == b'"' and len(raw) > 1:
                try:
                    unquoted = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    unquoted = None
                if type(unquoted) is str:
                    text = unquoted
            return {name: text}
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if type(values) is list and len(values) == len(names) and names:
            return dict(zip(names, values, strict=True))
        if isinstance(values, dict) and (obj := _key(raw)) is not None and set(names) <= obj.keys():
            return obj
        return None

    def matches(self, key: dict[str, Any], record: dict[str, Any]) -> bool:
        """Whether a decoded key holds the record's values at its names (a one-field key's
        text equals the value's text or JSON text)."""
        for name in self.names:
            k, v = key.get(name), record.get(name)
            if k == v:
                continue
            if type(k) is str and v is not None and orjson.dumps(v) == k.encode():
                continue
            return False
        return True


def parse_product_message(
    message: RawMessage, *, step: str = "parse", key: ProductKey | None = None
) -> ChangeRecord | Failure:
    """A message of another product's topic: a JSON record (upsert) or a tombstone (delete).

    ``key`` reads the message key in the writer's format (see ``ProductKey``; build it
    with ``ProductKey.of(contract)`` for the consuming contract); without it only a
    JSON-object key is read. A tombstone whose key cannot be read, or an upsert whose key
    does not match its record, is a ``Failure`` naming where the message is and what the
    key should be, never the key's value.

    The position is the Kafka offset (a product topic is keyed by the primary key, so
    each key lives in one partition and its offsets grow with its changes).
    """
    src = message.source
    raw = message.key
    decoded: dict[str, Any] | None = None
    if raw is not None:
        decoded = _key(raw) if key is None else key.decode(raw)
    if message.value is None:
        if raw is None:
            return Failure(step, "a tombstone without a key", src, None)
        if decoded is None:
            expected = "a JSON object" if key is None else key.expected
            return Failure(step, f"a tombstone whose key is not {expected}", src, None)
        return ChangeRecord("d", decoded, decoded, None, src.offset, src, message.timestamp_ms)
    try:
        value = orjson.loads(message.value)
    except orjson.JSONDecodeError as exc:
        return Failure(step, f"invalid JSON: {exc}", src, message.value)
    if not isinstance(value, dict):
        return Failure(step, f"not a record: a JSON {type(value).__name__}", src, value)
    if key is not None and raw is not None:
        if decoded is None:
            return Failure(step, f"a record whose key is not {key.expected}", src, value)
        if not key.matches(decoded, value):
            return Failure(
                step,
                "the message key does not equal the record's "
                f"{', '.join(key.names)}: the contract's primary key must map from the "
                "upstream product's primary key, field by field in key order",
                src,
                value,
            )
    return ChangeRecord("u", decoded, None, value, src.offset, src, message.timestamp_ms)


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
