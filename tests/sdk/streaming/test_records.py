"""Parsing Debezium envelopes and product-topic messages into typed change records."""

from __future__ import annotations

from pathlib import Path

import orjson

from meshkit.streaming import (
    ChangeRecord,
    Failure,
    RawMessage,
    SourcePosition,
    parse_envelope,
    parse_envelopes,
    parse_product_message,
)
from tests.sdk.streaming.helpers import envelope, key_bytes, message, row

DOC_EVENTS = Path(__file__).parents[2] / "fixtures" / "cdc" / "debezium_doc_events.json"


def test_debezium_documented_events_parse_to_typed_records() -> None:
    docs = orjson.loads(DOC_EVENTS.read_bytes())
    create = parse_envelope(message(docs["create"], 7, b'{"id": 1}'))
    assert isinstance(create, ChangeRecord)
    assert (create.op, create.before, create.after["first_name"]) == ("c", None, "Anne")
    assert create.position == 24023128  # source.lsn, not the offset
    assert create.tx_id == 555
    assert create.key == {"id": 1}
    assert create.ts_ms == 1559033904863  # the commit time from source
    delete = parse_envelope(message(docs["delete"], 8, b'{"id": 1}'))
    assert isinstance(delete, ChangeRecord)
    assert (delete.op, delete.after, delete.row) == ("d", None, {"id": 1})


def test_tombstones_are_counted_not_failed() -> None:
    batch = [
        message(envelope("c", None, row(1), 100), 0, key_bytes(1)),
        message(envelope("d", row(1), None, 110), 1, key_bytes(1)),
        message(None, 2, key_bytes(1)),
    ]
    parsed = parse_envelopes(batch)
    assert [r.op for r in parsed.records] == ["c", "d"]
    assert parsed.failures == []
    assert parsed.tombstones == 1


def test_poison_messages_become_failures_with_reason_and_position() -> None:
    cases = {
        b"{not json": "invalid JSON",
        b"[1, 2]": "a JSON list",
        orjson.dumps({"op": "x", "after": {}}): "'op' is text other than c, u, d, r or t",
        orjson.dumps({"op": "c", "after": None}): "without 'after'",
        orjson.dumps({"op": "u", "after": [1]}): "'after' must be an object",
        orjson.dumps({"op": "d", "before": None}): "a delete without 'before' or a key",
    }
    for offset, (raw, reason) in enumerate(cases.items()):
        out = parse_envelope(message(raw, offset))
        assert isinstance(out, Failure), raw
        assert reason in out.reason
        assert out.step == "parse"
        assert str(out.source) == f"shop.cdc.public.customers[0]@{offset}"


def test_schemas_enabled_payload_and_offset_position_without_lsn() -> None:
    value = {"schema": {}, "payload": {"op": "r", "before": None, "after": {"id": 3}}}
    out = parse_envelope(message(value, 42))
    assert isinstance(out, ChangeRecord)
    assert (out.op, out.position) == ("r", 42)


def test_product_messages_upsert_and_tombstone() -> None:
    src = SourcePosition("shop.customer.v1", 2, 9)
    up = parse_product_message(RawMessage(b'"c-1"', b'{"customer_id": "c-1"}', src))
    assert isinstance(up, ChangeRecord)
    assert (up.op, up.after, up.position) == ("u", {"customer_id": "c-1"}, 9)
    gone = parse_product_message(RawMessage(b'{"customer_id": "c-1"}', None, src))
    assert isinstance(gone, ChangeRecord)
    assert gone.op == "d"
    bad = parse_product_message(RawMessage(None, b"nope", src))
    assert isinstance(bad, Failure)
