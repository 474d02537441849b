"""A transform that cannot take a value says which field, which transform and what kind of
value it got, never the value: it is personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest

from meshkit.privacy import FieldPlan, Masker, TransformError
from meshkit.privacy.generalize import Bucket, IpPrefix, PostalPrefix, TruncateTime
from meshkit.privacy.mask import EmailDomain, KeepLast

EMAIL = "ada.canary.q7@example.com"
CARD = 4111111111111111

CASES: list[tuple[str, Any, Any, str]] = [
    ("ip", IpPrefix(), EMAIL, "field 'ip': generalize (ip): text is not an IP address"),
    ("ip", IpPrefix(), CARD, "field 'ip': generalize (ip) applies to text, got int"),
    ("phone", KeepLast(4), CARD, "field 'phone': mask applies to text, got int"),
    ("mail", EmailDomain(), CARD, "field 'mail': mask (email domain) applies to text, got int"),
    (
        "zip",
        PostalPrefix(3),
        CARD,
        "field 'zip': generalize (postal code) applies to text, got int",
    ),
    (
        "born",
        TruncateTime("year"),
        EMAIL,
        "field 'born': generalize applies to dates and timestamps, got str",
    ),
    (
        "salary",
        Bucket(1000),
        EMAIL,
        "field 'salary': generalize (bucket) applies to numbers, got str",
    ),
]


@pytest.mark.parametrize(("field", "kernel", "value", "message"), CASES)
def test_record_path_names_field_transform_and_kind(
    field: str, kernel: Any, value: Any, message: str
) -> None:
    kind = "generalize" if type(kernel).__module__.endswith("generalize") else "mask"
    masker = Masker([FieldPlan(field, kind, kernel=kernel)])
    with pytest.raises(TransformError) as info:
        masker.mask_record({field: value})
    assert str(info.value) == message
    assert EMAIL not in str(info.value)
    assert str(CARD) not in str(info.value)


def test_batch_path_names_field_and_never_the_value() -> None:
    masker = Masker([FieldPlan("ip", "generalize", kernel=IpPrefix())])
    table = pa.table({"ip": ["192.0.2.7", EMAIL]})
    with pytest.raises(TransformError) as info:
        masker.mask_table(table)
    assert str(info.value) == "field 'ip': generalize (ip): text is not an IP address"


def test_tokenize_and_encrypt_refusals_name_the_type_only() -> None:
    from meshkit.privacy.encrypt import _encode

    with pytest.raises(Exception) as info:
        _encode(datetime(1985, 3, 12, 10, 0))
    assert "1985" not in str(info.value)
    assert "got datetime" in str(info.value)
