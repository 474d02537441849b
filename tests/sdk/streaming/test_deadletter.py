"""Dead letters keep the reason, step and position, and never leak personal data."""

from __future__ import annotations

from meshkit.contracts import Contract
from meshkit.streaming import DeadLetters, Failure, SourcePosition, dead_letter_topic


def test_payload_is_masked_by_declaration_and_by_scanning(contract: Contract) -> None:
    letters = DeadLetters(contract)
    payload = {
        "before": None,
        "after": {
            "id": 7,
            "email_address": "ada@example.com",  # source column of a declared PII field
            "phone": "+31 6 12345678",
            "note": "ring me at +31 6 87654321 or ada.l@example.org",  # undeclared, in text
            "tier": "gold",
            "comment": "x" * 5000,
        },
        "op": "c",
    }
    failure = Failure(
        "validate", "tier is not accepted", SourcePosition("t", 0, 9), payload, "tier"
    )
    letter = letters.of(failure)
    text = str(letter.as_dict())
    for secret in ("ada@example.com", "12345678", "87654321", "ada.l@example.org"):
        assert secret not in text
    after = letter.payload["after"]
    assert after["tier"] == "gold"
    assert after["id"] == 7
    assert after["email_address"] == "[REDACTED]"
    assert after["comment"].endswith("(5,000 characters)")
    assert (letter.step, letter.source, letter.field) == ("validate", "t[0]@9", "tier")
    assert letter.key == "t[0]@9|validate"


def test_unparseable_bytes_are_not_kept(contract: Contract) -> None:
    raw = b'{"email_address": "ada@example.com", broken'
    letter = DeadLetters(contract).of(Failure("parse", "invalid JSON", None, raw))
    assert letter.payload is None
    assert letter.payload_bytes == len(raw)


def test_topic_name(contract: Contract) -> None:
    assert dead_letter_topic(contract) == "shop.customer.v1.deadletter"
