"""The streaming port: the product's Kafka topic ``<domain>.<product>.v<major>``.

Each change becomes one message: the key is the primary key (the value's text for a
one-field key, a JSON array otherwise), the value the record as JSON, and a delete a
tombstone (null value), so a compacted topic keeps the newest state per key. Headers
carry ``meshkit-product`` (``<domain>.<product>``), ``meshkit-version`` (the contract's
version) and ``meshkit-position`` (the change's source position, for consumers that
deduplicate a replay).

The producer is idempotent (``enable.idempotence``, ``acks=all``): its own retries never
duplicate or reorder messages. ``write`` only queues; ``flush`` returns once the broker
confirmed every message written so far, and raises ``DeliveryError`` naming the changes
it did not confirm, so a caller commits its source position only after ``flush``. A
replay after a crash produces the replayed changes again (at-least-once): compaction and
the position header make that harmless.

Topic partitions, cleanup policy and retention come from the contract
(``meshkit.contracts.exporters.kafka``). ``ensure`` creates the topic, or aligns its
retention and cleanup policy; a different partition count is refused (it would move
keys to other partitions).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.cimpl import NewTopic

from meshkit.contracts import Contract
from meshkit.contracts.exporters.kafka import kafka_topic_config
from meshkit.errors import ServiceError
from meshkit.ports.base import (
    Change,
    DeadLetter,
    DeliveryError,
    NotEnsuredError,
    Op,
    SchemaChangeError,
    WriteReport,
)
from meshkit.ports.intake import Intake

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


def json_default(value: Any) -> Any:
    """orjson fallback: decimals as text (exact), bytes as base64."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_key(key: tuple[Any, ...]) -> bytes:
    """A message key: the value's text for a one-field key, a JSON array otherwise."""
    if len(key) == 1:
        v = key[0]
        return v.encode() if isinstance(v, str) else orjson.dumps(v, default=json_default)
    return orjson.dumps(list(key), default=json_default)


class KafkaTopicWriter:
    """Kafka product-topic writer (see the module docstring)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        config: dict[str, Any] | None = None,
        topic: str | None = None,
    ) -> None:
        """``config`` adds producer settings; ``topic`` overrides the contract's topic name."""
        self.bootstrap_servers = bootstrap_servers
        self._topic_override = topic
        self._producer = Producer(
            {**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap_servers, **(config or {})}
        )
        self._intake: Intake | None = None
        self.topic = ""
        self._headers: list[tuple[str, str | bytes | None]] = []
        self._failed: list[DeadLetter] = []

    def ensure(self, contract: Contract) -> None:
        """Create the topic from the contract, or align its retention and cleanup policy."""
        spec = kafka_topic_config(contract)
        topic = self._topic_override or spec["topic"]
        port = f"{contract.address} (Kafka topic {topic})"
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
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
        self._producer.list_topics(topic, timeout=10)  # warm the metadata
        self.topic = topic
        self._intake = Intake(contract, port)
        self._headers = [
            ("meshkit-product", contract.id.encode()),
            ("meshkit-version", contract.version.encode()),
        ]

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the whole batch, then queue one message per change (in batch order)."""
        if self._intake is None:
            raise NotEnsuredError("call ensure(contract) before write()")
        self._intake.check(batch)
        produce, poll = self._producer.produce, self._producer.poll
        topic, headers, delivered = self.topic, self._headers, self._delivered
        dumps = orjson.dumps
        for change in batch:
            record = change.record
            value = None if record is None else dumps(record, default=json_default)
            h = [*headers, ("meshkit-position", str(change.position).encode())]
            key = encode_key(change.key)
            while True:
                try:
                    produce(topic, value, key, on_delivery=delivered, headers=h)
                    break
                except BufferError:
                    poll(0.05)
        poll(0)
        return WriteReport(written=len(batch))

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        """Delivery report: a failed message is recorded as the change it carried."""
        if err is None:
            return
        position = int(dict(msg.headers() or []).get("meshkit-position", b"-1"))
        op: Op = "delete" if msg.value() is None else "upsert"
        change = Change(op, (msg.key().decode(errors="replace"),), None, position)
        self._failed.append(DeadLetter(change, f"{err.name()}: {err.str()}"))

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the broker confirmed every message; ``DeliveryError`` otherwise."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise ServiceError(
                f"{self.topic}: {remaining} messages still unconfirmed after {timeout:g} s"
            )
        if self._failed:
            failed, self._failed = self._failed, []
            raise DeliveryError(f"Kafka topic {self.topic}", failed)

    def close(self) -> None:
        self.flush()
