"""The record steps as plain functions over batches: map, validate, mask, PII guard."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from meshkit.contracts import Contract
from meshkit.privacy import Masker
from meshkit.streaming import (
    GuardStep,
    MapStep,
    MaskStep,
    Pipeline,
    ValidateStep,
    parse_envelopes,
)
from tests.sdk.streaming.helpers import envelope, key_bytes, message, row


def records(*events: dict) -> list:
    parsed = parse_envelopes([message(e, i, key_bytes(i)) for i, e in enumerate(events)])
    assert not parsed.failures
    return parsed.records


def test_map_projects_renames_and_casts_debezium_values(contract: Contract) -> None:
    out = MapStep(contract)(records(envelope("c", None, row(7), 100)))
    assert out.errs == []
    assert out.skipped == 0
    (change,) = out.oks
    assert (change.op, change.key, change.position) == ("upsert", ("7",), 100)
    assert change.record == {
        "customer_id": "7",
        "email": "user7@example.com",
        "phone": "+31 6 10000007",
        "birth_date": date(1989, 3, 9),  # 7007 days after 1970-01-01
        "tier": "plus",
        "balance": Decimal("7.07"),
        "note": "customer number 7",
        "signed_up_at": datetime(2024, 5, 1, 10, tzinfo=UTC),
    }


def test_map_filter_deletes_on_update_and_skips_on_insert(contract: Contract) -> None:
    test_row = row(1, status="test")
    out = MapStep(contract)(
        records(
            envelope("c", None, test_row, 100),
            envelope("u", None, test_row, 110),
            envelope("d", {"id": 2}, None, 120),
        )
    )
    assert out.skipped == 1
    assert [(c.op, c.key) for c in out.oks] == [("delete", ("1",)), ("delete", ("2",))]


def test_map_failures_name_the_field(contract: Contract) -> None:
    bad = records(
        envelope("c", None, row(1, balance_cents_eur="lots"), 100),
        envelope("c", None, row(2, signed_up_at=[1]), 101),
        envelope("c", None, row(3, note="x" * (1 << 21)), 102),
        envelope("u", None, row(4, note="__debezium_unavailable_value"), 103),
        envelope("t", None, None, 104) | {"after": None},
    )
    out = MapStep(contract)(bad)
    assert out.oks == []
    reasons = [(f.field, f.reason) for f in out.errs]
    assert reasons[0][0] == "balance"
    assert "is not a decimal(12,2)" in reasons[0][1]
    assert reasons[1][0] == "signed_up_at"
    assert "is not a timestamp" in reasons[1][1]
    assert reasons[2][0] == "note"
    assert "oversized" in reasons[2][1]
    assert reasons[3][0] == "note"
    assert "REPLICA IDENTITY FULL" in reasons[3][1]
    assert "truncate" in reasons[4][1]
    assert all(f.step == "map" for f in out.errs)


def test_validate_required_key_and_quality_rules(contract: Contract) -> None:
    mapped = MapStep(contract)(
        records(
            envelope("c", None, row(1), 100),
            envelope("c", None, row(2, tier="gold"), 101),
            envelope("c", None, row(3, email_address=None), 102),
            envelope("c", None, row(4, balance_cents_eur="-1.00"), 103),
            envelope("d", {"id": 5}, None, 104),
        )
    ).oks
    out = ValidateStep(contract)(mapped)
    assert [c.key for c in out.oks] == [("1",), ("5",)]
    assert [(f.field, f.step) for f in out.errs] == [
        ("tier", "validate"),
        ("email", "validate"),
        ("balance", "validate"),
    ]
    assert out.errs[0].reason == "field 'tier': Input should be 'free', 'plus' or 'pro'"
    assert out.errs[1].reason == "field 'email': is required, but null"
    assert out.errs[2].reason == "field 'balance': Input should be greater than or equal to 0"


def test_validate_names_every_broken_rule_of_a_record(contract: Contract) -> None:
    mapped = MapStep(contract)(
        records(envelope("c", None, row(1, tier="gold", balance_cents_eur="-1.00"), 100))
    ).oks
    (failure,) = ValidateStep(contract)(mapped).errs
    assert failure.field == "tier"
    assert failure.reason == (
        "field 'tier': Input should be 'free', 'plus' or 'pro'; "
        "field 'balance': Input should be greater than or equal to 0"
    )


def test_mask_applies_the_contract_transforms(contract: Contract, masker: Masker) -> None:
    mapped = MapStep(contract)(records(envelope("c", None, row(7), 100))).oks
    (change,) = MaskStep(masker)(mapped).oks
    assert change.record is not None
    assert change.record["email"].startswith("tok:customer.1:")
    assert change.record["phone"] == "**********0007"
    assert change.record["birth_date"] == date(1989, 1, 1)
    assert "user7@example.com" not in str(change.record)


def test_mask_failure_is_a_dead_letter_not_a_crash(contract: Contract, masker: Masker) -> None:
    mapped = MapStep(contract)(records(envelope("c", None, row(7), 100))).oks
    mapped[0].record["phone"] = 12345  # type: ignore[index]  # a type the mask cannot take
    out = MaskStep(masker)(mapped)
    assert out.oks == []
    assert out.errs[0].step == "mask"
    assert out.errs[0].field == "phone"


def test_guard_finds_undeclared_personal_data_in_free_text(contract: Contract) -> None:
    guard = GuardStep(contract)
    assert guard.fields == ["customer_id", "tier", "note"]
    mapped = MapStep(contract)(
        records(
            envelope("c", None, row(1, note="please call back tomorrow"), 100),
            envelope("c", None, row(2, note="new address: jane.doe@mail.example.org"), 101),
            envelope("c", None, row(3, note="NL91ABNA0417164300"), 102),
        )
    ).oks
    out = guard(mapped)
    assert [c.key for c in out.oks] == [("1",)]
    assert [(f.field, f.step) for f in out.errs] == [("note", "pii_guard"), ("note", "pii_guard")]
    assert "(email)" in out.errs[0].reason
    assert "(iban)" in out.errs[1].reason


def test_guard_finds_a_phone_number_written_with_spaces_inside_a_sentence(
    contract: Contract,
) -> None:
    guard = GuardStep(contract)
    mapped = MapStep(contract)(
        records(
            envelope("c", None, row(1, note="call me on +31 6 12345678 after six"), 100),
            envelope("c", None, row(2, note="mail ada@example.com or call +31 6 12345678"), 101),
            envelope("c", None, row(3, note="born 3/12/85, ask for ID"), 102),
            envelope("c", None, row(4, note="order 0612345678 shipped in 2 boxes"), 103),
            envelope("c", None, row(5, note="upgrade the till to 4.1.2.9"), 104),
        )
    ).oks
    out = guard(mapped)
    assert [c.key for c in out.oks] == [("4",), ("5",)]
    assert [f.reason for f in out.errs] == [
        "field 'note' holds personal data (phone) it does not declare",
        "field 'note' holds personal data (email) it does not declare",
        "field 'note' holds personal data (date_of_birth) it does not declare",
    ]


def test_pipeline_counts_balance(contract: Contract, masker: Masker) -> None:
    events = [
        message(envelope("c", None, row(1), 100), 0, key_bytes(1)),
        message(envelope("c", None, row(2, status="test"), 101), 1, key_bytes(2)),
        message(b"garbage", 2),
        message(envelope("c", None, row(3, tier="gold"), 102), 3, key_bytes(3)),
        message(envelope("d", {"id": 1}, None, 103), 4, key_bytes(1)),
        message(None, 5, key_bytes(1)),
    ]
    batch = Pipeline(contract, masker)(events)
    assert batch.received == 6
    assert [(c.op, c.key) for c in batch.changes] == [("upsert", ("1",)), ("delete", ("1",))]
    assert [f.step for f in batch.failures] == ["parse", "validate"]
    assert batch.skipped == 2  # one filtered row, one tombstone
    assert batch.received == len(batch.changes) + len(batch.failures) + batch.skipped
