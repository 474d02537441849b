"""The masker: record path == batch path (property-based), errors name the field, canary."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.errors import PrivacyError, TransformError
from meshkit.privacy.generalize import Bucket, IpPrefix, PostalPrefix, TruncateTime
from meshkit.privacy.keys import LocalKeyStore
from meshkit.privacy.mask import EmailDomain, KeepLast, Redact
from meshkit.privacy.masker import FieldPlan, Masker

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("email_domain", pa.string()),
        ("phone", pa.string()),
        ("name", pa.string()),
        ("notes", pa.string()),
        ("born", pa.date32()),
        ("seen_at", pa.timestamp("us", "UTC")),
        ("income", pa.int64()),
        ("score", pa.float64()),
        ("ip", pa.string()),
        ("postcode", pa.string()),
        ("iban", pa.string()),
        ("loyalty_no", pa.int64()),
        ("amount", pa.float64()),
    ]
)
PLANS = [
    FieldPlan("email", "tokenize", key="customer"),
    FieldPlan("email_domain", "mask", kernel=EmailDomain()),
    FieldPlan("phone", "mask", kernel=KeepLast(4)),
    FieldPlan("name", "redact", kernel=Redact()),
    FieldPlan("notes", "drop"),
    FieldPlan("born", "generalize", kernel=TruncateTime("year")),
    FieldPlan("seen_at", "generalize", kernel=TruncateTime("month")),
    FieldPlan("income", "generalize", kernel=Bucket(10_000)),
    FieldPlan("score", "generalize", kernel=Bucket(0.5)),
    FieldPlan("ip", "generalize", kernel=IpPrefix()),
    FieldPlan("postcode", "generalize", kernel=PostalPrefix(2)),
    FieldPlan("iban", "encrypt", subject="customer_id"),
    FieldPlan("loyalty_no", "tokenize", key="customer"),
]


@pytest.fixture
def masker(store: LocalKeyStore) -> Masker:
    store.create_token_key("customer")
    return Masker(PLANS, store=store)


def maybe(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | s


records = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["c-1", "c-2", "c-3"]),
        "email": maybe(st.emails()),
        "email_domain": maybe(st.emails() | st.text(max_size=8)),
        "phone": maybe(st.text("0123456789 +-", max_size=14)),
        "name": maybe(st.text(max_size=10)),
        "notes": maybe(st.text(max_size=10)),
        "born": maybe(st.dates(min_value=date(1900, 1, 1))),
        "seen_at": maybe(st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC))),
        "income": maybe(st.integers(-(10**9), 10**9)),
        "score": maybe(st.floats(-1e6, 1e6)),
        "ip": maybe(st.ip_addresses().map(str)),
        "postcode": maybe(st.text(max_size=8)),
        "iban": maybe(st.text(max_size=30)),
        "loyalty_no": maybe(st.integers(0, 10**12)),
        "amount": maybe(st.floats(allow_nan=False)),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(records, max_size=12))
def test_record_path_equals_batch_path(masker: Masker, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    batch = masker.mask_table(table).to_pylist()
    assert batch == masker.mask_records(rows)
    assert "notes" not in masker.mask_table(table).column_names


def test_every_transform_changes_what_it_should(masker: Masker, store: LocalKeyStore) -> None:
    row = {
        "customer_id": "c-9", "email": "ada@example.com", "email_domain": "ada@example.com",
        "phone": "+31612345678", "name": "Ada Lovelace", "notes": "call after 5",
        "born": date(1990, 5, 17), "seen_at": datetime(2026, 3, 14, 15, 9, tzinfo=UTC),
        "income": 54_321, "score": 7.8, "ip": "192.0.2.77", "postcode": "1012 AB",
        "iban": "NL91ABNA0417164300", "loyalty_no": 123456789, "amount": 9.5,
    }  # fmt: skip
    out = masker.mask_record(row)
    assert out["customer_id"] == "c-9"
    assert out["amount"] == 9.5
    assert out["email"].startswith("tok:customer.1:")
    assert out["email_domain"] == "***@example.com"
    assert out["phone"] == "********5678"
    assert out["name"] == "[REDACTED]"
    assert "notes" not in out
    assert out["born"] == date(1990, 1, 1)
    assert out["seen_at"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert out["income"] == 50_000
    assert out["score"] == 7.5
    assert out["ip"] == "192.0.2.0"
    assert out["postcode"] == "10"
    assert SubjectCipher(store).decrypt(out["iban"], "iban") == "NL91ABNA0417164300"
    assert out["loyalty_no"].startswith("tok:customer.1:")


def test_wrong_types_name_the_field(masker: Masker) -> None:
    with pytest.raises(TransformError, match="field 'phone': mask applies to text, got int"):
        masker.mask_record({"customer_id": "c", "phone": 612345678})
    with pytest.raises(TransformError, match="field 'email': tokenize applies to text"):
        masker.mask_record({"customer_id": "c", "email": 1.5})
    table = pa.table({"customer_id": ["c"], "born": ["1990-05-17"]})
    with pytest.raises(TransformError, match="field 'born': generalize applies to dates"):
        masker.mask_table(table)
    with pytest.raises(TransformError, match="field 'iban': encrypt needs the data subject"):
        masker.mask_record({"customer_id": None, "iban": "NL91ABNA0417164300"})


def test_plans_are_checked(store: LocalKeyStore) -> None:
    with pytest.raises(PrivacyError, match="field 'x': encrypt needs the field that identifies"):
        Masker([FieldPlan("x", "encrypt")], store=store)
    with pytest.raises(PrivacyError, match="field 'x': unknown transform 'hash'"):
        Masker([FieldPlan("x", "hash")], store=store)
    with pytest.raises(PrivacyError, match="no token key 'nope'"):
        Masker([FieldPlan("x", "tokenize", key="nope")], store=store)


def test_erased_subjects_values_become_null(masker: Masker, store: LocalKeyStore) -> None:
    store.erase_subject("c-1")
    rows = [{"customer_id": "c-1", "iban": "NL91ABNA0417164300"}]
    fresh = Masker(PLANS, store=store)
    assert fresh.mask_records(rows) == [{"customer_id": "c-1", "iban": None}]
    assert fresh.mask_table(pa.Table.from_pylist(rows)).to_pylist() == [
        {"customer_id": "c-1", "iban": None}
    ]


CANARY = {
    "customer_id": "c-canary",
    "email": "canary.person@example.com",
    "email_domain": "canary.local@example.com",
    "phone": "+31 6 87654321",
    "name": "Carla Canary",
    "notes": "Carla lives at Kanaalstraat 12",
    "born": date(1987, 7, 23),
    "seen_at": datetime(2026, 2, 17, 8, 30, 11, tzinfo=UTC),
    "income": 87_654,
    "score": 3.14159,
    "ip": "203.0.113.219",
    "postcode": "3521 KZ",
    "iban": "NL91ABNA0417164300",
    "loyalty_no": 998877665544,
    "amount": 1.0,
}
RAW = [
    "canary.person", "canary.local", "87654321", "Carla", "Kanaalstraat", "1987-07-23",
    "1987, 7, 23", "08:30:11", "87654", "3.14159", "203.0.113.219", "3521 KZ",
    "NL91ABNA0417164300", "0417164300", "998877665544",
]  # fmt: skip


def test_canary_no_raw_value_survives_any_path(masker: Masker) -> None:
    table = pa.Table.from_pylist([CANARY, {**CANARY, "customer_id": "c-2"}], schema=SCHEMA)
    out_table = masker.mask_table(table)
    out_records = masker.mask_records([CANARY])
    parquet = io.BytesIO()
    pq.write_table(out_table, parquet, compression="none")
    blobs = {
        "batch (parquet bytes)": parquet.getvalue(),
        "batch (arrow ipc)": _ipc(out_table),
        "batch (python repr)": repr(out_table.to_pylist()).encode(),
        "record (json)": json.dumps(out_records, default=str).encode(),
        "record (python repr)": repr(out_records).encode(),
    }
    epoch = date(1970, 1, 1)
    seen = CANARY["seen_at"] - datetime(1970, 1, 1, tzinfo=UTC)
    binary = {  # how Arrow and Parquet store the raw numbers, dates and timestamps
        "income": struct.pack("<q", 87_654),
        "loyalty_no": struct.pack("<q", 998877665544),
        "score": struct.pack("<d", 3.14159),
        "born": struct.pack("<i", (date(1987, 7, 23) - epoch).days),
        "seen_at": struct.pack("<q", seen // datetime.resolution),
    }
    for where, blob in blobs.items():
        for raw in RAW:
            assert raw.encode() not in blob, f"{raw!r} leaked into the {where} output"
        for name, packed in binary.items():
            assert packed not in blob, f"raw {name} leaked into the {where} output"
    # The postcode's letters alone are too short to search for in binary output (two bytes
    # turn up in random ciphertext by chance), so they are checked in the column itself.
    for value in [*out_table.column("postcode").to_pylist(), out_records[0].get("postcode")]:
        assert value is None or "KZ" not in value
    assert b"c-canary" in blobs["record (json)"]  # the canary check does see unmasked fields


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
