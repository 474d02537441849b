"""The dead-letter port of a product: every record a step refused, masked, with its reason.

Nothing is lost: a record that fails parsing, mapping, validation, masking, the PII
guard or a port's checks becomes a ``DeadLetter`` with the reason, the step, the source
position and its payload, and goes to the product's dead-letter topic
``<domain>.<product>.v<major>.deadletter`` (domain-private). A run's counts balance:
messages in = changes out + skipped (tombstones, filtered rows) + dead letters.

Personal data must not leak through this path either, so the payload is masked before it
is written (``mask_payload``): values of fields the contract declares as personal data
(by product field or by the source column mapped to it) are redacted, as is any text in
which the scanner finds personal data (whole or word by word); long text is cut to 256
characters; raw bytes that could not be parsed are not kept at all, only their length.

A letter's Kafka key is its source position and step, so a replay after a crash writes
the same key again (read the topic by key for an exactly-once view of it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from meshkit.contracts import Contract
from meshkit.errors import ServiceError
from meshkit.ports import DeadLetter as PortDeadLetter
from meshkit.ports.kafka import close_producer
from meshkit.privacy.detectors import detect
from meshkit.streaming.records import Failure

REDACTED = "[REDACTED]"
MAX_TEXT = 256
_WORD = re.compile(r"[^\s,;()<>\"']{5,}")


def dead_letter_topic(contract: Contract) -> str:
    """``<domain>.<product>.v<major>.deadletter``."""
    return f"{contract.address}.deadletter"


class PayloadMasker:
    """Masks dead-letter payloads of one contract (see the module docstring)."""

    def __init__(self, contract: Contract) -> None:
        personal = {path for path, spec in contract.field_index.items() if spec.pii}
        mapping = contract.mapping
        if mapping is not None:
            personal |= {mapping.source_of(p) for p in list(personal) if "." not in p}
        self.personal = frozenset(personal)

    def __call__(self, payload: Any) -> Any:
        if isinstance(payload, bytes | bytearray):
            return None
        return self._value(payload, "")

    def _value(self, value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                name = str(k)
                sub = name if path in {"", "before", "after"} else f"{path}.{name}"
                out[name] = (
                    REDACTED if (sub in self.personal and v is not None) else (self._value(v, sub))
                )
            return out
        if isinstance(value, list):
            return [self._value(v, path) for v in value]
        if isinstance(value, str):
            return self._text(value, path)
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self._text(str(value), path)

    def _text(self, text: str, path: str) -> str:
        name = path.rsplit(".", 1)[-1]
        if detect(text, name) is not None or any(
            detect(w, name) is not None for w in _WORD.findall(text[: MAX_TEXT * 4])
        ):
            return REDACTED
        if len(text) > MAX_TEXT:
            return f"{text[:MAX_TEXT]}... ({len(text):,} characters)"
        return text


@dataclass(frozen=True)
class DeadLetter:
    """One refused record as the dead-letter port stores it (payload already masked)."""

    product: str
    step: str
    reason: str
    source: str | None
    field: str | None
    payload: Any
    payload_bytes: int | None
    ts_ms: int

    @property
    def key(self) -> str:
        return f"{self.source}|{self.step}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "step": self.step,
            "reason": self.reason,
            "source": self.source,
            "field": self.field,
            "payload": self.payload,
            "payload_bytes": self.payload_bytes,
            "ts_ms": self.ts_ms,
        }


class DeadLetters:
    """Turns failures of one product into masked ``DeadLetter`` records."""

    def __init__(self, contract: Contract) -> None:
        self.product = contract.address
        self.mask = PayloadMasker(contract)

    def of(self, failure: Failure) -> DeadLetter:
        raw = failure.payload
        size = len(raw) if isinstance(raw, bytes | bytearray) else None
        return DeadLetter(
            self.product,
            failure.step,
            _short(failure.reason),
            None if failure.source is None else str(failure.source),
            failure.field,
            self.mask(raw),
            size,
            int(time.time() * 1000),
        )

    def of_port(self, port: str, letter: PortDeadLetter, failure_source: str | None) -> DeadLetter:
        """A change a port writer refused for good."""
        record = letter.change.record
        return DeadLetter(
            self.product,
            f"port:{port}",
            _short(letter.reason),
            failure_source,
            None,
            self.mask(dict(record) if record is not None else {"key": list(letter.change.key)}),
            None,
            int(time.time() * 1000),
        )


def _short(reason: str) -> str:
    return reason if len(reason) <= 1000 else reason[:1000] + "..."


class KafkaDeadLetterPort:
    """Writes dead letters to the product's dead-letter topic; ``flush`` confirms delivery."""

    def __init__(self, bootstrap_servers: str, topic: str, **config: Any) -> None:
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "linger.ms": 5,
                **config,
            }
        )
        self._failed: list[str] = []
        self._closed = False

    def ensure(self, partitions: int = 1) -> None:
        """Create the dead-letter topic when it does not exist (never alters one)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        if self.topic in admin.list_topics(timeout=10).topics:
            return
        new = NewTopic(self.topic, num_partitions=partitions, replication_factor=-1)
        try:
            admin.create_topics([new])[self.topic].result(15)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ServiceError(f"cannot create topic {self.topic}: {exc}") from exc
        self._producer.list_topics(self.topic, timeout=10)  # warm the metadata

    def _delivered(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self._failed.append(str(err))

    def write(self, letters: Sequence[DeadLetter]) -> None:
        produce = self._producer.produce
        for d in letters:
            value = orjson.dumps(d.as_dict(), default=str)
            while True:
                try:
                    produce(self.topic, value, d.key.encode(), on_delivery=self._delivered)
                    break
                except BufferError:
                    self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        if self._closed:  # close flushed everything
            return
        left = self._producer.flush(timeout)
        failed, self._failed = self._failed, []
        if left or failed:
            first = f" (first error: {failed[0]})" if failed else ""
            raise ServiceError(
                f"{self.topic}: {left + len(failed)} dead letters were not confirmed by Kafka"
                f"{first}; the run stops so that its position is not committed past them"
            )

    def close(self) -> None:
        """Flush, then release the producer (writing after ``close`` fails)."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        close_producer(self._producer)
