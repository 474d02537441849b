"""Value transforms that hide a value in place: redact, keep the last N characters, keep the
e-mail domain.

Every transform here (and in ``generalize``) has two faces with identical results:
``value(v)`` for one non-null value (the record path) and ``array(a)`` for an Arrow
column (the batch path, vectorised with ``pyarrow.compute``; nulls stay null). A value
or column of the wrong type raises ``PrivacyError``; the masker adds the field name. A
message says what kind of value was wrong, never the value (it is personal data).
"""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.privacy.errors import PrivacyError


class ValueTransform(Protocol):
    """One field's transform: the record face and the batch face."""

    def value(self, v: Any) -> Any:
        """Transform one non-null value."""
        ...

    def array(self, a: pa.Array) -> pa.Array:
        """Transform a column; nulls stay null."""
        ...


def as_string_array(a: pa.Array, what: str) -> pa.Array:
    """``a`` as ``pa.string()``; ``PrivacyError`` unless it holds text."""
    if pa.types.is_string(a.type):
        return a
    if pa.types.is_large_string(a.type) or pa.types.is_string_view(a.type):
        return pc.cast(a, pa.string())
    raise PrivacyError(f"{what} applies to text, but the column is {a.type}")


def check_str(v: Any, what: str) -> str:
    if type(v) is not str:
        raise PrivacyError(f"{what} applies to text, got {type(v).__name__}")
    return v


class Redact:
    """Replace every non-null value with one constant (the same for every row).

    ``None`` as the constant makes every value null (keeping the column's type); a
    constant of another type than the column changes the column's type to the constant's.
    """

    def __init__(self, constant: Any = "[REDACTED]", typ: pa.DataType | None = None) -> None:
        self.constant = constant
        self._type = typ if typ is not None or constant is None else pa.scalar(constant).type

    def value(self, v: Any) -> Any:  # noqa: ARG002 - every value gets the constant
        return self.constant

    def array(self, a: pa.Array) -> pa.Array:
        if self.constant is None:
            return pa.nulls(len(a), a.type)
        filled = pa.array([self.constant], self._type).take(pa.array([0] * len(a), pa.int32()))
        return pc.if_else(pc.is_null(a), pa.scalar(None, self._type), filled)


class KeepLast:
    """Mask all but the last ``n`` characters (``'************4242'``).

    A value of ``n`` characters or fewer is masked entirely: keeping it would reveal it.
    """

    def __init__(self, n: int = 4, char: str = "*") -> None:
        if n < 0 or len(char) != 1:
            raise PrivacyError("mask: keep must be >= 0 and the mask character one character")
        self.n = n
        self.char = char

    def value(self, v: Any) -> Any:
        s = check_str(v, "mask")
        if len(s) > self.n:
            return self.char * (len(s) - self.n) + (s[-self.n :] if self.n else "")
        return self.char * len(s)

    def array(self, a: pa.Array) -> pa.Array:
        s = as_string_array(a, "mask")
        length = pc.utf8_length(s)
        long = pc.greater(length, self.n)
        head = pc.binary_repeat(self.char, pc.if_else(long, pc.subtract(length, self.n), length))
        tail = (
            pc.utf8_slice_codeunits(s, -self.n)
            if self.n
            else pc.if_else(pc.is_null(s), pa.scalar(None, pa.string()), "")
        )
        tail = pc.if_else(long, tail, "")
        return pc.binary_join_element_wise(head, tail, "")


class EmailDomain:
    """Keep only the e-mail domain (``'***@example.com'``); text without ``@`` becomes ``'***'``.

    The local part is replaced by three mask characters whatever its length, so its length
    does not leak; the domain is what follows the last ``@``.
    """

    def __init__(self, char: str = "*") -> None:
        self.char = char
        self.hidden = char * 3

    def value(self, v: Any) -> Any:
        s = check_str(v, "mask (email domain)")
        _, at, domain = s.rpartition("@")
        return f"{self.hidden}@{domain}" if at else self.hidden

    def array(self, a: pa.Array) -> pa.Array:
        s = as_string_array(a, "mask (email domain)")
        replaced = pc.replace_substring_regex(s, pattern="(?s)^.*@", replacement=self.hidden + "@")
        return pc.if_else(pc.match_substring(s, "@"), replaced, self.hidden)
