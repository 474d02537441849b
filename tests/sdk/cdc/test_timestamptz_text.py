"""timestamptz values: the capture's fast rearrangement of the server's UTC text equals
the general ``datetime`` path for every form the server writes, at every precision."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.cdc.debezium import TIMESTAMPTZ, ValueOptions, _timestamptz_parsed, converter


def server_text(dt: datetime) -> str:
    """How PostgreSQL writes a timestamptz in a UTC session (ISO date style)."""
    text = f"{dt.year:04d}-{dt:%m-%d %H:%M:%S}"
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "+00"


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(-1, 6),
)
def test_fast_text_equals_the_parsed_path(dt: datetime, modifier: int) -> None:
    text = server_text(dt.replace(tzinfo=UTC))
    convert = converter(TIMESTAMPTZ, modifier, ValueOptions())
    assert convert(text) == _timestamptz_parsed(text, 6 if modifier < 0 else modifier)


def test_forms_the_fast_path_leaves_to_datetime() -> None:
    convert = converter(TIMESTAMPTZ, -1, ValueOptions())
    assert convert("infinity") == "infinity"
    assert convert("2024-05-01 12:00:00+02") == "2024-05-01T10:00:00.000000Z"
    assert convert("2024-05-01 12:00:00.5+00") == "2024-05-01T12:00:00.500000Z"
    assert convert("2024-05-01 12:00:00+00") == "2024-05-01T12:00:00.000000Z"
