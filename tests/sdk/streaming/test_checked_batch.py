"""A pipeline's checked batch: the Kafka writer skips its re-check, and nothing else changes.

The ``Pipeline`` validates and masks every record, so the sink hands its changes to the
writers as a ``CheckedBatch`` of the contract, and a Kafka topic writer of that contract
does not check them again. What these tests hold:

- whatever a pipeline lets through passes the check the writer skips (random rows);
- a checked batch and the same changes as a plain list put identical messages on the
  topic (key, value bytes, headers, order), equal to the documented encoding;
- the guard stays for every other caller: a list, or a batch checked against another
  contract, is checked and refused as before; a pipeline whose masker changes a key
  field does not mark its batches as checked.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshkit.contracts import Contract
from meshkit.ports import CheckedBatch, Intake, KafkaTopicWriter, RecordRefusedError
from meshkit.ports.kafka import FORMAT_HEADER, json_default
from meshkit.privacy import Masker
from meshkit.streaming import Pipeline, PortBatch, RawMessage, SourcePosition
from meshkit.streaming.columnar import MASK_TABLE_MIN_ROWS
from tests.sdk.streaming.helpers import TOPIC, envelope, key_bytes, row

_rows = st.fixed_dictionaries(
    {
        "id": st.integers(0, 10**12),
        "email_address": st.emails(),
        "phone": st.one_of(st.none(), st.text("0123456789 +", min_size=5, max_size=15)),
        "birth_date": st.integers(-20_000, 20_000),
        "tier": st.sampled_from(["free", "plus", "pro"]),
        "balance_cents_eur": st.one_of(
            st.none(),
            st.decimals(0, 10**9, places=2, allow_nan=False).map(str),
            st.decimals(0, 10**6, places=1, allow_nan=False).map(str),
            st.integers(0, 10**9).map(str),
        ),
        "note": st.one_of(st.none(), st.text(max_size=30)),
        "signed_up_at": st.sampled_from(
            [
                "2024-05-01T10:00:00.000000Z",
                "2024-02-29T23:59:59.999999+02:00",
                "1999-12-31T00:00:00Z",
                "2024-05-01T10:00:00",
            ]
        ),
        "status": st.just("active"),
    }
)


def _messages(rows: list[dict[str, Any]]) -> list[RawMessage]:
    return [
        RawMessage(
            key_bytes(r["id"]),
            orjson.dumps(envelope("c", None, r, 100 + i)),
            SourcePosition(TOPIC, 0, i),
        )
        for i, r in enumerate(rows)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_rows, min_size=1, max_size=30), columnar=st.booleans())
def test_what_a_pipeline_lets_through_passes_the_check_the_writer_skips(
    contract: Contract, masker: Masker, rows: list[dict[str, Any]], columnar: bool
) -> None:
    batch = Pipeline(contract, masker, columnar=columnar)(_messages(rows))
    assert batch.checked is contract
    assert batch.changes, batch.failures  # these rows are all valid
    Intake(contract, "test").check(CheckedBatch(batch.changes, contract))  # raises if not


def _read(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list[Any]:
    """The first ``count`` messages of partition 0 (waits until they are there)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        out += [m for m in consumer.consume(10_000, 0.2) if m.error() is None]
    consumer.close()
    return out


def _documented(contract: Contract, batch: PortBatch) -> list[tuple[Any, ...]]:
    """The messages the module docstring of ``meshkit.ports.kafka`` describes."""
    fixed = [("meshkit-product", contract.id.encode()),
             ("meshkit-version", contract.version.encode()), (FORMAT_HEADER, b"json")]  # fmt: skip
    return [
        (
            c.key[0].encode(),
            orjson.dumps(c.record, default=json_default),
            [*fixed, ("meshkit-position", str(c.position).encode())],
        )
        for c in batch.changes
    ]


def test_a_checked_batch_and_a_list_put_identical_messages_on_the_topic(
    kafka_broker: str, contract: Contract, masker: Masker
) -> None:
    rows = [
        row(i, balance_cents_eur=b, note=n)
        for i, (b, n) in enumerate(
            [("0.00", None), ("12.5", "ünïcödé ✓"), ("999999.99", ""), (None, 'q"uote\\'),
             ("7", "x" * 300), ("-0.00", "tab\there")] * (MASK_TABLE_MIN_ROWS // 6 + 1)
        )
    ]  # fmt: skip  # enough rows for the masker's table path
    rows = [r for r in rows if r["balance_cents_eur"] != "-0.00"]  # the range rule: min 0
    batch = Pipeline(contract, masker)(_messages(rows))
    assert batch.checked is contract
    assert not batch.failures
    assert {type((c.record or {})["balance"]) for c in batch.changes} == {Decimal, type(None)}
    got = []
    for made in (CheckedBatch(batch.changes, contract), list(batch.changes)):
        topic = f"checked-{uuid.uuid4().hex[:8]}"
        writer = KafkaTopicWriter(kafka_broker, topic=topic)
        writer.ensure(contract)
        assert writer.write(made).written == len(rows)
        writer.close()
        messages = _read(kafka_broker, topic, len(rows))
        got.append([(m.key(), m.value(), m.headers()) for m in messages])
    assert got[0] == got[1] == _documented(contract, batch)


def test_the_guard_stays_for_lists_and_batches_of_another_contract(
    kafka_broker: str, contract: Contract, masker: Masker
) -> None:
    batch = Pipeline(contract, masker)(_messages([row(1)]))
    change = batch.changes[0]
    assert change.record is not None
    unmasked = change.with_record({**change.record, "email": "someone@example.com"})
    other = contract.model_copy(update={"version": "1.0.1"})
    writer = KafkaTopicWriter(kafka_broker, topic=f"guard-{uuid.uuid4().hex[:8]}")
    writer.ensure(contract)
    for made in ([unmasked], (unmasked,), CheckedBatch([unmasked], other)):
        with pytest.raises(RecordRefusedError, match="personal data not transformed"):
            writer.write(made)
    assert writer.write(CheckedBatch([change], contract)).written == 1
    writer.close()


def test_a_pipeline_that_masks_a_key_field_does_not_mark_its_batches_checked(
    contract: Contract, masker: Masker
) -> None:
    keyed = contract.model_copy(update={"primary_key": ["email"]})
    batch = Pipeline(keyed, masker)(_messages([row(1)]))
    assert batch.checked is None
    assert Pipeline(contract, masker)(_messages([row(1)])).checked is contract
