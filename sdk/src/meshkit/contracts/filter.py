"""The row filter language of mappings: small, documented, parsed without ``eval``.

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | predicate
    predicate  := "(" expr ")"
                | value [op value | "is" ["not"] "null" | ["not"] "in" "(" literal, ... ")"]
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := column | literal
    column     := name ("." name)*        -- a source column (struct members with dots)
    literal    := 'text' ('' inside) | number | true | false | null

A column alone is true when its value is true. A comparison involving a null value, or
values that cannot be compared (text with a number), is false; ``is null`` tests nulls.

Example: ``status != 'test' and (country in ('NL', 'BE') or vip) and deleted_at is null``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,)|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "==": operator.eq, "!=": operator.ne, "<>": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_KEYWORDS = {"and", "or", "not", "is", "in", "null", "true", "false"}

Predicate = Callable[[Mapping[str, Any]], bool]
Getter = Callable[[Mapping[str, Any]], Any]


class FilterSyntaxError(ValueError):
    """A filter expression that does not follow the grammar; the message says where."""


@dataclass(frozen=True)
class Filter:
    """A parsed filter: call it with a record (a mapping) to know whether the row is kept."""

    text: str
    columns: frozenset[str]
    predicate: Predicate

    def __call__(self, record: Mapping[str, Any]) -> bool:
        return self.predicate(record)


def parse_filter(text: str) -> Filter:
    """Parse ``text``; ``FilterSyntaxError`` naming the position when it is not valid."""
    parser = _Parser(text)
    predicate = parser.expr()
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()!r}")
    return Filter(text, frozenset(parser.columns), predicate)


def _column(path: str) -> Getter:
    parts = path.split(".")
    if len(parts) == 1:
        return lambda r: r.get(path)

    def get(r: Mapping[str, Any]) -> Any:
        value: Any = r
        for p in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(p)
        return value

    return get


def _compare(op: Callable[[Any, Any], bool], left: Getter, right: Getter) -> Predicate:
    def predicate(r: Mapping[str, Any]) -> bool:
        a, b = left(r), right(r)
        if a is None or b is None:
            return False
        try:
            return bool(op(a, b))
        except TypeError:
            return False

    return predicate


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, offset)
        self.columns: set[str] = set()
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                offset = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise self.error(f"unexpected character {text[offset]!r}", offset)
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def error(self, message: str, offset: int | None = None) -> FilterSyntaxError:
        if offset is None:
            offset = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        return FilterSyntaxError(f"{message} at column {offset + 1}")

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def _kw(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and self.tokens[self.i][0] == "name" and tok.lower() == word:
            self.i += 1
            return True
        return False

    def _sym(self, sym: str) -> bool:
        if self.peek() == sym and self.tokens[self.i][0] == "op":
            self.i += 1
            return True
        return False

    def _expect(self, sym: str) -> None:
        if not self._sym(sym):
            got = self.peek()
            raise self.error(f"expected {sym!r}" + (f", got {got!r}" if got else " at the end"))

    def expr(self) -> Predicate:
        parts = [self._and()]
        while self._kw("or"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(p(r) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._kw("and"):
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(p(r) for p in parts)

    def _not(self) -> Predicate:
        if self._kw("not"):
            inner = self._not()
            return lambda r: not inner(r)
        return self._predicate()

    def _literal(self) -> tuple[bool, Any]:
        """(True, value) when the next token is a literal."""
        if self.i >= len(self.tokens):
            return False, None
        kind, tok, _ = self.tokens[self.i]
        if kind == "str":
            self.i += 1
            return True, tok[1:-1].replace("''", "'")
        if kind == "num":
            self.i += 1
            return True, float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "name" and tok.lower() in {"true", "false", "null"}:
            self.i += 1
            return True, {"true": True, "false": False, "null": None}[tok.lower()]
        return False, None

    def _value(self) -> tuple[Getter, str | None]:
        is_literal, value = self._literal()
        if is_literal:
            return (lambda _r: value), None
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "name":
            name = self.tokens[self.i][1]
            if name.lower() in _KEYWORDS:
                raise self.error(f"unexpected keyword {name!r}")
            self.i += 1
            self.columns.add(name)
            return _column(name), name
        got = self.peek()
        raise self.error(f"expected a column or a value, got {got!r}" if got else "unexpected end")

    def _predicate(self) -> Predicate:
        if self._sym("("):
            inner = self.expr()
            self._expect(")")
            return inner
        left, column = self._value()
        tok = self.peek()
        if tok in _OPS and self.tokens[self.i][0] == "op":
            self.i += 1
            right, _ = self._value()
            return _compare(_OPS[tok], left, right)
        if self._kw("is"):
            negate = self._kw("not")
            if not self._kw("null"):
                raise self.error("expected 'null' after 'is'")
            return (lambda r: left(r) is not None) if negate else (lambda r: left(r) is None)
        negate = self._kw("not")
        if self._kw("in"):
            self._expect("(")
            values = []
            while True:
                is_literal, value = self._literal()
                if not is_literal:
                    raise self.error("expected a literal in the 'in' list")
                values.append(value)
                if not self._sym(","):
                    break
            self._expect(")")
            options = frozenset(v for v in values if v is not None)

            def member(r: Mapping[str, Any]) -> bool:
                v = left(r)
                if v is None:
                    return False
                try:
                    found = v in options
                except TypeError:
                    return False
                return found != negate

            return member
        if negate:
            raise self.error("expected 'in' after 'not'")
        if column is None:
            raise self.error("a literal alone is not a condition")
        return lambda r: left(r) is True
