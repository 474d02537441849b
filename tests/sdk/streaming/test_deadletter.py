"""Dead letters keep the reason, step and position, and never leak personal data."""

from __future__ import annotations

from meshkit.contracts import Contract
from meshkit.streaming import DeadLetters, Failure, SourcePosition, dead_letter_topic


def test_payload_is_an_allow_list_of_the_products_fields(contract: Contract) -> None:
    """A map failure's source row: the product's fields only (renamed), personal ones
    redacted (no masker here), undeclared personal data in text redacted, long text cut;
    nothing of the columns the product does not map, whatever their type."""
    letters = DeadLetters(contract)
    row = {
        "id": 7,
        "email_address": "ada@example.com",  # source column of a declared PII field
        "phone": "+31 6 12345678",
        "note": "ring me at +31 6 87654321 or ada.l@example.org",  # undeclared, in text
        "tier": "gold",
        "signed_up_at": "x" * 5000,
        "ssn": "078-05-1120",  # columns the product does not map
        "salary_eur": 98765,
        "street": "Canal Street 1",
    }
    failure = Failure("map", "tier is not accepted", SourcePosition("t", 0, 9), row, "tier")
    letter = letters.of(failure)
    text = str(letter.as_dict())
    for secret in ("ada@example.com", "12345678", "87654321", "ada.l@example.org",
                   "078-05-1120", "98765", "Canal Street"):  # fmt: skip
        assert secret not in text
    assert letter.payload == {
        "customer_id": 7,
        "email": "[REDACTED]",
        "phone": "[REDACTED]",
        "tier": "gold",
        "note": "[REDACTED]",
        "signed_up_at": "x" * 256 + "... (5,000 characters)",
    }
    assert (letter.step, letter.source, letter.field) == ("map", "t[0]@9", "tier")
    assert letter.key == "t[0]@9|map"


def test_event_payload_keeps_op_and_projected_images(contract: Contract) -> None:
    event = {
        "op": "ada@example.com",  # not an op: not kept
        "before": None,
        "after": {"id": 7, "tier": "pro", "ssn": "078-05-1120"},
        "source": {"lsn": 5},
    }
    letter = DeadLetters(contract).of(Failure("parse", "not a change event", None, event))
    assert letter.payload == {
        "op": None,
        "before": None,
        "after": {"customer_id": 7, "tier": "pro"},
    }


def test_product_record_drops_undeclared_keys_and_redacts_personal_fields(
    contract: Contract,
) -> None:
    record = {"customer_id": "c-7", "email": "ada@example.com", "tier": "gold", "extra": 4711}
    letter = DeadLetters(contract).of(Failure("validate", "bad tier", None, record, "tier"))
    assert letter.payload == {"customer_id": "c-7", "email": "[REDACTED]", "tier": "gold"}


def test_unparseable_bytes_are_not_kept(contract: Contract) -> None:
    raw = b'{"email_address": "ada@example.com", broken'
    letter = DeadLetters(contract).of(Failure("parse", "invalid JSON", None, raw))
    assert letter.payload is None
    assert letter.payload_bytes == len(raw)


def test_topic_name(contract: Contract) -> None:
    assert dead_letter_topic(contract) == "shop.customer.v1.deadletter"
