"""The streaming port: the product's Kafka topic ``<domain>.<product>.v<major>``.

Each change becomes one message: the key is the primary key (the value's text for a
one-field key, a JSON array otherwise), the value the record, and a delete a tombstone
(null value), so a compacted topic keeps the newest state per key. Headers carry
``meshkit-product`` (``<domain>.<product>``), ``meshkit-version`` (the contract's
version), ``meshkit-format`` (``json`` or ``avro``) and ``meshkit-position`` (the
change's source position, for consumers that deduplicate a replay).

Value formats (``value_format=``):

- ``json`` (default): the record as JSON; decimals as exact text, bytes as base64,
  dates and timestamps ISO 8601.
- ``avro``: the record as schemaless Avro binary with the contract's Avro schema
  (``meshkit.contracts.exporters.avro``), plus a ``meshkit-schema`` header holding the
  SHA-256 fingerprint of the schema's Parsing Canonical Form (hex), so a consumer can
  tell which schema wrote a message. This is not the Confluent wire format (magic byte
  and registry id in front of the value): that needs a schema registry, which the
  platform does not have yet. A ``json`` field is its JSON text in Avro.

``decode_value(contract, value, headers)`` (or a reusable ``ValueDecoder``) turns a
message value of either format back into the record: decimals, dates, timestamps and
bytes as Python values, ``json`` fields parsed.

The producer is idempotent (``enable.idempotence``, ``acks=all``): its own retries never
duplicate or reorder messages. ``write`` only queues; ``flush`` returns once the broker
confirmed every message written so far, and raises ``DeliveryError`` naming the changes
it did not confirm, so a caller commits its source position only after ``flush``. A
replay after a crash produces the replayed changes again (at-least-once): compaction and
the position header make that harmless.

A message refused for good because of what it is, not because the cluster is away, is
the record's fault: replaying it would fail the same way forever. Such a change becomes
a dead letter (``DeadLetter``, with the Kafka error's name and text, never the value):

- a message larger than the topic's ``max.message.bytes`` (read at ``ensure``) or the
  producer's ``message.max.bytes`` (1,000,000 bytes by default: under the flows' 1 MiB
  value limit), counted as key + value + headers before compression, as librdkafka
  counts it: refused by the writer before it is produced, so it cannot fail the batch
  of its neighbours on the broker (the producer's ``batch.size`` is kept within the
  topic's limit for the same reason);
- a message the broker refuses as ``MSG_SIZE_TOO_LARGE``, ``INVALID_RECORD``,
  ``CORRUPT_MESSAGE``, ``RECORD_LIST_TOO_LARGE`` or ``INVALID_TIMESTAMP`` in its
  delivery report (known after ``write`` returned, at the latest at ``flush``).

Dead letters go to the ``dead_letter`` callback when one is given (as soon as they are
known: in ``write`` or in ``flush``; ``write``'s report does not list them, most are
known only later). Without a callback they are never dropped: ``flush`` raises
``DeliveryError`` naming them. Every other delivery failure (a timeout, the broker
gone, a fatal producer error) is an outage: ``flush`` raises ``DeliveryError`` and the
caller replays from its last committed position.

Topic partitions, cleanup policy and retention come from the contract
(``meshkit.contracts.exporters.kafka``). ``ensure`` creates the topic, or aligns its
retention and cleanup policy; a different partition count is refused (it would move
keys to other partitions).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any, cast, get_args

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.cimpl import NewTopic
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from meshkit.contracts import Contract
from meshkit.contracts.exporters.avro import avro_schema
from meshkit.contracts.exporters.kafka import kafka_topic_config
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.contracts.ports import TopicFormat as ValueFormat
from meshkit.errors import ServiceError
from meshkit.ports.base import (
    Change,
    DeadLetter,
    DeliveryError,
    NotEnsuredError,
    Op,
    PortError,
    RecordRefusedError,
    SchemaChangeError,
    WriteReport,
)
from meshkit.ports.intake import Intake, json_text
from meshkit.settings import kafka_connection

FORMAT_HEADER = "meshkit-format"
POSITION_HEADER = "meshkit-position"
SCHEMA_HEADER = "meshkit-schema"

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",  # the Java client's partitioner: same key, same partition
    "linger.ms": 5,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 500_000,
    "compression.type": "lz4",
    # Python hears only about failed messages: a callback per delivered message would cost
    # more than producing it; success is what flush() returning with nothing queued means.
    "delivery.report.only.error": True,
}


PRODUCER_MESSAGE_MAX_BYTES = 1_000_000  # librdkafka's default message.max.bytes
PRODUCER_BATCH_SIZE = 1_000_000  # librdkafka's default batch.size
_KEY = attrgetter("key")
_FIRST = itemgetter(0)
_REFUSED_FOR_GOOD = {
    getattr(KafkaError, name)
    for name in (
        "MSG_SIZE_TOO_LARGE",
        "INVALID_RECORD",
        "INVALID_MSG",  # CORRUPT_MESSAGE
        "RECORD_LIST_TOO_LARGE",
        "INVALID_TIMESTAMP",
    )
    if hasattr(KafkaError, name)
}
"""Broker errors about one message itself: retrying or replaying it fails the same way."""


def refused_for_good(err: KafkaError) -> bool:
    """Whether a delivery error is the message's own fault (a dead letter), not an outage."""
    return err.code() in _REFUSED_FOR_GOOD and not err.fatal()


def json_default(value: Any) -> Any:
    """orjson fallback: decimals as text (exact), bytes as base64."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def close_producer(producer: Producer) -> None:
    """Release a flushed producer's connections and threads now. Otherwise they live until
    the garbage collector frees the producer, and librdkafka logs a failed connection for
    every broker that went away before then, e.g. at the end of a test session."""
    close = getattr(producer, "close", None)  # not in the type stubs of confluent-kafka
    if close is not None:
        close()


def encode_key(key: tuple[Any, ...]) -> bytes:
    """A message key: the value's text for a one-field key, a JSON array otherwise."""
    if len(key) == 1:
        v = key[0]
        return v.encode() if isinstance(v, str) else orjson.dumps(v, default=json_default)
    return orjson.dumps(list(key), default=json_default)


def encode_keys(batch: Sequence[Change]) -> list[bytes]:
    """``encode_key`` of every change's key: one pass of ``str.encode`` when every key is
    one text value (the common case), else each key through ``encode_key``."""
    keys = list(map(_KEY, batch))
    if set(map(len, keys)) <= {1}:
        texts = list(map(_FIRST, keys))
        if set(map(type, texts)) <= {str}:
            return list(map(str.encode, texts))
    return list(map(encode_key, keys))


class KafkaTopicWriter:
    """Kafka product-topic writer (see the module docstring)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        config: dict[str, Any] | None = None,
        topic: str | None = None,
        value_format: ValueFormat = "json",
        dead_letter: Callable[[list[DeadLetter]], None] | None = None,
    ) -> None:
        """``config`` adds producer settings; ``topic`` overrides the contract's topic name;
        ``value_format`` is ``json`` or ``avro``; ``dead_letter`` takes the changes refused
        for good (see the module docstring)."""
        if value_format not in get_args(ValueFormat):
            raise ValueError(f"value_format must be 'json' or 'avro', not {value_format!r}")
        self.bootstrap_servers = bootstrap_servers
        self.value_format: ValueFormat = value_format
        self.dead_letter = dead_letter
        self._topic_override = topic
        self._avro: AvroCodec | None = None
        self._config = {**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap_servers,
                        **(config or {})}  # fmt: skip
        self._producer = Producer(self._config)
        self.max_message_bytes = int(
            self._config.get("message.max.bytes", PRODUCER_MESSAGE_MAX_BYTES)
        )
        self._limit_name = "the producer's message.max.bytes"
        self._intake: Intake | None = None
        self.topic = ""
        self._headers: list[tuple[str, str | bytes | None]] = []
        self._failed: list[DeadLetter] = []  # not confirmed: an outage
        self._refused: list[DeadLetter] = []  # refused for good: dead letters
        self._closed = False

    def ensure(self, contract: Contract) -> None:
        """Create the topic from the contract, or align its retention and cleanup policy."""
        spec = kafka_topic_config(contract)
        topic = self._topic_override or spec["topic"]
        port = f"{contract.address} (Kafka topic {topic})"
        admin = AdminClient(kafka_connection(self._config))
        try:
            meta = admin.list_topics(timeout=10)
        except KafkaException as exc:
            raise ServiceError(f"Kafka at {self.bootstrap_servers} does not answer: {exc}") from exc
        existing = meta.topics.get(topic)
        if existing is None:
            new = NewTopic(
                topic, num_partitions=spec["partitions"], replication_factor=-1,
                config=spec["config"],
            )  # fmt: skip
            try:
                admin.create_topics([new])[topic].result(15)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ServiceError(f"cannot create topic {topic}: {exc}") from exc
        else:
            if len(existing.partitions) != spec["partitions"]:
                raise SchemaChangeError(
                    port,
                    [
                        f"partitions {len(existing.partitions)} -> {spec['partitions']} (keys "
                        "would move to other partitions, breaking per-key order)"
                    ],
                )
            entries = [
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in spec["config"].items()
            ]
            resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=entries)
            for future in admin.incremental_alter_configs([resource]).values():
                future.result(15)
        self._limit(admin, topic)
        self._producer.list_topics(topic, timeout=10)  # warm the metadata
        self.topic = topic
        self._intake = Intake(contract, port)
        self._headers = [
            ("meshkit-product", contract.id.encode()),
            ("meshkit-version", contract.version.encode()),
            (FORMAT_HEADER, self.value_format.encode()),
        ]
        if self.value_format == "avro":
            self._avro = AvroCodec(contract)
            self._headers.append((SCHEMA_HEADER, self._avro.fingerprint.encode()))

    def _limit(self, admin: AdminClient, topic: str) -> None:
        """Take the topic's ``max.message.bytes`` as the message size limit when it is lower
        than the producer's, and keep the producer's batches within it (a new producer,
        after flushing the old one, when ``batch.size`` was larger)."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            entries = admin.describe_configs([resource])[resource].result(15)
            entry = entries.get("max.message.bytes")
            limit = int(entry.value) if entry is not None and entry.value else None
        except (KafkaException, ValueError):
            limit = None  # a broker that does not say: the producer's own limit holds
        producer_limit = int(self._config.get("message.max.bytes", PRODUCER_MESSAGE_MAX_BYTES))
        self.max_message_bytes = min(producer_limit, limit or producer_limit)
        if self.max_message_bytes < producer_limit:
            self._limit_name = "the topic's max.message.bytes"
        batch_size = int(self._config.get("batch.size", PRODUCER_BATCH_SIZE))
        if limit is not None and batch_size > limit:
            self._producer.flush()
            close_producer(self._producer)
            self._config = {**self._config, "batch.size": limit}
            self._producer = Producer(self._config)

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the whole batch (unless it is a ``CheckedBatch`` of the writer's contract:
        ``meshkit.ports.intake``), then queue one message per change (in batch order); a
        message refused for good is a dead letter (see the module docstring)."""
        if self._intake is None:
            raise NotEnsuredError("call ensure(contract) before write()")
        if self._closed:
            raise PortError(f"Kafka topic {self.topic}: the writer is closed")
        if not self._intake.trusts(batch):  # a CheckedBatch of the same contract: checked
            self._intake.check(batch)
        produce, poll = self._producer.produce, self._producer.poll
        topic, headers = self.topic, self._headers
        if self._avro is not None:
            values = self._avro.encode_batch(batch, self._intake.port)  # all, or refused
        else:
            dumps = orjson.dumps
            values = [
                None if c.record is None else dumps(c.record, default=json_default) for c in batch
            ]
        # one delivery callback per write, not an object per message: those, alive until
        # their delivery, would make the garbage collector walk them all
        delivered = _Sent(self, batch, values).delivered
        # what every message adds to key + value: the fixed headers, the position header
        overhead = sum(len(k) + len(v or b"") for k, v in headers) + 40
        limit = self.max_message_bytes
        refused = 0
        for change, key, value in zip(batch, encode_keys(batch), values, strict=True):
            size = len(key) + (len(value) if value else 0) + overhead
            if size > limit:
                self._refused.append(
                    DeadLetter(
                        change,
                        f"MSG_SIZE_TOO_LARGE: the message is {size} bytes, over "
                        f"{self._limit_name} {limit}; it was not sent",
                    )
                )
                refused += 1
                continue
            h = [*headers, (POSITION_HEADER, b"%d" % change.position)]
            while True:
                try:
                    produce(topic, value, key, on_delivery=delivered, headers=h)
                    break
                except BufferError:
                    poll(0.05)
                except KafkaException as exc:
                    err = exc.args[0]
                    if not refused_for_good(err):
                        raise ServiceError(
                            f"Kafka topic {topic}: cannot produce: {err.name()}: {err.str()}"
                        ) from None
                    self._refused.append(DeadLetter(change, f"{err.name()}: {err.str()}"))
                    refused += 1
                    break
        poll(0)
        self._hand_over()
        return WriteReport(written=len(batch) - refused)

    def _delivered(self, change: Change, err: KafkaError) -> None:
        """A failed message, as the change it carried: refused for good (a dead letter) or
        not confirmed (an outage)."""
        letter = DeadLetter(change, f"{err.name()}: {err.str()}")
        (self._refused if refused_for_good(err) else self._failed).append(letter)

    def _hand_over(self) -> None:
        """Give the dead letters known so far to the callback (kept for ``flush`` without)."""
        if self._refused and self.dead_letter is not None:
            letters, self._refused = self._refused, []
            self.dead_letter(letters)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the broker confirmed every message; ``DeliveryError`` otherwise."""
        if self._closed:  # close flushed everything
            return
        remaining = self._producer.flush(timeout)
        if remaining:
            raise ServiceError(
                f"{self.topic}: {remaining} messages still unconfirmed after {timeout:g} s"
            )
        self._hand_over()
        if self._failed or self._refused:
            failed, self._failed, self._refused = self._failed + self._refused, [], []
            raise DeliveryError(f"Kafka topic {self.topic}", failed)

    def close(self) -> None:
        """Flush, then release the producer (writing after ``close`` fails)."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        close_producer(self._producer)


class _Sent:
    """The changes of one ``write`` and their message keys and values, for the delivery
    reports of those messages (which carry the key and value, not the headers)."""

    __slots__ = ("_by_message", "changes", "keys", "values", "writer")

    def __init__(
        self, writer: KafkaTopicWriter, changes: Sequence[Change], values: Sequence[bytes | None]
    ) -> None:
        self.writer = writer
        self.changes = changes
        self.values = values
        self._by_message: dict[tuple[bytes, bytes | None], list[Change]] | None = None

    def delivered(self, err: KafkaError | None, msg: Any) -> None:
        """Delivery report (failures only, ``delivery.report.only.error``): the failed
        message's change, found by its key and value (the first not yet reported of equal
        ones: a key's messages are reported in the order they were produced)."""
        if err is None:
            return
        if self._by_message is None:
            self._by_message = {}
            for c, v in zip(self.changes, self.values, strict=True):
                self._by_message.setdefault((encode_key(c.key), v), []).append(c)
        same = self._by_message.get((msg.key(), msg.value()))
        if same:
            change = same.pop(0)
        else:  # not expected: a change of the key, without record or position
            op: Op = "delete" if msg.value() is None else "upsert"
            change = Change(op, (msg.key().decode(errors="replace"),), None, -1)
        self.writer._delivered(change, err)


# -- Avro values and decoding -------------------------------------------------------------

_Convert = Callable[[Any], Any]


class AvroCodec:
    """Schemaless Avro values of one contract: the parsed schema, its fingerprint, and the
    conversions Avro needs (``json`` fields as their text, decimals to the schema's scale)."""

    def __init__(self, contract: Contract) -> None:
        schema = avro_schema(contract)
        self.schema = parse_schema(schema)
        self.fingerprint: str = fingerprint(to_parsing_canonical_form(schema), "SHA-256")
        fields = published_fields(contract)
        self._to_avro = _record_converter(fields, _to_avro)
        self._from_avro = _record_converter(fields, _from_avro)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        out = io.BytesIO()
        schemaless_writer(out, self.schema, self._to_avro(record))
        return out.getvalue()

    def encode_batch(self, batch: Sequence[Change], port: str) -> list[bytes | None]:
        """Every value of ``batch`` (None for a delete); ``RecordRefusedError`` names the first
        change Avro cannot encode, before anything of the batch is produced."""
        values: list[bytes | None] = []
        for change in batch:
            try:
                values.append(None if change.record is None else self.encode(change.record))
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                # fastavro's message quotes the value: name its kind of error only
                raise RecordRefusedError(
                    port, change, None, f"cannot be encoded as Avro ({type(exc).__name__})"
                ) from None
        return values

    def decode(self, value: bytes) -> dict[str, Any]:
        record = schemaless_reader(io.BytesIO(value), self.schema, None)
        assert isinstance(record, dict)
        return cast(dict[str, Any], self._from_avro(record))


class ValueDecoder:
    """Turns message values of a product topic back into records (see ``decode_value``).

    Build one per contract and reuse it: the Avro schema is parsed once.
    """

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._avro = AvroCodec(contract)
        self._from_json = _record_converter(published_fields(contract), _from_json)

    def __call__(
        self,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None = None,
        *,
        value_format: ValueFormat | None = None,
    ) -> dict[str, Any] | None:
        """The record of a message value (None for a tombstone).

        The format is the ``meshkit-format`` header's, else ``value_format``, else JSON.
        An Avro value whose ``meshkit-schema`` header names another schema raises
        ``PortError`` (it was written with another contract version: decode it with the
        contract the ``meshkit-version`` header names).
        """
        if value is None:
            return None
        h = dict(headers or {})
        fmt = (h.get(FORMAT_HEADER) or b"").decode() or value_format or "json"
        if fmt == "json":
            return cast(dict[str, Any], self._from_json(orjson.loads(value)))
        if fmt != "avro":
            raise PortError(f"unknown {FORMAT_HEADER} {fmt!r} (json or avro)")
        written = (h.get(SCHEMA_HEADER) or b"").decode()
        if written and written != self._avro.fingerprint:
            version = (h.get("meshkit-version") or b"?").decode()
            raise PortError(
                f"the value was written with Avro schema {written[:16]}… (contract version "
                f"{version}), not {self._avro.fingerprint[:16]}… of {self.contract.address} "
                f"{self.contract.version}: decode it with that contract version"
            )
        return self._avro.decode(value)


def decode_value(
    contract: Contract,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None = None,
    *,
    value_format: ValueFormat | None = None,
) -> dict[str, Any] | None:
    """The record of one message value of the product topic, in either format (None for a
    tombstone). For many messages build a ``ValueDecoder`` once instead."""
    return ValueDecoder(contract)(value, headers, value_format=value_format)


def _record_converter(
    fields: Sequence[PublishedField], per_kind: Callable[[PublishedField, str], _Convert | None]
) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """A function converting a record's fields that need it (the record itself if none)."""
    converts = [(f.name, c) for f in fields if (c := _converter(f, f.type, per_kind))]
    if not converts:
        return lambda record: record

    def convert(record: Mapping[str, Any]) -> Mapping[str, Any]:
        out = dict(record)
        for name, c in converts:
            v = out.get(name)
            if v is not None:
                out[name] = c(v)
        return out

    return convert


def _converter(
    field: PublishedField, dtype: Any, per_kind: Callable[[PublishedField, str], _Convert | None]
) -> _Convert | None:
    if dtype.kind == "struct":
        inner = _record_converter(field.fields, per_kind)
        members = [m for m in field.fields if _converter(m, m.type, per_kind)]
        return inner if members else None
    if dtype.kind == "array":
        element = _converter(field, dtype.element, per_kind)
        if element is None:
            return None
        return lambda v: [None if x is None else element(x) for x in v]
    if dtype.kind == "decimal":
        return per_kind(field, f"decimal:{dtype.scale or 0}")
    return per_kind(field, dtype.kind)


def _to_avro(_field: PublishedField, kind: str) -> _Convert | None:
    if kind == "json":
        return json_text
    if kind.startswith("decimal:"):
        exponent = -int(kind.split(":")[1])
        quantum = Decimal(1).scaleb(exponent)

        def decimal(v: Any) -> Decimal:
            d = v if isinstance(v, Decimal) else Decimal(str(v))
            exp = d.as_tuple().exponent
            return d.quantize(quantum) if isinstance(exp, int) and exp < exponent else d

        return decimal
    return None


def _from_avro(_field: PublishedField, kind: str) -> _Convert | None:
    return orjson.loads if kind == "json" else None


def _from_json(_field: PublishedField, kind: str) -> _Convert | None:
    if kind.startswith("decimal:"):
        return lambda v: Decimal(str(v))
    return {
        "timestamp": lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v,
        "date": lambda v: date.fromisoformat(v) if isinstance(v, str) else v,
        "bytes": lambda v: base64.b64decode(v) if isinstance(v, str) else v,
    }.get(kind)
