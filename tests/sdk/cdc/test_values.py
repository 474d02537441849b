"""Pure mapping pieces: array literals, intervals, LSNs, configuration parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshkit.cdc.config import build_config
from meshkit.cdc.debezium import ValueOptions, converter, parse_array
from meshkit.cdc.pgoutput import ProtocolError, decode, format_lsn, parse_lsn
from meshkit.errors import ConfigError


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("{}", []),
        ("{1,2,NULL}", [1, 2, None]),
        ("{{1,2},{3,4}}", [[1, 2], [3, 4]]),
        ("[0:1]={5,6}", [5, 6]),
    ],
)
def test_integer_arrays(literal: str, expected: list[object]) -> None:
    assert parse_array(literal, int) == expected


def test_text_arrays_with_quotes_and_escapes() -> None:
    assert parse_array('{"a b","c,d","q\\"x",NULL,"NULL",plain}', str) == [
        "a b", "c,d", 'q"x', None, "NULL", "plain",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("00:00:01", 1_000_000),
        ("-00:00:01.5", -1_500_000),
        ("1 day", 86_400_000_000),
        ("-1 days +02:00:00", -86_400_000_000 + 7_200_000_000),
        ("1 mon", int(365.25 / 12 * 86_400_000_000)),
    ],
)
def test_intervals_as_micro_durations(text: str, micros: int) -> None:
    assert converter(1186, -1, ValueOptions())(text) == micros


def test_lsn_round_trip() -> None:
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"
    with pytest.raises(ProtocolError):
        parse_lsn("nope")


def test_unknown_message_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unsupported pgoutput message type 'Z'"):
        decode(b"Z\x00")
    with pytest.raises(ProtocolError, match="malformed pgoutput 'I' message"):
        decode(b"I\x00\x00")


def test_config_from_toml_with_flag_overrides(tmp_path: Path) -> None:
    path = tmp_path / "cdc.toml"
    path.write_text('dsn = "host=db dbname=shop user=cdc"\ntables = ["orders"]\nslot = "a"\n')
    config = build_config(path, slot="b", topic_prefix=None)
    assert config.tables == ["public.orders"]
    assert config.slot == "b"
    assert config.database() == "shop"
    with pytest.raises(ConfigError, match="missing topic_prefix, bootstrap_servers"):
        config.require("tables", "topic_prefix", "bootstrap_servers")


def test_config_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cdc.yaml"
    path.write_text("dsn: [unclosed\n")
    with pytest.raises(ConfigError, match=r"cdc\.yaml: not valid yaml"):
        build_config(path)
    path.write_text("dsn: x\ntables: [a.b, a.b]\nunknown: 1\n")
    with pytest.raises(ConfigError) as info:
        build_config(path)
    assert "field 'tables': Value error, a table is listed twice" in str(info.value)
    assert "field 'unknown': Extra inputs are not permitted" in str(info.value)


def test_public_names_resolve_and_are_sorted() -> None:
    import meshkit.cdc as cdc

    assert cdc.__all__ == sorted(cdc.__all__)
    for name in cdc.__all__:
        assert getattr(cdc, name) is not None
