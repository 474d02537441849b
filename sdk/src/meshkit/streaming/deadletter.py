"""The dead-letter port of a product: every record a step refused, masked, with its reason.

Nothing is lost: a record that fails parsing, mapping, validation, masking, the PII
guard or a port's checks becomes a ``DeadLetter`` with the reason, the step, the source
position and its payload, and goes to the product's dead-letter topic
``<domain>.<product>.v<major>.deadletter`` (domain-private). A run's counts balance:
messages in = changes out + skipped (tombstones, filtered rows) + dead letters.

Personal data must not leak through this path either. A letter's reason names the field,
its declared type and the kind of problem, never a value (the steps, the casts, the
transforms and the port writers word their errors that way). Its payload is an
allow-list (``PayloadMasker``), whatever step refused the record:

- only the product's fields: a source row (parse and map failures) is projected through
  the contract's mapping onto the product's field names, so nothing of a source column
  the product does not map (an ``ssn``, a ``street``, a salary) is kept, whatever its
  type; keys a product record has but the contract does not declare are left out too;
- a non-personal field keeps its value (its raw source value when the cast refused it),
  unless the scanner finds personal data in its text (whole or word by word): then it is
  ``[REDACTED]``; long text is cut to 256 characters;
- a personal field (or a struct with personal members) holds its value after the
  field's own transform (a token, a masked or generalized value) when the letters are
  made with the product's masker and the transform takes the value, else
  ``[REDACTED]``; a field the contract drops is left out. In records a step refused after
  masking (the PII guard, a port) the values are already transformed: they are kept, but
  text is scanned again and the field a port refused as untransformed is redacted;
- raw bytes that could not be parsed are not kept at all, only their length; an event
  that is not a JSON object keeps nothing.

A letter's Kafka key is its source position and step, so a replay after a crash writes
the same key again (read the topic by key for an exactly-once view of it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from meshkit.contracts import Contract
from meshkit.contracts import Mapping as FieldMapping
from meshkit.errors import ServiceError
from meshkit.ports import DeadLetter as PortDeadLetter
from meshkit.ports.kafka import close_producer
from meshkit.privacy import Masker
from meshkit.privacy.detectors import detect
from meshkit.settings import kafka_connection
from meshkit.streaming.records import Failure
from meshkit.streaming.steps import MapStep

REDACTED = "[REDACTED]"
MAX_TEXT = 256
_WORD = re.compile(r"[^\s,;()<>\"']{5,}")


def dead_letter_topic(contract: Contract) -> str:
    """``<domain>.<product>.v<major>.deadletter``."""
    return f"{contract.address}.deadletter"


Shape = Literal["source", "record", "masked"]
"""What a payload holds: a source event or row, a product record before its transforms,
or a product record after them."""
_SOURCE_STEPS = frozenset({"parse", "map"})
_MASKED_STEPS = frozenset({"pii_guard"})
_ENVELOPE = frozenset({"op", "before", "after", "payload"})
_OPS = frozenset("cudrt")


def shape_of(step: str) -> Shape:
    """The payload shape of a failure of ``step`` (parse and map: source; the guard and the
    ports: masked; every other step: a product record before its transforms)."""
    if step in _SOURCE_STEPS:
        return "source"
    if step in _MASKED_STEPS or step.startswith("port:"):
        return "masked"
    return "record"


class PayloadMasker:
    """Makes dead-letter payloads of one contract (an allow-list: the module docstring).

    ``masker``: the product's masker, so personal fields show their transformed values;
    without it they are redacted.
    """

    def __init__(self, contract: Contract, masker: Masker | None = None) -> None:
        personal = {path for path, spec in contract.field_index.items() if spec.pii}
        self.personal = frozenset(personal)
        self.masker = masker
        self.fields = {f.name: f for f in contract.fields}
        self.protected = frozenset(p.split(".")[0] for p in personal)
        mapping = contract.mapping or FieldMapping()
        self.sources = {f.name: mapping.source_of(f.name) for f in contract.fields}
        self.casts = {name: cast for name, _src, cast in MapStep(contract).plan}
        self.subjects: dict[str, str] = {}
        for name in self.protected:
            subject = contract.subject_of(self.fields[name])
            if subject is not None and subject.split(".")[0] != name:
                self.subjects[name] = subject.split(".")[0]
        self.key = tuple(contract.primary_key)

    def __call__(self, payload: Any, shape: Shape = "record", refused: str | None = None) -> Any:
        """The payload as a dead letter keeps it (``refused``: a field a port refused)."""
        if not isinstance(payload, Mapping):
            return None  # raw bytes, or JSON that is no object: nothing of it is kept
        if shape == "source":
            if _ENVELOPE.intersection(payload):
                return self._envelope(payload)
            return self._source_row(payload)
        if shape == "masked":
            return self._masked(payload, refused)
        return self._record(payload)

    def key_values(self, key: Sequence[Any]) -> list[Any]:
        """A change's key as a letter keeps it (personal key fields redacted)."""
        return [
            REDACTED if name in self.protected and v is not None else self._value(v, name)
            for name, v in zip(self.key, key, strict=False)
        ]

    # -- shapes -----------------------------------------------------------------------------

    def _envelope(self, event: Mapping[str, Any]) -> dict[str, Any]:
        inner = event.get("payload")
        if "op" not in event and isinstance(inner, Mapping):
            event = inner  # JsonConverter with schemas.enable=true
        op = event.get("op")
        out: dict[str, Any] = {"op": op if type(op) is str and op in _OPS else None}
        for image in ("before", "after"):
            row = event.get(image)
            out[image] = self._source_row(row) if isinstance(row, Mapping) else None
        return out

    def _source_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A source row projected onto the product's fields (nothing of unmapped columns)."""
        out: dict[str, Any] = {}
        sources = self.sources
        for name in self.fields:
            src = sources[name]
            if src not in row:
                continue
            value = row[src]
            if name not in self.protected:
                out[name] = self._value(value, name)
                continue
            subject = self.subjects.get(name)
            subject_value = None
            if subject is not None and sources[subject] in row:
                subject_value = partial(self._cast, subject, row[sources[subject]])
            self._transformed(out, name, partial(self._cast, name, value), subject, subject_value)
        return out

    def _cast(self, field: str, value: Any) -> Any:
        return None if value is None else self.casts[field](value)

    def _record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A product record before its transforms: personal fields transformed now."""
        out: dict[str, Any] = {}
        for name, value in record.items():
            if name not in self.fields:
                continue
            if name not in self.protected:
                out[name] = self._value(value, name)
                continue
            subject = self.subjects.get(name)
            subject_value = None
            if subject is not None and subject in record:
                subject_value = partial(record.get, subject)
            self._transformed(out, name, partial(record.get, name), subject, subject_value)
        return out

    def _masked(self, record: Mapping[str, Any], refused: str | None) -> dict[str, Any]:
        """A product record after its transforms: kept, but scanned, and the field a port
        refused as untransformed redacted."""
        out: dict[str, Any] = {}
        top = None if refused is None else refused.split(".")[0]
        for name, value in record.items():
            if name not in self.fields:
                continue
            if value is not None and name == top and name in self.protected:
                out[name] = REDACTED
            elif name in self.personal and not isinstance(value, Mapping | list):
                out[name] = self._text(value, name) if isinstance(value, str) else value
            else:
                out[name] = self._value(value, name)
        return out

    def _transformed(
        self,
        out: dict[str, Any],
        name: str,
        value: Callable[[], Any],
        subject: str | None,
        subject_value: Callable[[], Any] | None,
    ) -> None:
        """``out[name]``: the personal field's value after its transform, or redacted.

        ``value`` and ``subject_value`` (the data subject's field, for ``encrypt``) give
        the values as the masker takes them; any error (a cast, a transform) redacts.
        """
        try:
            raw = value()
            if raw is None:
                out[name] = None
                return
            if self.masker is None:
                out[name] = REDACTED
                return
            record = {name: raw}
            if subject is not None and subject_value is not None:
                record[subject] = subject_value()
            masked = self.masker.mask_record(record)
        except Exception:  # any failure: the value is not shown
            out[name] = REDACTED
            return
        if name in masked:  # else the contract drops the field
            out[name] = masked[name]

    # -- values -----------------------------------------------------------------------------

    def _value(self, value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                sub = f"{path}.{k}"
                out[str(k)] = REDACTED if (sub in self.personal and v is not None) else (
                    self._value(v, sub)
                )  # fmt: skip
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

    def __init__(self, contract: Contract, *, masker: Masker | None = None) -> None:
        """``masker``: the product's masker, so that a letter shows personal fields after
        their transforms (without it, they are redacted)."""
        self.product = contract.address
        self.contract = contract
        self.mask = PayloadMasker(contract, masker)

    def of(self, failure: Failure) -> DeadLetter:
        raw = failure.payload
        size = len(raw) if isinstance(raw, bytes | bytearray) else None
        return DeadLetter(
            self.product,
            failure.step,
            _short(failure.reason),
            None if failure.source is None else str(failure.source),
            failure.field,
            self.mask(raw, shape_of(failure.step)),
            size,
            int(time.time() * 1000),
        )

    def of_port(
        self,
        port: str,
        letter: PortDeadLetter,
        failure_source: str | None,
        field: str | None = None,
    ) -> DeadLetter:
        """A change a port writer refused for good (``field``: the field it refused)."""
        record = letter.change.record
        payload = (
            self.mask(record, "masked", field)
            if record is not None
            else {"key": self.mask.key_values(letter.change.key)}
        )
        return DeadLetter(
            self.product,
            f"port:{port}",
            _short(letter.reason),
            failure_source,
            field,
            payload,
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
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "linger.ms": 5,
            **config,
        }
        self._producer = Producer(self._config)
        self._failed: list[str] = []
        self._closed = False

    def ensure(self, partitions: int = 1) -> None:
        """Create the dead-letter topic when it does not exist (never alters one)."""
        admin = AdminClient(kafka_connection(self._config))
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
