"""Logs as JSON lines (for a log collector) or as one readable line (for a person).

``configure_logging(fmt)`` sets the root logger's one handler (on stderr); ``fmt`` is
``json`` or ``console``, by default from ``MESHKIT_LOG_FORMAT`` (``console`` when unset),
the level from ``MESHKIT_LOG_LEVEL`` (``INFO``). A JSON line holds::

    {"ts": "2026-12-04T18:40:00.123Z", "level": "error", "logger": "meshkit.streaming.sinks",
     "message": "...", "product": "shop.customer", "step": "port:warehouse",
     "source": "shop.cdc.public.customers[2]@1041", "hint": "...",
     "error": "ServiceError", "where": ["sinks.py:187 in _run", ...]}

Context comes from a call's ``extra`` and only under the names of :data:`CONTEXT`
(product, step, source position, port, slot, topic, partition, and ``hint``: where to
look), so a stray attribute never carries a record into the log. An exception is logged
by its type and the file, line and function of its last frames: not its message (a
driver's message can quote a value), locals or arguments; the log call's own message says
what failed.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from meshkit.errors import ConfigError

FORMAT_ENV = "MESHKIT_LOG_FORMAT"
LEVEL_ENV = "MESHKIT_LOG_LEVEL"
FORMATS = ("console", "json")
CONTEXT = ("product", "step", "source", "port", "slot", "topic", "partition", "hint")


def _where(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    return [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames]


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        for name in CONTEXT:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = str(value)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["error"] = type(exc).__name__
            line["where"] = _where(exc)
        return orjson.dumps(line).decode()


class ConsoleFormatter(logging.Formatter):
    """``LEVEL logger: message [product=… step=… source=…]``, then a hint line."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = [
            f"{n}={record.__dict__[n]}"
            for n in CONTEXT
            if n != "hint" and record.__dict__.get(n) is not None
        ]
        if context:
            first, _, rest = text.partition("\n")
            text = f"{first} [{' '.join(context)}]" + (f"\n{rest}" if rest else "")
        hint = record.__dict__.get("hint")
        if hint:
            text += f"\n  look at: {hint}"
        return text


def log_format(fmt: str | None = None) -> str:
    """``fmt``, or ``MESHKIT_LOG_FORMAT``, or ``console``; anything else is an error."""
    chosen = (fmt or os.environ.get(FORMAT_ENV) or "console").strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(
            f"log format {chosen!r} (--log-format or {FORMAT_ENV}) is not one of: "
            + ", ".join(FORMATS)
        )
    return chosen


def configure_logging(
    fmt: str | None = None, level: str | int | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Make the root logger write ``fmt`` lines (see the module docstring) to ``stream``
    (stderr); replaces the handlers it had. Returns the handler."""
    chosen = log_format(fmt)
    level = level if level is not None else os.environ.get(LEVEL_ENV, "INFO").upper()
    if isinstance(level, str) and level not in logging.getLevelNamesMapping():
        raise ConfigError(f"{LEVEL_ENV}={level!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
