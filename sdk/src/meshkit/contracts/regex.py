"""The one regular-expression engine of contract patterns: RE2.

DuckDB (``regexp_full_match``), BigQuery (``REGEXP_CONTAINS``) and Arrow
(``match_substring_regex``) run RE2; so do the contract's lint (``compile_pattern``)
and the record validator of the streaming path (``full_matcher``, through the
``google-re2`` binding). One engine means one meaning: ``\\d`` is an ASCII digit
everywhere, and a pattern that passes lint runs in every port. RE2 matches in time
linear in the value's length, so no pattern can make a record take exponential time.
Patterns RE2 cannot run (look-ahead and look-behind, back-references, possessive
quantifiers) are refused at lint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error is raised; RE2 must not also print it


class PatternError(ValueError):
    """A pattern RE2 cannot compile (the message says why)."""


def compile_pattern(pattern: str) -> Any:
    """The RE2 program of ``pattern``; ``PatternError`` when RE2 refuses it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"not an RE2 regular expression ({reason}); the warehouses and the streaming "
            "path run RE2, which has no look-around and no back-references"
        ) from None


def full_matcher(pattern: str) -> Callable[[str], bool]:
    """A function telling whether a whole text matches ``pattern`` (RE2 semantics).

    It calls the RE2 program directly on the UTF-8 bytes: the binding's ``fullmatch``
    also decodes the match's offsets, which costs several times the match itself.
    """
    compiled = compile_pattern(pattern)
    program = getattr(compiled, "_regexp", None)
    if program is None or not hasattr(program, "Match"):  # another binding version
        return lambda value: compiled.fullmatch(value) is not None
    both = re2._Anchor.ANCHOR_BOTH

    def matches(value: str) -> bool:
        text = value.encode("utf-8", "surrogatepass")
        return bool(program.Match(both, text, 0, len(text))[0][0] >= 0)

    return matches
