"""``Problem``: one thing wrong with a contract file, located to its line and column."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem in a file: where (line and column are 1-based; 0 when unknown), the
    field path (``fields[3].type``), what is wrong, what was expected, and a hint."""

    file: str
    line: int
    column: int
    path: str
    message: str
    expected: str | None = None
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        """``file:line:col: error: path: message (expected ...) hint: ...``."""
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.severity}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.expected:
            text += f" (expected {self.expected})"
        if self.hint:
            text += f" hint: {self.hint}"
        return " ".join(text.splitlines())  # one problem, one line, whatever the input held

    def to_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready mapping."""
        return asdict(self)


def display_path(path: tuple[str | int, ...]) -> str:
    """``('fields', 3, 'type')`` → ``fields[3].type``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN.fullmatch(part):
            text += ("." if text else "") + part
        else:
            text += f"[{part!r}]"
    return text
