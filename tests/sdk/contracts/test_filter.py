"""The mapping filter language: what it keeps, and how it reports bad expressions."""

from __future__ import annotations

import pytest

from meshkit.contracts import FilterSyntaxError, parse_filter


@pytest.mark.parametrize(
    ("text", "record", "kept"),
    [
        ("status != 'test'", {"status": "live"}, True),
        ("status != 'test'", {"status": "test"}, False),
        ("status != 'test'", {"status": None}, False),
        ("deleted_at is null", {}, True),
        ("deleted_at is not null", {"deleted_at": 1}, True),
        ("country in ('NL', 'BE')", {"country": "BE"}, True),
        ("country not in ('NL', 'BE')", {"country": "BE"}, False),
        ("not (age < 18) and vip", {"age": 30, "vip": True}, True),
        ("age >= 18 or vip", {"age": 3, "vip": False}, False),
        ("age > 'x'", {"age": 3}, False),
        ("address.city = 'Delft'", {"address": {"city": "Delft"}}, True),
        ("name = 'O''Brien'", {"name": "O'Brien"}, True),
        ("AMOUNT <= 1.5E2", {"AMOUNT": 150}, True),
    ],
)
def test_filter_keeps(text: str, record: dict[str, object], kept: bool) -> None:
    assert parse_filter(text)(record) is kept


def test_filter_lists_its_columns() -> None:
    assert parse_filter("a = 1 and (b is null or c.d in (1))").columns == {"a", "b", "c.d"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = ", "unexpected end at column 5"),
        ("a == 1 and", "unexpected end at column 11"),
        ("(a = 1", "expected ')' at the end at column 7"),
        ("a is 1", "expected 'null' after 'is' at column 6"),
        ("a ; 1", "unexpected character ';' at column 3"),
        ("1", "a literal alone is not a condition at column 2"),
        ("__import__('os')", "unexpected '(' at column 11"),
    ],
)
def test_filter_errors(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    assert str(info.value) == message
