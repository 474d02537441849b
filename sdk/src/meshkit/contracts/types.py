"""The field type grammar and the duration syntax of contracts.

Field types, as written in YAML::

    type     := scalar | "decimal(" P "," S ")" | "array<" type ">" | "struct"
    scalar   := string | integer | float | boolean | date | timestamp | bytes | json

``timestamp`` is always time-zone aware. ``struct`` takes its members from the field's
``fields:`` list; ``array<struct>`` does too (they describe the element). Spaces inside
the brackets are allowed (``decimal(12, 2)``).

Durations (``max_age``, ``retention``, SLO freshness) are one or more ``<n><unit>`` parts,
unit ``s``, ``m``, ``h``, ``d`` or ``w``: ``30s``, ``15m``, ``1h``, ``7d``, ``1h30m``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

Kind = Literal[
    "string",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "timestamp",
    "bytes",
    "json",
    "array",
    "struct",
]
SCALARS: tuple[str, ...] = (
    "string", "integer", "float", "boolean", "date", "timestamp", "bytes", "json",
)  # fmt: skip
MAX_DECIMAL_PRECISION = 38
TYPE_SYNTAX = (
    "string, integer, float, decimal(p,s), boolean, date, timestamp, bytes, json, "
    "array<T> or struct"
)


class TypeSyntaxError(ValueError):
    """A type string that does not follow the grammar; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class DataType:
    """A parsed field type: ``kind`` plus ``precision``/``scale`` (decimal) or ``element`` (array).

    Example::

        >>> DataType.parse("array<decimal(12,2)>").element
        DataType(kind='decimal', precision=12, scale=2, element=None)
    """

    kind: Kind
    precision: int | None = None
    scale: int | None = None
    element: DataType | None = None

    @staticmethod
    def parse(text: str) -> DataType:
        """Parse a type string; ``TypeSyntaxError`` if it does not follow the grammar."""
        parser = _Parser(text)
        result = parser.type_()
        parser.end()
        return result

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.kind == "array":
            return f"array<{self.element}>"
        return self.kind

    @property
    def innermost(self) -> DataType:
        """The element type after unwrapping every ``array``."""
        t = self
        while t.element is not None:
            t = t.element
        return t

    @property
    def has_members(self) -> bool:
        """True for ``struct`` and arrays of struct: the field lists its members in ``fields``."""
        return self.innermost.kind == "struct"

    @property
    def is_numeric(self) -> bool:
        return self.kind in {"integer", "float", "decimal"}

    @property
    def is_temporal(self) -> bool:
        return self.kind in {"date", "timestamp"}

    @property
    def is_orderable(self) -> bool:
        """Types a ``range`` rule can bound."""
        return self.is_numeric or self.is_temporal or self.kind == "string"


_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(.))")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        for m in _TOKEN.finditer(text):
            tok = m.group(1) or m.group(2) or m.group(3)
            if tok and not tok.isspace():
                self.tokens.append(tok)
        self.pos = 0

    def _fail(self, what: str) -> TypeSyntaxError:
        return TypeSyntaxError(f"{what} in type {self.text!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        tok = self._peek()
        if tok is None:
            raise self._fail(f"unexpected end, expected {repr(expected) if expected else 'a type'}")
        if expected is not None and tok != expected:
            raise self._fail(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def _int(self, what: str) -> int:
        tok = self._take()
        if not tok.isdigit():
            raise self._fail(f"expected the {what} (a number), got {tok!r}")
        return int(tok)

    def end(self) -> None:
        if self._peek() is not None:
            raise self._fail(f"unexpected {self._peek()!r}")

    def type_(self) -> DataType:
        name = self._take().lower()
        if name in SCALARS or name == "struct":
            return DataType(name)  # type: ignore[arg-type]
        if name == "decimal":
            self._take("(")
            precision = self._int("precision")
            self._take(",")
            scale = self._int("scale")
            self._take(")")
            if not 1 <= precision <= MAX_DECIMAL_PRECISION:
                raise self._fail(f"decimal precision must be 1..{MAX_DECIMAL_PRECISION}")
            if scale > precision:
                raise self._fail("decimal scale must not exceed its precision")
            return DataType("decimal", precision=precision, scale=scale)
        if name == "array":
            self._take("<")
            element = self.type_()
            self._take(">")
            return DataType("array", element=element)
        if self.text.strip() == name:
            raise TypeSyntaxError(f"unknown type {name!r}")
        raise self._fail(f"unknown type {name!r}")


def _validate_type(value: Any) -> DataType:
    if isinstance(value, DataType):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "field_type", "a type must be a string like 'decimal(12,2)'", {"expected": TYPE_SYNTAX}
        )
    try:
        return DataType.parse(value)
    except TypeSyntaxError as exc:
        ctx = {"expected": TYPE_SYNTAX}
        close = difflib.get_close_matches(value.strip().lower(), [*SCALARS, "struct"], n=1)
        if close:
            ctx["hint"] = f"did you mean {close[0]!r}?"
        raise PydanticCustomError("field_type", str(exc), ctx) from None


FieldType = Annotated[
    DataType,
    PlainValidator(_validate_type),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["string", "decimal(12,2)", "array<string>"]}),
]
"""A field type in a pydantic model: written and read as its type string."""

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:\d+[wdhms])+")
_PART = re.compile(r"(\d+)([wdhms])")
DURATION_SYNTAX = "a duration like 30s, 15m, 1h, 7d or 1h30m"


def parse_duration(text: str) -> timedelta:
    """``'1h30m'`` → ``timedelta(hours=1, minutes=30)``; ``ValueError`` when malformed or zero."""
    compact = text.strip().replace(" ", "")
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The canonical text of a duration: ``timedelta(days=7)`` → ``'7d'``, 5400 s → ``'1h30m'``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue  # never weeks: 14d stays 14d
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"


def _validate_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        if value.total_seconds() <= 0:
            raise PydanticCustomError(
                "duration", "a duration must be longer than zero", {"expected": DURATION_SYNTAX}
            )
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "duration",
            "a duration must be a string like '1h'",
            {"expected": DURATION_SYNTAX},
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc), {"expected": DURATION_SYNTAX}) from None


Duration = Annotated[
    timedelta,
    PlainValidator(_validate_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[wdhms])+$", "examples": ["1h", "7d"]}),
]
"""A duration in a pydantic model: written and read as ``'1h'``, ``'7d'``, ``'1h30m'``."""
