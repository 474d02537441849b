"""The masker built from a contract's privacy declarations, and erasure's product report."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract
from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.erasure import erase, holdings_of, load_holdings
from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.keys import STATE_DIR_ENV, LocalKeyStore
from meshkit.privacy.masker import Masker

CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts" / "valid"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


CUSTOMER = Contract.model_validate(load("customer"))
ADDRESS = pa.struct(
    [("street", pa.string()), ("postal_code", pa.string()), ("city", pa.string()),
     ("country", pa.string())]
)  # fmt: skip
SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("full_name", pa.string()),
        ("birth_date", pa.date32()),
        ("phone", pa.string()),
        ("tier", pa.string()),
        ("address", ADDRESS),
        ("interests", pa.list_(pa.string())),
        ("signed_up_at", pa.timestamp("us", "UTC")),
    ]
)


@pytest.fixture
def masker(store: LocalKeyStore) -> Masker:
    store.create_token_key("customer")
    return Masker.from_contract(CUSTOMER, store=store)


address = st.none() | st.fixed_dictionaries(
    {
        "street": st.none() | st.text(max_size=12),
        "postal_code": st.none() | st.text(max_size=8),
        "city": st.none() | st.text(max_size=8),
        "country": st.sampled_from(["NL", "DE"]),
    }
)
customers = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["c-1", "c-2", "c-3", "c-4"]),
        "email": st.emails(),
        "full_name": st.none() | st.text(max_size=16),
        "birth_date": st.none() | st.dates(min_value=date(1900, 1, 1)),
        "phone": st.none() | st.text("0123456789+ ", max_size=14),
        "tier": st.sampled_from(["gold", "silver"]),
        "address": address,
        "interests": st.none() | st.lists(st.text(max_size=5), max_size=3),
        "signed_up_at": st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(customers, max_size=10))
def test_contract_masker_record_equals_batch(masker: Masker, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    assert masker.mask_table(table).to_pylist() == masker.mask_records(rows)


def test_contract_transforms_including_struct_members(masker: Masker, store: LocalKeyStore) -> None:
    row = {
        "customer_id": "c-42", "email": "ada@example.com", "full_name": "Ada Lovelace",
        "birth_date": date(1990, 5, 17), "phone": "+31612345678", "tier": "gold",
        "address": {"street": "Kanaalstraat 12", "postal_code": "3521 KZ", "city": "Utrecht",
                    "country": "NL"},
        "interests": ["tea"], "signed_up_at": datetime(2026, 1, 2, tzinfo=UTC),
    }  # fmt: skip
    out = masker.mask_record(row)
    assert out["email"].startswith("tok:customer.1:")
    assert out["birth_date"] == date(1990, 1, 1)
    assert out["phone"] == "********5678"
    assert out["address"] == {"postal_code": "3521", "city": "Utrecht", "country": "NL"}
    assert SubjectCipher(store).decrypt(out["full_name"], "full_name") == "Ada Lovelace"
    batch = masker.mask_table(pa.Table.from_pylist([row], schema=SCHEMA))
    assert batch.schema.field("address").type.names == ["postal_code", "city", "country"]
    assert batch.to_pylist() == [out]
    # the canary: no raw personal value in the Parquet bytes of the output
    buf = io.BytesIO()
    pq.write_table(batch, buf, compression="none")
    for raw in ["ada@example.com", "Ada Lovelace", "Kanaalstraat", "12345678", "3521 KZ"]:
        assert raw.encode() not in buf.getvalue()


def test_transforms_inside_array_of_struct_are_refused(store: LocalKeyStore) -> None:
    data = load("order")
    lines = next(f for f in data["fields"] if f["name"] == "lines")
    lines["fields"][0].update(pii="other", transform={"kind": "redact"})
    contract = Contract.model_validate(data)
    with pytest.raises(PrivacyError, match=r"field 'lines\.sku': transforms inside array<struct>"):
        Masker.from_contract(contract, store=store)


def test_holdings_and_erasure_report(store: LocalKeyStore) -> None:
    customer = holdings_of(CUSTOMER)
    assert customer.subject_field == "customer_id"
    assert customer.encrypted_fields == ("full_name",)
    assert customer.other_personal_fields == ("email", "birth_date", "phone", "address.postal_code")
    order = holdings_of(Contract.model_validate(load("order")))
    assert (order.subject_field, order.encrypted_fields) == ("customer_id", ("gift_message",))
    assert order.ports == ("orders.order.v2", "orders.order_v2")
    quiet = copy.deepcopy(load("order"))
    quiet["name"] = "stock"
    quiet["fields"] = [
        f for f in quiet["fields"] if f["name"] not in {"shipping_ip", "gift_message"}
    ]
    report = erase(store, "c-42", [customer, order, holdings_of(Contract.model_validate(quiet))])
    assert [p.product for p in report.products] == ["customers.customer", "orders.order"]


def test_erase_cli_reports_products(
    tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(
        app,
        [
            "privacy",
            "erase",
            "--subject",
            "c-42",
            "--contracts",
            str(CONTRACTS),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [p["product"] for p in doc["products"]] == ["customers.customer", "orders.order"]
    assert doc["products"][0]["unreadable_fields"] == ["full_name"]
    table = CliRunner().invoke(
        app, ["privacy", "erase", "--subject", "c-7", "--contracts", str(CONTRACTS)]
    )
    assert "customers.customer" in table.output
    assert "gift_message" in table.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("domain: [unclosed", encoding="utf-8")
    failed = CliRunner().invoke(
        app, ["privacy", "erase", "--subject", "c-1", "--contracts", str(bad)]
    )
    assert failed.exit_code == 1
    assert "x.yaml: invalid contract" in str(failed.exception)
    assert "x.yaml:2:1: error: invalid YAML" in str(failed.exception)


def test_load_holdings_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="not a directory of contracts"):
        load_holdings(tmp_path / "missing")


def test_scan_with_a_contract_flags_only_undeclared_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    sample = tmp_path / "customers.csv"
    sample.write_text(
        "customer_id,email,tier,comment\n"
        "c-1,ada@example.com,gold,call +31 6 12345678\n"
        "c-2,bob@example.org,silver,+31 6 87654321\n",
        encoding="utf-8",
    )
    args = ["privacy", "scan", str(sample), "--contract", str(CONTRACTS / "customer.yaml")]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    findings = {f["field"]: f for f in json.loads(result.output)[str(sample)]}
    assert findings["email"]["declared"] == "email"
    assert not findings["email"]["undeclared"]
    assert findings["comment"]["undeclared"]
    # both comments hold a phone number: one whole, one inside a sentence
    assert findings["comment"]["categories"][0]["share"] == 1.0
    assert CliRunner().invoke(app, [*args, "--fail-on-undeclared"]).exit_code == 1
    declared_only = tmp_path / "declared.csv"
    declared_only.write_text("email,tier\nada@example.com,gold\n", encoding="utf-8")
    ok = ["privacy", "scan", str(declared_only), "--contract", str(CONTRACTS / "customer.yaml")]
    assert CliRunner().invoke(app, [*ok, "--fail-on-undeclared"]).exit_code == 0


def test_guard_for_a_contract_allows_its_declared_fields() -> None:
    from meshkit.privacy.scanner import guard_for

    guard = guard_for(CUSTOMER)
    assert guard.check({"customer_id": "c-1", "phone": "+31 6 12345678"}).ok
    bad = guard.check({"customer_id": "c-1", "tier": "ada@example.com"})
    assert bad.fields == {"tier": "email"}


@pytest.mark.parametrize(
    ("typ", "values"),
    [
        (pa.string(), ["NL91ABNA0417164300", None]),
        (pa.binary(), [b"\x00\x01secret", None]),
        (pa.int64(), [123456789, None]),
        (pa.date32(), [date(1990, 5, 17), None]),
    ],
)
def test_encrypt_every_encryptable_type_on_both_paths(
    store: LocalKeyStore, typ: pa.DataType, values: list[Any]
) -> None:
    from meshkit.privacy.masker import FieldPlan

    masker = Masker([FieldPlan("v", "encrypt", subject="s")], store=store)
    rows = [{"s": "c-1", "v": v} for v in values]
    table = pa.Table.from_pylist(rows, schema=pa.schema([("s", pa.string()), ("v", typ)]))
    batch = masker.mask_table(table).to_pylist()
    assert batch == masker.mask_records(rows)
    assert SubjectCipher(store).decrypt(batch[0]["v"], "v") == values[0]
    assert batch[1]["v"] is None
