"""Bytewax sources over Kafka that deliver one batch per poll.

``KafkaBatchSource`` reads topics with confluent-kafka, one Bytewax partition per Kafka
partition, each with its own consumer on an ``assign()``-ed partition (no consumer-group
join, so no waiting for a group rebalance). Each poll returns up to ``batch_size``
messages as **one** stream item, a ``list[RawMessage]``: the dataflow's steps run once
per batch, not once per message. Its resume state is the next offset to read, so with
Bytewax recovery a restarted flow continues after the last snapshot.

``cdc_source(...)`` and ``product_source(...)`` name what they read: a domain's raw CDC
topics (Debezium envelopes; parse with ``meshkit.streaming.records.parse_envelopes``) or
another product's topic (``parse_product_message``).

With ``tail=False`` a partition ends at the end of its topic (for tests, backfills and
benchmarks): when the consumer has reported the end of the partition and nothing new
came for ``end_idle`` (0.5 s; some brokers report the end one batch early).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from meshkit.contracts import CdcInput, Contract, ProductInput
from meshkit.errors import ConfigError, ServiceError
from meshkit.observability.flow import ConsumerLag
from meshkit.settings import kafka_connection
from meshkit.streaming.pipeline import gc_paused
from meshkit.streaming.records import RawMessage, SourcePosition

Batch = list[RawMessage]
_IDLE = timedelta(milliseconds=20)
END_IDLE = timedelta(milliseconds=500)


class _Partition(StatefulSourcePartition[Batch, int]):
    def __init__(
        self, config: Mapping[str, Any], topic: str, partition: int, offset: int,
        batch_size: int, tail: bool, end_idle: timedelta,
    ) -> None:  # fmt: skip
        self._consumer = Consumer(dict(config))
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._batch_size = batch_size
        self._tail = tail
        self._end_idle = end_idle
        self._eof = False
        self._awake: datetime | None = None
        self._last = datetime.now(UTC)
        self._lag = ConsumerLag(topic, partition)

    def next_batch(self) -> list[Batch]:
        with gc_paused():  # two objects per message: see gc_paused
            return self._next_batch()

    def _next_batch(self) -> list[Batch]:
        msgs = self._consumer.consume(self._batch_size, 0.0)
        batch: Batch = []
        topic, part = self._topic, self._partition
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._eof = True
                    continue
                if err.retriable():
                    continue
                raise ServiceError(f"reading {topic}[{part}]: {err}")
            ts_type, ts = m.timestamp()
            position = SourcePosition(topic, part, m.offset() or 0)
            batch.append(RawMessage(m.key(), m.value(), position, ts if ts_type else None))
        now = datetime.now(UTC)
        if batch:
            self._offset = batch[-1].source.offset + 1
        self._lag.update(self._consumer, self._offset)
        if batch:
            self._awake = None
            self._last = now
            return [batch]
        if self._eof and not self._tail and now - self._last > self._end_idle:
            raise StopIteration
        self._awake = now + _IDLE
        return []

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[Batch, int]):
    """Kafka topics as a stream of batches of ``RawMessage`` (see the module docstring).

    Example::

        source = KafkaBatchSource("127.0.0.1:9092", ["shop.cdc.public.orders"])
        batches = op.input("in", flow, source)
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        tail: bool = True,
        batch_size: int = 5000,
        config: Mapping[str, Any] | None = None,
        end_idle: timedelta = END_IDLE,
    ) -> None:
        if isinstance(topics, str):
            raise TypeError("topics must be a list of topic names, not a string")
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.tail = tail
        self.batch_size = batch_size
        self.config = dict(config or {})
        self.end_idle = end_idle

    def _consumer_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": "meshkit-streaming",  # required by librdkafka; no group join (assign)
            "enable.auto.commit": False,
            "enable.partition.eof": not self.tail,
            "fetch.wait.max.ms": 50,
            # librdkafka's default prefetch (queued.min.messages) is kept: a smaller one
            # caps how fast a consumer reads from the local broker (docs/benchmarks.md).
            # A new partition starts at offset 0 (see build_part); where that offset (or a
            # resumed one) is no longer in the log, start at the oldest message kept.
            "auto.offset.reset": "earliest",
            **self.config,
        }

    def list_parts(self) -> list[str]:
        admin = AdminClient(kafka_connection(self._consumer_config()))
        parts = []
        for topic in self.topics:
            meta = admin.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                why = meta.error.str() if meta is not None and meta.error else "no partitions"
                raise ConfigError(f"cannot read Kafka topic {topic!r}: {why}; is it created?")
            parts += [f"{p}-{topic}" for p in sorted(meta.partitions)]
        return parts

    def build_part(
        self,
        step_id: str,  # noqa: ARG002 - Bytewax's signature
        for_part: str,
        resume_state: int | None,
    ) -> _Partition:
        index, topic = for_part.split("-", 1)
        # Offset 0, not OFFSET_BEGINNING: librdkafka resolves a logical offset with an
        # offset query that holds up the first message by a large fraction of a second; a
        # log that no longer starts at 0 is reset to its start by auto.offset.reset.
        offset = 0 if resume_state is None else resume_state
        return _Partition(
            self._consumer_config(), topic, int(index), offset, self.batch_size, self.tail,
            self.end_idle,
        )  # fmt: skip


def cdc_topics(contract: Contract, port: str | None = None) -> list[str]:
    """The CDC topics a contract reads: all its CDC input ports, or the one named ``port``."""
    ports = [p for p in contract.ports.inputs if isinstance(p, CdcInput)]
    if port is not None:
        ports = [p for p in ports if p.port_name == port]
    return [p.name_in(contract) for p in ports]


def cdc_source(
    bootstrap_servers: str, contract: Contract, port: str | None = None, **options: Any
) -> KafkaBatchSource:
    """A source over a contract's CDC input topics (``<domain>.cdc.<schema>.<table>``)."""
    topics = cdc_topics(contract, port)
    if not topics:
        raise ConfigError(f"{contract.id} declares no CDC input port" + (
            f" named {port!r}" if port else ""))  # fmt: skip
    return KafkaBatchSource(bootstrap_servers, topics, **options)


def product_source(
    bootstrap_servers: str, contract: Contract, port: str | None = None, **options: Any
) -> KafkaBatchSource:
    """A source over the topics of the products a contract reads (``ProductInput`` ports)."""
    ports: Iterable[ProductInput] = [
        p for p in contract.ports.inputs if isinstance(p, ProductInput)
    ]
    topics = [p.address for p in ports if port is None or p.port_name == port]
    if not topics:
        raise ConfigError(f"{contract.id} reads no other product" + (
            f" through a port named {port!r}" if port else ""))  # fmt: skip
    return KafkaBatchSource(bootstrap_servers, topics, **options)
