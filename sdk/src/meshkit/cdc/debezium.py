"""Debezium's change-event format: column values, keys and the envelope, as JSON.

The values are what Debezium's PostgreSQL connector emits through Kafka Connect's
``JsonConverter`` with ``schemas.enable=false`` and the connector's defaults
(``time.precision.mode=adaptive``, ``binary.handling.mode=bytes``,
``interval.handling.mode=numeric``), except ``decimal.handling.mode``: meshkit's default
is ``string`` (exact and readable; Debezium's own default ``precise`` gives base64 bytes
of the unscaled value, which :class:`ValueOptions` also offers, as well as ``double``).
The generated Debezium configuration (:mod:`meshkit.cdc.connector`) sets the same mode,
so both produce identical events. ``docs/cdc.md`` has the full table.

Text values come from the server in ISO date style, UTC time zone, ``postgres``
interval style and ``hex`` bytea output; the capture connection sets those options.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal

from meshkit.cdc.pgoutput import UNCHANGED_TOAST, Column

#: What ``source.version`` says: the Debezium format version this output follows.
FORMAT_VERSION: Final = "2.7.0.Final+meshkit"
#: Debezium's ``unavailable.value.placeholder`` default (unchanged TOAST values).
UNAVAILABLE: Final = "__debezium_unavailable_value"
_UNAVAILABLE_BYTES: Final = base64.b64encode(UNAVAILABLE.encode()).decode()
#: ``TIMESTAMP 'infinity'`` / ``'-infinity'`` as Debezium (and pgjdbc) report them.
POS_INFINITY_TS: Final = 9223372036825200000
NEG_INFINITY_TS: Final = -9223372036832400000
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAYS_PER_MONTH: Final = 365.25 / 12.0

DecimalMode = Literal["string", "double", "precise"]
Converter = Callable[[str], Any]

# Type OIDs of the built-in types (pg_type.dat).
BOOL, BYTEA, INT8, INT2, INT4, OID = 16, 17, 20, 21, 23, 26
JSON, XML, FLOAT4, FLOAT8, MONEY = 114, 142, 700, 701, 790
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266
BIT, VARBIT, NUMERIC, UUID, JSONB = 1560, 1562, 1700, 2950, 3802

#: Array type OID -> element type OID, for the arrays Debezium maps to JSON lists.
ARRAY_ELEMENTS: Final[dict[int, int]] = {
    1000: BOOL, 1001: BYTEA, 1005: INT2, 1007: INT4, 1016: INT8, 1021: FLOAT4,
    1022: FLOAT8, 1231: NUMERIC, 1009: 25, 1015: 1043, 1014: 1042, 2951: UUID,
    1182: DATE, 1183: TIME, 1115: TIMESTAMP, 1185: TIMESTAMPTZ, 199: JSON, 3807: JSONB,
    1187: INTERVAL, 1270: TIMETZ, 1028: OID, 1040: 829, 1041: 869, 651: 650,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ValueOptions:
    """How values are mapped; mirrors the Debezium connector options of the same names.

    Example::

        ValueOptions(decimal_handling_mode="double")
    """

    decimal_handling_mode: DecimalMode = "string"


def _bool(text: str) -> bool:
    return text == "t"


def _bit1(text: str) -> bool:
    return text == "1"


def _float(text: str) -> float | str:
    value = float(text)
    if math.isnan(value) or math.isinf(value):
        return text  # Jackson writes NaN/Infinity as strings
    return value


def _micros_of_day(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _epoch_micros(dt: datetime) -> int:
    days = dt.toordinal() - _EPOCH_ORDINAL
    return (days * 86_400 + dt.hour * 3600 + dt.minute * 60 + dt.second) * 1_000_000 + (
        dt.microsecond
    )


def _precision(type_modifier: int) -> int:
    """Fractional-second digits of a time/timestamp column (-1 = unspecified = 6)."""
    return 6 if type_modifier < 0 else type_modifier


def _timestamp(precision: int) -> Converter:
    divisor = 1000 if precision <= 3 else 1

    def convert(text: str) -> int:
        if text == "infinity":
            return POS_INFINITY_TS
        if text == "-infinity":
            return NEG_INFINITY_TS
        return _epoch_micros(datetime.fromisoformat(text)) // divisor

    return convert


def _fraction(micros: int, width: int) -> str:
    return "" if width == 0 else "." + f"{micros:06d}"[:width].ljust(width, "0")


def _timestamptz_parsed(text: str, precision: int) -> str:
    if text in ("infinity", "-infinity"):
        return text
    dt = datetime.fromisoformat(text).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(dt.microsecond, precision) + "Z"


def _timestamptz(precision: int) -> Converter:
    """The capture's session is in UTC, so the server writes ``YYYY-MM-DD HH:MM:SS[.f]+00``:
    that text is rearranged without parsing (a third of the cost); any other form (years
    before 1000 or after 9999, BC, another offset, infinity) goes through ``datetime``,
    which gives the same text for the common form (``test_timestamptz_text.py`` in the
    CDC tests checks both)."""

    def convert(text: str) -> str:
        n = len(text)
        if (
            (n == 22 or 24 <= n <= 29)
            and text[n - 3 :] == "+00"
            and text[4] == "-"
            and text[10] == " "
            and text[0] != "0"
            and (n == 22 or text[19] == ".")
        ):
            if precision == 0:
                return text[:10] + "T" + text[11:19] + "Z"
            return f"{text[:10]}T{text[11:19]}.{text[20 : n - 3].ljust(6, '0')[:precision]}Z"
        return _timestamptz_parsed(text, precision)

    return convert


def _time(precision: int) -> Converter:
    divisor = 1000 if precision <= 3 else 1

    def convert(text: str) -> int:
        if text.startswith("24:00:00"):
            return 86_400_000_000 // divisor
        return _micros_of_day(time.fromisoformat(text)) // divisor

    return convert


def _timetz(precision: int) -> Converter:
    def convert(text: str) -> str:
        # e.g. "15:13:16.945104+02" -> shift to UTC on an arbitrary day
        dt = datetime.fromisoformat("2000-01-01T" + text).astimezone(UTC)
        return dt.strftime("%H:%M:%S") + _fraction(dt.microsecond, precision) + "Z"

    return convert


def _date(text: str) -> int | str:
    if text in ("infinity", "-infinity"):
        return text
    return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL


_INTERVAL_PART = re.compile(r"(-?\d+) (year|mon|day)s?")
_INTERVAL_TIME = re.compile(r"([+-])?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


def _interval(text: str) -> int:
    """``postgres`` interval style as Debezium's MicroDuration (365.25/12 days a month)."""
    months = days = 0
    for number, unit in _INTERVAL_PART.findall(text):
        if unit == "year":
            months += int(number) * 12
        elif unit == "mon":
            months += int(number)
        else:
            days += int(number)
    micros = 0
    match = _INTERVAL_TIME.search(text)
    if match:
        sign, hours, minutes, seconds, fraction = match.groups()
        micros = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000
        micros += int((fraction or "0").ljust(6, "0"))
        if sign == "-":
            micros = -micros
    total_days = months * _DAYS_PER_MONTH + days
    return int(total_days * 86_400_000_000) + micros


def _bytea(text: str) -> str:
    return base64.b64encode(bytes.fromhex(text[2:])).decode()


def _bits(text: str) -> str:
    size = (len(text) + 7) // 8
    return base64.b64encode(int(text, 2).to_bytes(size, "little")).decode()


def _unscaled(text: str) -> tuple[int, int]:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    whole, _, fraction = digits.partition(".")
    return sign * int(whole + fraction), len(fraction)


def _twos_complement(value: int) -> str:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return base64.b64encode(value.to_bytes(size, "big", signed=True)).decode()


def _numeric(mode: DecimalMode, type_modifier: int) -> Converter:
    if mode == "string":
        return lambda text: "NAN" if text == "NaN" else text
    if mode == "double":
        return _float
    fixed_scale = type_modifier >= 4

    def precise(text: str) -> Any:
        if text == "NaN":
            return None
        unscaled, scale = _unscaled(text)
        if fixed_scale:
            return _twos_complement(unscaled)
        return {"scale": scale, "value": _twos_complement(unscaled)}

    return precise


def _money(mode: DecimalMode) -> Converter:
    inner = _numeric(mode, 4)  # money always has a fixed scale (money.fraction.digits=2)

    def convert(text: str) -> Any:
        negative = text.startswith(("-", "("))
        plain = "".join(ch for ch in text if ch.isdigit() or ch == ".")
        return inner(("-" if negative else "") + plain)

    return convert


def _identity(text: str) -> str:
    return text


def _array(element: Converter) -> Converter:
    def convert(text: str) -> Any:
        return parse_array(text, element)

    return convert


def converter(type_oid: int, type_modifier: int, options: ValueOptions) -> Converter:
    """The function mapping one column's text value to its Debezium JSON value."""
    if type_oid in (INT2, INT4, INT8, OID):
        return int
    if type_oid == BOOL:
        return _bool
    if type_oid in (FLOAT4, FLOAT8):
        return _float
    if type_oid == NUMERIC:
        return _numeric(options.decimal_handling_mode, type_modifier)
    if type_oid == MONEY:
        return _money(options.decimal_handling_mode)
    if type_oid == DATE:
        return _date
    if type_oid == TIMESTAMP:
        return _timestamp(_precision(type_modifier))
    if type_oid == TIMESTAMPTZ:
        return _timestamptz(_precision(type_modifier))
    if type_oid == TIME:
        return _time(_precision(type_modifier))
    if type_oid == TIMETZ:
        return _timetz(_precision(type_modifier))
    if type_oid == INTERVAL:
        return _interval
    if type_oid == BYTEA:
        return _bytea
    if type_oid == BIT and type_modifier == 1:
        return _bit1
    if type_oid in (BIT, VARBIT):
        return _bits
    element = ARRAY_ELEMENTS.get(type_oid)
    if element is not None:
        return _array(converter(element, type_modifier, options))
    # text, varchar, char, name, uuid, json, jsonb, xml, inet, cidr, macaddr, enums,
    # ranges and any other type: Debezium's string representation is PostgreSQL's own.
    return _identity


def placeholder(type_oid: int) -> Any:
    """What Debezium puts in place of an unchanged TOAST value of this type."""
    if type_oid == BYTEA:
        return _UNAVAILABLE_BYTES
    if type_oid in ARRAY_ELEMENTS:
        return [UNAVAILABLE]
    return UNAVAILABLE


def parse_array(text: str, element: Converter) -> list[Any]:
    """A PostgreSQL array literal (``{1,2,NULL}``, ``{"a b","c\\"d"}``, nested) as a list."""
    pos = text.index("{")  # skip an optional dimension decoration "[1:2]="
    result, _ = _parse_array_at(text, pos, element)
    return result


def _parse_array_at(text: str, pos: int, element: Converter) -> tuple[list[Any], int]:
    items: list[Any] = []
    pos += 1  # '{'
    length = len(text)
    while pos < length:
        char = text[pos]
        if char == "}":
            return items, pos + 1
        if char == ",":
            pos += 1
            continue
        if char == "{":
            sub, pos = _parse_array_at(text, pos, element)
            items.append(sub)
            continue
        if char == '"':
            pos += 1
            chars: list[str] = []
            while text[pos] != '"':
                if text[pos] == "\\":
                    pos += 1
                chars.append(text[pos])
                pos += 1
            pos += 1
            items.append(element("".join(chars)))
            continue
        end = pos
        while end < length and text[end] not in ",}":
            end += 1
        raw = text[pos:end].strip()
        items.append(None if raw == "NULL" else element(raw))
        pos = end
    raise ValueError(f"unterminated array literal: {text!r}")


class RowMapper:
    """Maps decoded tuples of one relation to Debezium ``before``/``after`` and key dicts."""

    __slots__ = (
        "_columns",
        "_convert",
        "_placeholders",
        "key_columns",
        "key_index",
        "missing_keys",
        "names",
    )

    def __init__(
        self, columns: tuple[Column, ...], key_columns: tuple[str, ...], options: ValueOptions
    ) -> None:
        self._columns = columns
        self.names = tuple(c.name for c in columns)
        self._convert = tuple(converter(c.type_oid, c.type_modifier, options) for c in columns)
        self._placeholders = tuple(placeholder(c.type_oid) for c in columns)
        self.key_columns = key_columns
        index = {name: i for i, name in enumerate(self.names)}
        self.key_index = tuple(index[k] for k in key_columns if k in index)
        #: key columns the relation does not have (the capture refuses to run with them)
        self.missing_keys = tuple(k for k in key_columns if k not in index)

    def row(self, values: list[object]) -> dict[str, Any]:
        """All columns of a full tuple."""
        out: dict[str, Any] = {}
        for name, convert, holder, value in zip(
            self.names, self._convert, self._placeholders, values, strict=False
        ):
            if value is None:
                out[name] = None
            elif value is UNCHANGED_TOAST:
                out[name] = holder
            else:
                out[name] = convert(value)  # type: ignore[arg-type]
        return out

    def key_row(self, values: list[object]) -> dict[str, Any]:
        """Only the key columns of a tuple (a ``K`` old tuple, or a DEFAULT delete)."""
        out: dict[str, Any] = {}
        for i in self.key_index:
            value = values[i]
            out[self.names[i]] = None if value is None else self._convert[i](value)  # type: ignore[arg-type]
        return out

    def key(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The event key (``None`` for a table without key columns)."""
        if not self.key_index:
            return None
        return {name: row.get(name) for name in self.key_columns}
