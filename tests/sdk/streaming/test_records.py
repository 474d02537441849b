"""Parsing Debezium envelopes and product-topic messages into typed change records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from meshkit.ports import Change
from meshkit.ports.kafka import encode_key, json_default
from meshkit.privacy import Masker
from meshkit.streaming import (
    ChangeRecord,
    Failure,
    Pipeline,
    ProductKey,
    RawMessage,
    SourcePosition,
    parse_envelope,
    parse_envelopes,
    parse_product_message,
)
from tests.sdk.streaming.helpers import envelope, key_bytes, load, message, row

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


# -- keys of product topics, as meshkit's Kafka writer writes them ------------------------

LINES = SourcePosition("shop.order_line.v1", 0, 5)


def written(key: tuple[object, ...], record: dict[str, object] | None) -> RawMessage:
    """The message the Kafka writer puts on a topic for a change of ``key``."""
    change = Change("delete" if record is None else "upsert", key, record, 5)
    value = None if record is None else orjson.dumps(change.record, default=json_default)
    return RawMessage(encode_key(change.key), value, LINES)


def test_the_consuming_contract_names_the_upstream_key_fields() -> None:
    key = ProductKey.of(load("article_stock"))  # sku: article_id
    assert (key.names, key.text) == (("article_id",), frozenset({"article_id"}))
    assert ProductKey.of(load("order_line_copy")).names == ("order_id", "line_no")


def test_a_composite_key_is_the_json_array_zipped_with_the_names() -> None:
    key = ProductKey.of(load("order_line_copy"))
    gone = parse_product_message(written(("o-1", 3), None), key=key)
    assert isinstance(gone, ChangeRecord)
    assert (gone.op, gone.key, gone.before) == ("d", {"order_id": "o-1", "line_no": 3}, gone.key)
    up = parse_product_message(
        written(("o-1", 3), {"order_id": "o-1", "line_no": 3, "quantity": 2}), key=key
    )
    assert isinstance(up, ChangeRecord)
    assert (up.op, up.key) == ("u", {"order_id": "o-1", "line_no": 3})


def test_a_one_field_key_is_its_text_unquoted_for_a_field_not_read_as_text() -> None:
    as_text = ProductKey(["id"], text=["id"])
    typed = ProductKey(["id"])
    assert as_text.decode(encode_key(("a-1",))) == {"id": "a-1"}
    assert as_text.decode(b'"quoted"') == {"id": '"quoted"'}  # a string is its exact text
    assert typed.decode(encode_key((42,))) == {"id": "42"}  # the mapping casts the text
    assert typed.decode(encode_key((date(2024, 5, 1),))) == {"id": "2024-05-01"}
    assert typed.decode(encode_key((Decimal("12.50"),))) == {"id": "12.50"}
    assert typed.decode(b'{"id": 7}') == {"id": 7}  # a Debezium-style key
    assert as_text.decode(b'{"other": 7}') == {"id": '{"other": 7}'}
    assert typed.decode(b"\xff\xfe") is None


@pytest.mark.parametrize(
    "raw", [b"o-secret-1", b'["o-secret-1"]', b'["o-secret-1", 2, 3]', b'"o-secret-1"', b"\xff"]
)
def test_an_unreadable_key_is_refused_by_position_without_its_value(raw: bytes) -> None:
    key = ProductKey.of(load("order_line_copy"))
    for value in (None, b'{"order_id": "o-secret-1", "line_no": 1, "quantity": 1}'):
        out = parse_product_message(RawMessage(raw, value, LINES), key=key)
        assert isinstance(out, Failure), raw
        assert out.step == "parse"
        assert str(out.source) == "shop.order_line.v1[0]@5"
        assert "a JSON array of 2 values (order_id, line_no)" in out.reason
        assert "secret" not in out.reason
        if value is None:
            assert out.payload is None


def test_an_upsert_whose_key_is_not_its_records_key_is_refused() -> None:
    """The consuming contract's key maps from fields that are not the upstream's key: its
    tombstones would delete the wrong rows, so its upserts say so."""
    key = ProductKey(["customer_id"], text=["customer_id"])  # but the topic is keyed by order
    out = parse_product_message(
        RawMessage(b"o-1", b'{"order_id": "o-1", "customer_id": "c-9"}', LINES), key=key
    )
    assert isinstance(out, Failure)
    assert "must map from the upstream product's primary key" in out.reason
    assert "o-1" not in out.reason
    assert "c-9" not in out.reason
    ok = parse_product_message(
        RawMessage(encode_key((7,)), b'{"customer_id": 7}', LINES), key=ProductKey(["customer_id"])
    )
    assert isinstance(ok, ChangeRecord)


def test_a_product_pipeline_turns_the_writers_tombstones_into_deletes() -> None:
    contract = load("order_line_copy")
    batch = Pipeline(contract, Masker.from_contract(contract), source="product")(
        [
            written(("o-1", 3), {"order_id": "o-1", "line_no": 3, "quantity": 2}),
            written(("o-1", 3), None),
        ]
    )
    assert batch.failures == []
    assert [(c.op, c.key, c.record) for c in batch.changes] == [
        ("upsert", ("o-1", 3), {"order": "o-1", "line": 3, "qty": 2}),
        ("delete", ("o-1", 3), None),
    ]
