"""Casting Debezium JSON values to a contract's field types.

A CDC event carries values as Debezium's JSON converter writes them (see
``docs/cdc.md``): decimals as strings, dates as days since 1970-01-01, ``timestamp``
columns as milli- or microseconds since the epoch, ``timestamptz`` as ISO text, bytes
as base64. ``caster(type)`` returns a function that turns such a value into the Python
value of the contract type (``Decimal``, ``date``, aware ``datetime``...), or raises
``CastError`` saying what kind of value it got and what was expected (``text is not a
date``), never the value itself: it may be personal data. Nulls stay null.

Integers as timestamps: below 10^14 they are read as milliseconds (Debezium's
``Timestamp``, up to year 5138), otherwise as microseconds (``MicroTimestamp``, from
1973 on).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from meshkit.contracts import FieldSpec
from meshkit.contracts.types import DataType
from meshkit.ports.base import kind_of

Cast = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_MICROS_FROM = 10**14


class CastError(ValueError):
    """A value that cannot be converted to its field's type."""


def _fail(value: Any, expected: str) -> CastError:
    return CastError(f"{kind_of(value)} is not {expected}")


def _string(v: Any) -> Any:
    if type(v) is str:
        return v
    if isinstance(v, bool | dict | list):
        raise _fail(v, "text")
    if isinstance(v, int | float | Decimal):
        return str(v)
    raise _fail(v, "text")


def _integer(v: Any) -> Any:
    if type(v) is int:
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            pass
    raise _fail(v, "an integer")


def _float(v: Any) -> Any:
    if type(v) is float:
        return v
    if type(v) is int:
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    raise _fail(v, "a number")


def _boolean(v: Any) -> Any:
    if type(v) is bool:
        return v
    if isinstance(v, str) and v.lower() in {"true", "false", "t", "f"}:
        return v.lower() in {"true", "t"}
    raise _fail(v, "a boolean")


def _decimal(dtype: DataType) -> Cast:
    precision, scale = dtype.precision or 38, dtype.scale or 0
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def cast(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, str | int | float | Decimal):
            raise _fail(v, f"a decimal({precision},{scale})")
        try:
            d = Decimal(str(v)) if not isinstance(v, Decimal) else v
            out = d.quantize(quantum)
        except InvalidOperation:
            raise _fail(v, f"a decimal({precision},{scale})") from None
        if not out.is_finite() or abs(out) >= limit:
            raise _fail(v, f"a decimal({precision},{scale}) (out of range)")
        return out

    return cast


def _date(v: Any) -> Any:
    if type(v) is date:
        return v
    if type(v) is int:
        try:
            return _EPOCH_DATE + timedelta(days=v)
        except OverflowError:
            raise _fail(v, "a date (days since 1970-01-01)") from None
    if isinstance(v, str):
        try:
            return date.fromisoformat(v[:10])
        except ValueError:
            pass
    raise _fail(v, "a date")


def _timestamp(v: Any) -> Any:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    if type(v) is int:
        micros = v if abs(v) >= _MICROS_FROM else v * 1000
        try:
            return _EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            raise _fail(v, "a timestamp") from None
    if isinstance(v, str):
        try:
            out = datetime.fromisoformat(v)
        except ValueError:
            raise _fail(v, "a timestamp (ISO 8601)") from None
        return out if out.tzinfo is not None else out.replace(tzinfo=UTC)
    raise _fail(v, "a timestamp")


def _bytes(v: Any) -> Any:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise _fail(v, "bytes (base64)")


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            orjson.loads(v)
        except orjson.JSONDecodeError:
            raise _fail(v, "JSON text") from None
    return v


_SCALARS: dict[str, Cast] = {
    "string": _string,
    "integer": _integer,
    "float": _float,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "bytes": _bytes,
    "json": _json,
}


def caster(dtype: DataType, members: tuple[FieldSpec, ...] | None = None) -> Cast:
    """The cast to ``dtype`` (``members``: the fields of a struct or array<struct>)."""
    if dtype.kind == "decimal":
        inner = _decimal(dtype)
    elif dtype.kind == "array":
        assert dtype.element is not None
        element = caster(dtype.element, members)

        def inner(v: Any) -> Any:
            if not isinstance(v, list):
                raise _fail(v, f"an array of {dtype.element}")
            return [None if x is None else element(x) for x in v]

    elif dtype.kind == "struct":
        casts = {m.name: caster(m.data_type, m.fields) for m in members or ()}

        def inner(v: Any) -> Any:
            if isinstance(v, str):
                try:
                    v = orjson.loads(v)
                except orjson.JSONDecodeError:
                    raise _fail(v, "a struct (JSON object)") from None
            if not isinstance(v, Mapping):
                raise _fail(v, "a struct (JSON object)")
            unknown = v.keys() - casts.keys()
            if unknown:
                raise CastError(f"struct member {sorted(unknown)[0]!r} is not declared")
            return {n: None if v.get(n) is None else c(v[n]) for n, c in casts.items()}

    else:
        inner = _SCALARS[dtype.kind]
    return inner
