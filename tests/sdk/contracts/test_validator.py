"""The runtime validator: valid records out, every failure with index and field, no raising."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from meshkit.contracts import Contract, load_contract
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.validator import ContractValidator, Failure

VALID = Path(__file__).parents[2] / "fixtures" / "contracts" / "valid"


@pytest.fixture(scope="module")
def customers() -> ContractValidator:
    return ContractValidator(load_contract(VALID / "customer.yaml"))


def customer(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "customer_id": "c-1",
        "email": "ada@example.com",
        "full_name": "Ada Lovelace",
        "birth_date": "1815-12-10",
        "tier": "pro",
        "lifetime_value": "1234.50",
        "address": {"street": "Main 1", "postal_code": "2611 AB", "city": "Delft", "country": "NL"},
        "interests": ["maths", "engines"],
        "signed_up_at": "2024-03-01T10:00:00Z",
        "updated_at": datetime(2024, 3, 2, 9, 0, tzinfo=UTC),
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def reasons(result_failures: list[Failure]) -> list[tuple[int, str, str]]:
    return [(f.index, f.field, f.message) for f in result_failures]


def test_a_valid_record_comes_back_with_python_values(customers: ContractValidator) -> None:
    result = customers.validate_record(customer())
    assert result.ok
    assert result.failures == []
    record = result.record
    assert record is not None
    assert record["birth_date"] == date(1815, 12, 10)
    assert record["lifetime_value"] == Decimal("1234.50")
    assert record["signed_up_at"] == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert record["address"]["city"] == "Delft"


def test_optional_fields_may_be_absent_or_null(customers: ContractValidator) -> None:
    result = customers.validate_record(
        customer(full_name=None, birth_date=..., interests=..., address={"country": "BE"})
    )
    assert result.ok, result.failures


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"customer_id": ...}, "customer_id", "required field is missing"),
        ({"customer_id": None}, "customer_id", "Input should be a valid string"),
        ({"email": None}, "email", "Input should be a valid string"),
        ({"tier": "gold"}, "tier", "Input should be 'free', 'plus' or 'pro'"),
        (
            {"lifetime_value": "12.345"},
            "lifetime_value",
            "Decimal input should have no more than 2 decimal places",
        ),
        (
            {"lifetime_value": "12345678901.00"},
            "lifetime_value",
            "Decimal input should have no more than 10 digits before the decimal point",
        ),
        ({"lifetime_value": -1}, "lifetime_value", "Input should be greater than or equal to 0"),
        ({"signed_up_at": "2024-03-01T10:00"}, "signed_up_at", "Input should have timezone info"),
        ({"birth_date": "10/12/1815"}, "birth_date", "Input should be a valid date or datetime, "
         "invalid character in year"),
        ({"interests": "maths"}, "interests", "Input should be a valid list"),
        ({"interests": ["maths", 3]}, "interests[1]", "Input should be a valid string"),
        ({"address": {"city": "Delft"}}, "address.country", "required field is missing"),
        (
            {"address": {"country": "nl"}},
            "address.country",
            "does not match the pattern ^[A-Z]{2}$",
        ),
        ({"address": {"country": "NL", "planet": "Earth"}}, "address.planet",
         "field not declared in the contract"),
        ({"shoe_size": 44}, "shoe_size", "field not declared in the contract"),
    ],
)  # fmt: skip
def test_each_rule_is_enforced(
    customers: ContractValidator, changes: dict[str, Any], field: str, message: str
) -> None:
    result = customers.validate_record(customer(**changes), index=7)
    assert result.record is None
    assert reasons(result.failures) == [(7, field, message)]


def test_batch_keeps_the_valid_records_in_order_and_reports_the_rest(
    customers: ContractValidator,
) -> None:
    records = [
        customer(customer_id="a"),
        customer(customer_id="b", tier="gold", email=...),
        "not a record",
        customer(customer_id="d"),
        None,
    ]
    result = customers.validate_batch(records)
    assert [r["customer_id"] for r in result.valid] == ["a", "d"]
    assert result.valid_indices == [0, 3]
    assert result.failed_indices == [1, 2, 4]
    assert reasons(result.failures) == [
        (1, "email", "required field is missing"),
        (1, "tier", "Input should be 'free', 'plus' or 'pro'"),
        (2, "", "Input should be a valid dictionary"),
        (4, "", "Input should be a valid dictionary"),
    ]
    assert len(result.valid) + len(result.failed_indices) == len(records)


def test_failures_never_carry_the_value(customers: ContractValidator) -> None:
    result = customers.validate_record(customer(email=12345, tier="secret-tier"))
    text = repr(result.failures)
    assert "12345" not in text
    assert "secret-tier" not in text


def test_an_empty_batch_and_a_generator(customers: ContractValidator) -> None:
    assert customers.validate_batch([]).valid == []
    result = customers.validate_records(customer(customer_id=str(i)) for i in range(3))
    assert result.valid_indices == [0, 1, 2]


def test_pyarrow_table(customers: ContractValidator) -> None:
    table = pa.Table.from_pylist(
        [customer(), customer(tier="gold")],
    )
    result = customers.validate_table(table)
    assert result.valid_indices == [0]
    assert reasons(result.failures) == [(1, "tier", "Input should be 'free', 'plus' or 'pro'")]


def contract(fields: str, quality: str = "[]") -> Contract:
    text = (
        "domain: d\nname: p\nversion: 1.0.0\nowner: {team: t, contact: t@example.com}\n"
        f"fields:\n{fields}\nquality: {quality}\n"
    )
    c, problems = parse_contract(text)
    assert c is not None, problems
    return c


def test_ranges_on_dates_timestamps_and_text_and_patterns() -> None:
    c = contract(
        "  - {name: day, type: date}\n"
        "  - {name: at, type: timestamp}\n"
        "  - {name: code, type: string}\n"
        "  - {name: ref, type: string}\n"
        "  - {name: ratio, type: float}\n",
        "[{kind: range, field: day, min: 2020-01-01, max: 2020-12-31},"
        " {kind: range, field: at, min: '2020-01-01T00:00:00+00:00'},"
        " {kind: range, field: code, min: B, max: D},"
        " {kind: regex, field: ref, pattern: '[a-w]\\w*'},"
        " {kind: range, field: ratio, min: 0, max: 1}]",
    )
    v = ContractValidator(c)
    ok = {"day": "2020-06-01", "at": "2020-06-01T00:00:00+02:00", "code": "C", "ref": "abc",
          "ratio": 0.5}  # fmt: skip
    assert v.validate_record(ok).ok
    bad = {"day": "2021-01-01", "at": datetime(2019, 12, 31, 23, tzinfo=timezone(timedelta(0))),
           "code": "E", "ref": "xyz", "ratio": float("nan")}  # fmt: skip
    assert reasons(v.validate_record(bad).failures) == [
        (0, "day", "Input should be less than or equal to 2020-12-31"),
        (0, "at", "Input should be greater than or equal to 2020-01-01T00:00:00Z"),
        (0, "code", "is outside the range 'B'..'D'"),
        (0, "ref", "does not match the pattern [a-w]\\w*"),
        (0, "ratio", "Input should be a finite number"),
    ]


def test_arrays_of_structs_and_extra_ignore() -> None:
    c = contract(
        "  - name: lines\n    type: array<struct>\n    required: true\n    fields:\n"
        "      - {name: sku, type: string, required: true}\n"
        "      - {name: qty, type: integer}\n",
        "[{kind: range, field: lines.qty, min: 1}]",
    )
    strict = ContractValidator(c)
    record = {"lines": [{"sku": "a", "qty": 2}, {"qty": 0}], "extra": 1}
    assert reasons(strict.validate_record(record).failures) == [
        (0, "lines[1].sku", "required field is missing"),
        (0, "lines[1].qty", "Input should be greater than or equal to 1"),
        (0, "extra", "field not declared in the contract"),
    ]
    lenient = ContractValidator(c, extra="ignore")
    result = lenient.validate_record({"lines": [{"sku": "a"}], "extra": 1})
    assert result.record == {"lines": [{"sku": "a"}]}
