"""Producing change events to Kafka and knowing which LSN is safe to acknowledge.

Events are grouped in *batches*, one per source transaction (plus one for the snapshot).
A batch is acknowledgeable when its transaction's commit was seen and Kafka confirmed
every one of its messages; the acknowledgeable LSN is the end LSN of the last batch such
that it *and every batch before it* are complete. Batches complete out of order (several
topics and partitions), so they wait in a queue in creation order.

The producer is idempotent (``enable.idempotence``: no duplicates or reordering from its
own retries) with ``acks=all`` and Java's ``murmur2`` partitioner, so the same key lands
on the same partition as with Debezium's Java producer.

Missing topics are created with the configured replication factor or, when none is
configured, the cluster's ``default.replication.factor`` read from a broker's
configuration; a broker that does not report it gets ``-1`` (the broker applies its own
default, KIP-464), with a warning saying so.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # ConfigResource: no stub
    AdminClient,
    ConfigResource,
)
from confluent_kafka.cimpl import NewTopic

from meshkit.errors import ServiceError
from meshkit.settings import kafka_connection

log = logging.getLogger("meshkit.cdc")

_PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "message.timeout.ms": 300_000,
}


def _default_replication_factor(admin: AdminClient, brokers: list[int]) -> int:
    """The cluster's ``default.replication.factor``, or -1 (the broker's default)."""
    reason = "no broker in the metadata"
    for broker in brokers[:1]:
        try:
            resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
            (future,) = admin.describe_configs([resource]).values()
            entry = future.result(10).get("default.replication.factor")
        except KafkaException as exc:
            reason = str(exc)
            continue
        if entry is not None and str(entry.value).lstrip("-").isdigit():
            return int(entry.value)
        reason = "not in its configuration"
    log.warning(
        "the broker did not report default.replication.factor (%s): creating topics with "
        "replication factor -1, which makes the broker apply its own default; set "
        "'topic_replication_factor' to choose one",
        reason,
    )
    return -1


class Batch:
    """The messages of one source transaction (or of the snapshot)."""

    __slots__ = ("closed", "lsn", "remaining", "sink")

    def __init__(self, sink: KafkaSink) -> None:
        self.sink = sink
        self.remaining = 0
        self.closed = False
        self.lsn = 0

    def delivered(self, err: KafkaError | None, _msg: Any) -> None:
        """Delivery report of one message (called from ``Producer.poll``)."""
        self.remaining -= 1
        if err is not None and self.sink.failure is None:
            self.sink.failure = f"{err.name()}: {err.str()}"


class KafkaSink:
    """A producer plus the acknowledgement bookkeeping described in the module docstring."""

    def __init__(self, bootstrap_servers: str, extra: dict[str, Any] | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        config = {**_PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap_servers, **(extra or {})}
        self._producer = Producer(config)
        self._connection = kafka_connection(config)
        self._batches: collections.deque[Batch] = collections.deque()
        self.failure: str | None = None
        self.produced = 0
        #: called while waiting for a full producer queue to drain (keeps other I/O alive)
        self.on_wait: Callable[[], None] | None = None

    def _metadata(self, admin: AdminClient) -> Any:
        try:
            return admin.list_topics(timeout=10)
        except KafkaException as exc:
            raise ServiceError(
                f"Kafka at {self.bootstrap_servers} does not answer: {exc}\n"
                "  fix: check bootstrap_servers, or start the local stack (meshkit local up)"
            ) from exc

    def missing_topics(self, topics: Iterable[str]) -> list[str]:
        """The topics of ``topics`` that the broker does not have."""
        existing = set(self._metadata(AdminClient(self._connection)).topics)
        return [t for t in topics if t not in existing]

    def ensure_topics(
        self, topics: Iterable[str], partitions: int = 1, replication_factor: int | None = None
    ) -> None:
        """Create the topics that do not exist yet (see the module docstring for the
        replication factor)."""
        admin = AdminClient(self._connection)
        metadata = self._metadata(admin)
        existing = set(metadata.topics)
        wanted = list(topics)
        missing = [t for t in wanted if t not in existing]
        if missing and replication_factor is None:
            replication_factor = _default_replication_factor(admin, list(metadata.brokers))
        new = [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor or -1)
            for t in missing
        ]
        for topic, future in admin.create_topics(new).items() if new else []:
            try:
                future.result(15)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ServiceError(
                        f"cannot create topic {topic} (replication factor "
                        f"{replication_factor or 'the broker default'}): {exc}\n"
                        "  fix: set 'topic_replication_factor' to at most the number of "
                        "brokers, or create the topic beforehand"
                    ) from exc
        # warm the producer's metadata so the first events are not held back waiting for it
        for topic in wanted:
            self._producer.list_topics(topic, timeout=10)

    def open_batch(self) -> Batch:
        """A new batch at the end of the queue."""
        batch = Batch(self)
        self._batches.append(batch)
        return batch

    def close_batch(self, batch: Batch, lsn: int) -> None:
        """The batch's transaction committed; acknowledging it means acknowledging ``lsn``."""
        batch.lsn = lsn
        batch.closed = True

    def mark(self, lsn: int) -> None:
        """A position with nothing to send (e.g. after transactions the slot filtered out)."""
        batch = self.open_batch()
        self.close_batch(batch, lsn)

    def produce(
        self,
        batch: Batch,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        """Queue one message; waits (serving delivery reports) while the queue is full."""
        batch.remaining += 1
        while True:
            try:
                self._producer.produce(
                    topic, value, key, on_delivery=batch.delivered, headers=headers
                )
                break
            except BufferError:
                self._producer.poll(0.05)
                if self.on_wait is not None:
                    self.on_wait()
            except KafkaException as exc:
                error = exc.args[0]
                size = len(value or b"") + len(key or b"")
                raise ServiceError(
                    f"Kafka refused a change event for topic {topic} ({error.name()}, "
                    f"{size:,} bytes); nothing from it on was acknowledged, so a restart "
                    "resumes there\n  fix: raise the producer's message.max.bytes (CDC "
                    "'producer' settings) and the topic's max.message.bytes"
                ) from None
        self.produced += 1

    def poll(self, timeout: float = 0.0) -> int | None:
        """Serve delivery reports; the newest acknowledgeable LSN, if it advanced."""
        self._producer.poll(timeout)
        self.check()
        newest: int | None = None
        batches = self._batches
        while batches and batches[0].closed and batches[0].remaining == 0:
            newest = batches.popleft().lsn
        return newest

    def pending(self) -> int:
        """Messages not yet confirmed by Kafka."""
        return len(self._producer)

    def flush(self, timeout: float) -> int | None:
        """Wait until Kafka confirmed everything queued (or ``timeout``); then :meth:`poll`."""
        deadline = time.monotonic() + timeout
        while len(self._producer) > 0 and time.monotonic() < deadline:
            self._producer.poll(0.1)
            if self.on_wait is not None:
                self.on_wait()
        return self.poll()

    def check(self) -> None:
        """Raise when Kafka refused a message (nothing after it will be acknowledged)."""
        if self.failure is not None:
            raise ServiceError(
                f"Kafka did not accept a change event ({self.failure}); nothing after the last "
                "acknowledged LSN was acknowledged, so a restart resumes from there"
            )
