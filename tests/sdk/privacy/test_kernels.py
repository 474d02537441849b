"""Mask, redact and generalize kernels: the record face equals the batch face, value for value."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.generalize import Bucket, IpPrefix, PostalPrefix, TruncateTime
from meshkit.privacy.mask import EmailDomain, KeepLast, Redact


def both(kernel: Any, values: list[Any], typ: pa.DataType) -> tuple[list[Any], list[Any]]:
    batch = kernel.array(pa.array(values, typ)).to_pylist()
    record = [None if v is None else kernel.value(v) for v in values]
    return batch, record


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b and type(a) is type(b))


texts = st.lists(st.none() | st.text(max_size=20), max_size=20)


@settings(max_examples=150, deadline=None)
@given(texts, st.integers(0, 6))
def test_keep_last(values: list[str | None], n: int) -> None:
    batch, record = both(KeepLast(n), values, pa.string())
    assert batch == record


def test_keep_last_examples() -> None:
    assert KeepLast(4).value("4242424242424242") == "************4242"
    assert KeepLast(4).value("1234") == "****"  # keeping it all would reveal it
    assert KeepLast(0, "#").value("abc") == "###"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.none() | st.text(max_size=12) | st.emails(), max_size=20))
def test_email_domain(values: list[str | None]) -> None:
    batch, record = both(EmailDomain(), values, pa.string())
    assert batch == record


def test_email_domain_examples() -> None:
    assert EmailDomain().value("ada.lovelace@example.com") == "***@example.com"
    assert EmailDomain().value("no-at-sign") == "***"


@pytest.mark.parametrize(
    ("constant", "typ", "values"),
    [
        ("[REDACTED]", pa.string(), ["a", None, "b"]),
        (0, pa.int64(), [5, None, 7]),
        ("[REDACTED]", pa.int64(), [5, None]),
    ],
)
def test_redact(constant: Any, typ: pa.DataType, values: list[Any]) -> None:
    batch, record = both(Redact(constant), values, typ)
    assert batch == record == [None if v is None else constant for v in values]


aware = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | aware, max_size=15), st.sampled_from(["month", "year"]))
def test_truncate_aware_timestamps_in_utc(values: list[datetime | None], unit: str) -> None:
    batch, record = both(TruncateTime(unit), values, pa.timestamp("us", "Europe/Amsterdam"))
    assert batch == record
    assert all(
        v is None or (v.tzinfo is not None and v.utcoffset() == timedelta(0)) for v in record
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.none() | st.datetimes(min_value=datetime(1900, 1, 1)), max_size=15),
    st.lists(st.none() | st.dates(), max_size=15),
    st.sampled_from(["month", "year"]),
)
def test_truncate_naive_timestamps_and_dates(
    stamps: list[datetime | None], days: list[date | None], unit: str
) -> None:
    batch, record = both(TruncateTime(unit), stamps, pa.timestamp("us"))
    assert batch == record
    batch, record = both(TruncateTime(unit), days, pa.date32())
    assert batch == record
    assert TruncateTime("month").value(date(1990, 5, 17)) == date(1990, 5, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.none() | st.integers(-(2**40), 2**40), max_size=20), st.integers(1, 1000))
def test_bucket_integers(values: list[int | None], width: int) -> None:
    batch, record = both(Bucket(width), values, pa.int64())
    assert batch == record


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=20),
    st.sampled_from([0.5, 1.0, 10.0, 2.5, 1000.0]),
)
def test_bucket_floats(values: list[float | None], width: float) -> None:
    batch, record = both(Bucket(width), values, pa.float64())
    assert all(same(a, b) for a, b in zip(batch, record, strict=True))


def test_bucket_examples_and_decimals() -> None:
    assert Bucket(10).value(37) == 30
    assert Bucket(10).value(-1) == -10
    batch, record = both(Bucket(5), [Decimal("12.50"), None], pa.decimal128(10, 2))
    assert batch == record == [Decimal("10.00"), None]


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | ipv4 | ipv6, max_size=20))
def test_ip_prefix(values: list[str | None]) -> None:
    batch, record = both(IpPrefix(), values, pa.string())
    assert batch == record


def test_ip_prefix_examples() -> None:
    assert IpPrefix().value("192.0.2.77") == "192.0.2.0"
    assert IpPrefix().value("2001:db8:abcd:12::1") == "2001:db8:abcd::"
    with pytest.raises(PrivacyError, match="not an IP address"):
        IpPrefix().value("999.1.1.1")


@settings(max_examples=150, deadline=None)
@given(texts, st.integers(0, 6))
def test_postal_prefix(values: list[str | None], n: int) -> None:
    batch, record = both(PostalPrefix(n), values, pa.string())
    assert batch == record


@pytest.mark.parametrize(
    ("kernel", "value", "column"),
    [
        (KeepLast(4), 1234, pa.array([1234])),
        (EmailDomain(), date(2020, 1, 1), pa.array([date(2020, 1, 1)])),
        (TruncateTime(), "2020-01-01", pa.array(["2020-01-01"])),
        (Bucket(10), "12", pa.array(["12"])),
        (IpPrefix(), 10, pa.array([10])),
        (PostalPrefix(), 1012, pa.array([1012])),
    ],
)
def test_wrong_types_are_errors_on_both_paths(kernel: Any, value: Any, column: pa.Array) -> None:
    with pytest.raises(PrivacyError, match="applies to"):
        kernel.value(value)
    with pytest.raises(PrivacyError, match="applies to"):
        kernel.array(column)
