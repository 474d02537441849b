"""The columnar path gives what the record path gives: same changes, same dead letters, in order.

Every batch here runs through ``Pipeline`` twice, columnar (the default for CDC) and
record by record (``columnar=False``), over the real masker and key store; the two must
agree exactly (records as Python values and as the JSON the Kafka port writes, dead
letters with their reasons and payloads, skipped counts, the order of changes).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract
from meshkit.ports.kafka import json_default
from meshkit.privacy import LocalKeyStore, Masker
from meshkit.streaming import Pipeline, PortBatch, RawMessage, SourcePosition
from meshkit.streaming.columnar import MASK_TABLE_MIN_ROWS
from tests.sdk.streaming.flowkit import OVERSIZED_LIMIT, customer_stream
from tests.sdk.streaming.helpers import TOPIC, envelope, key_bytes, row


def raws(messages: list[tuple[bytes | None, bytes | None]], topic: str = TOPIC) -> list[RawMessage]:
    return [RawMessage(k, v, SourcePosition(topic, 0, i)) for i, (k, v) in enumerate(messages)]


def outcome(batch: PortBatch) -> dict[str, Any]:
    return {
        "changes": [
            (c.op, c.key, repr(c.record), c.position, c.source, c.ts_ms) for c in batch.changes
        ],
        "json": [orjson.dumps(c.record, default=json_default) for c in batch.changes],
        # dead letters in message order (the record path groups them by step)
        "failures": sorted(
            ((f.source, f.step, f.reason, f.field, repr(f.payload)) for f in batch.failures),
            key=lambda f: f[0].offset,  # type: ignore[union-attr]
        ),
        "skipped": batch.skipped,
        "received": batch.received,
    }


def both(contract: Contract, masker: Masker, messages: list[RawMessage], **kw: Any) -> PortBatch:
    """The columnar batch, after checking it against the record path."""
    columnar = Pipeline(contract, masker, **kw)
    assert columnar.columnar is not None
    fast = columnar(messages)
    slow = Pipeline(contract, masker, columnar=False, **kw)(messages)
    assert outcome(fast) == outcome(slow)
    assert fast.received == len(fast.changes) + len(fast.failures) + fast.skipped
    return fast


def edge_cases() -> list[tuple[bytes | None, bytes | None]]:
    """One message of every kind the record path refuses, skips or turns into a delete."""
    out: list[tuple[bytes | None, bytes | None]] = []

    def add(value: Any, i: int = 9000) -> None:
        raw = orjson.dumps(value) if not isinstance(value, bytes | None) else value
        out.append((key_bytes(i), raw))

    add(envelope("c", None, row(9001, tier="gold"), 5001), 9001)  # accepted values
    add(envelope("c", None, row(9002, balance_cents_eur="-1.00"), 5002), 9002)  # range
    add(envelope("c", None, row(9003, email_address=None), 5003), 9003)  # required
    add(envelope("c", None, row(9004, id=None), 5004), 9004)  # key null
    add(envelope("u", None, row(9005, note="__debezium_unavailable_value"), 5005), 9005)
    add(envelope("c", None, row(9006, note="x" * (OVERSIZED_LIMIT + 1)), 5006), 9006)
    add(envelope("c", None, row(9007, signed_up_at="yesterday"), 5007), 9007)  # cast
    add(envelope("c", None, row(9008, phone=31612345678), 5008), 9008)  # a number as text
    add(envelope("c", None, row(9009, status="test"), 5009), 9009)  # filtered insert
    add(envelope("u", None, row(9010, status="test"), 5010), 9010)  # filtered update
    add(envelope("t", None, None, 5011) | {"after": None})  # truncate
    add(envelope("d", row(9012), None, 5012), 9012)  # delete
    add(None, 9012)  # its tombstone
    add(b"not json")
    add([1, 2, 3])
    add({"payload": envelope("c", None, row(9013), 5013)}, 9013)  # schemas.enable=true
    add(envelope("c", None, row(9014, note="mail me: jane.doe@mail.example.org"), 5014), 9014)
    add(envelope("c", None, row(9015), 5015) | {"source": None}, 9015)  # no LSN: the offset
    lsn_less = envelope("c", None, row(9016), 5016)
    lsn_less["source"] = {**lsn_less["source"], "lsn": "12", "ts_ms": None}
    add(lsn_less, 9016)  # position from the offset, time from the event
    add(envelope("c", None, row(9017, balance_cents_eur=12), 5017), 9017)  # number as decimal
    add(envelope("c", None, row(9018, birth_date="1990-02-03"), 5018), 9018)  # date as text
    add(envelope("c", "not a row", row(9019), 5019), 9019)  # before must be an object
    add(envelope("c", None, row(9020, id="9020"), 5020), 9020)  # text id
    add(envelope("c", None, row(9021, signed_up_at="2024-05-01T10:00:00"), 5021), 9021)  # naive
    add(envelope("c", None, row(9022, balance_cents_eur="NaN"), 5022), 9022)  # not finite
    add(envelope("c", None, row(9023, balance_cents_eur="12345678901.5"), 5023), 9023)  # range
    return out


@pytest.mark.parametrize("n", [40, MASK_TABLE_MIN_ROWS + 500])
def test_columnar_equals_record_path_on_a_stream_with_poison(
    contract: Contract, masker: Masker, n: int
) -> None:
    stream = customer_stream(n, customers=max(n // 3, 1), seed=n, poison=max(n // 50, 5))
    messages = stream.messages + edge_cases()
    random.Random(n).shuffle(messages)
    batch = both(contract, masker, raws(messages), max_value_bytes=OVERSIZED_LIMIT)
    steps = {f.step for f in batch.failures}
    assert {"parse", "map", "validate", "pii_guard"} <= steps
    assert len(batch.changes) > n // 2


def test_columnar_equals_record_path_for_clean_polls_of_every_size(
    contract: Contract, masker: Masker
) -> None:
    events = [
        (key_bytes(i), orjson.dumps(envelope("u" if i % 4 else "c", None, row(i), 100 + i)))
        for i in range(MASK_TABLE_MIN_ROWS + 10)
    ]
    for size in (1, 7, MASK_TABLE_MIN_ROWS - 1, MASK_TABLE_MIN_ROWS + 10):
        batch = both(contract, masker, raws(events[:size]))
        assert len(batch.changes) == size
        assert batch.failures == []
        assert all(c.record and c.record["email"].startswith("tok:") for c in batch.changes)


RULES = """
domain: rules
name: reading
version: 1.0.0
owner: {team: t, contact: t@example.com}
subject: reading_id
fields:
  - {name: reading_id, type: integer, required: true}
  - {name: code, type: string}
  - {name: score, type: float}
  - {name: level, type: integer}
  - {name: day, type: date}
  - {name: at, type: timestamp}
  - {name: amount, type: "decimal(6,2)"}
  - {name: label, type: string}
  - name: place
    type: struct
    fields:
      - {name: city, type: string, required: true}
      - {name: zip, type: string}
  - {name: tags, type: "array<string>"}
  - {name: secret, type: string, pii: other, transform: {kind: drop}}
  - {name: hint, type: string, pii: other, transform: {kind: redact}}
  - {name: mail, type: string, pii: email, transform: {kind: mask, keep_email_domain: true}}
  - {name: born, type: date, pii: date_of_birth, transform: {kind: generalize, to: month}}
primary_key: [reading_id]
quality:
  - {kind: regex, field: code, pattern: "[A-Z]{2}-[0-9]+"}
  - {kind: range, field: score, min: 0, max: 10}
  - {kind: range, field: day, min: "2020-01-01"}
  - {kind: range, field: at, max: "2030-01-01T00:00:00+00:00"}
  - {kind: range, field: amount, max: 500}
  - {kind: range, field: label, min: b, max: m}
  - {kind: accepted_values, field: level, values: [1, 2, 3]}
  - {kind: not_null, field: day}
  - {kind: not_null, field: place.zip, severity: warn}
ports:
  inputs: [{kind: cdc, name: src, database: db, schema: public, table: readings}]
  outputs: [{kind: kafka_topic}]
"""


def reading(rng: random.Random, i: int, bad: float) -> dict[str, Any]:
    def pick(good: Any, *wrong: Any) -> Any:
        return rng.choice(wrong) if wrong and rng.random() < bad else good

    return {
        "reading_id": pick(i, None, "x"),
        "code": pick(f"AB-{i}", "ab-1", "AB-1\n", None),
        "score": pick(rng.uniform(0, 10), -1.0, 11, "NaN", "inf", None),
        "level": pick(rng.choice([1, 2, 3]), 4, "2", True),
        "day": pick(18_500 + i % 500, 100, "2021-03-04", None),
        "at": pick(1_700_000_000_000 + i, "2031-01-01T00:00:00Z", "2024-01-01T00:00:00"),
        "amount": pick(f"{i % 400}.25", "600.00", "1e9", 7, "0.005"),
        "label": pick(rng.choice(["c", "d", "lemon"]), "a", "z", None),
        "place": pick({"city": "Delft", "zip": "2611"}, {"zip": "1"}, {"city": None}, "x"),
        "tags": pick(["a", "b"], "a", [1, None], None),
        "secret": "s3cret",
        "hint": pick("call me", None),
        "mail": pick(f"u{i}@example.com", "no-at", None, 5),
        "born": pick(7000 + i, None, "1980-05-17"),
    }


@pytest.mark.parametrize(("n", "bad"), [(60, 0.08), (MASK_TABLE_MIN_ROWS + 600, 0.004)])
def test_columnar_equals_record_path_for_every_rule_type_and_transform(
    keystore_dir: Path, n: int, bad: float
) -> None:
    """Small polls are masked record by record, large ones through ``mask_table``."""
    contract, problems = parse_contract(RULES)
    assert contract is not None, problems
    rng = random.Random(n)
    events = [envelope("c", None, reading(rng, i, bad), i) for i in range(n)]
    messages = [(orjson.dumps({"reading_id": i}), orjson.dumps(e)) for i, e in enumerate(events)]
    with LocalKeyStore.open(keystore_dir) as store:
        masker = Masker.from_contract(contract, store=store)
        batch = both(contract, masker, raws(messages, "db.cdc.public.readings"), guard=False)
    assert batch.failures
    assert {f.step for f in batch.failures} >= {"map", "validate"}
    assert len(batch.changes) >= (MASK_TABLE_MIN_ROWS if n > MASK_TABLE_MIN_ROWS else 1)
    for c in batch.changes:
        assert c.record is not None
        assert "secret" not in c.record
        assert c.record["hint"] in {None, "[REDACTED]"}


def test_a_batch_that_repeats_a_source_position_loses_nothing(
    contract: Contract, masker: Masker
) -> None:
    """Positions place the record path's outcomes; a hand-made batch may repeat one."""
    same = SourcePosition(TOPIC, 0, 7)
    values = [
        envelope("c", None, row(1), 100),
        envelope("c", None, row(2, tier="gold"), 101),
        envelope("c", None, row(3), 102),
    ]
    messages = [RawMessage(key_bytes(i), orjson.dumps(v), same) for i, v in enumerate(values)]
    batch = both(contract, masker, messages)
    assert [c.key for c in batch.changes] == [("1",), ("3",)]
    assert [f.step for f in batch.failures] == ["validate"]
