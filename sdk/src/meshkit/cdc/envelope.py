"""The Debezium change-event envelope: ``{before, after, source, op, ts_ms, ...}``.

``source`` carries what a consumer needs to order and deduplicate events: ``lsn`` (the
WAL position of the change), ``txId`` and ``sequence`` (``["<last commit lsn>",
"<lsn>"]``, as Debezium writes it). ``snapshot`` is Debezium's string enum: ``"true"`` for
snapshot rows (``"first"`` / ``"last"`` at the ends of the snapshot) and ``"false"`` when
streaming.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from meshkit.cdc.debezium import FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class SourceBase:
    """The ``source`` fields that are the same for every event of one capture."""

    name: str  # Debezium's logical server name (topic.prefix)
    db: str


def source(
    base: SourceBase,
    *,
    schema: str,
    table: str,
    lsn: int,
    tx_id: int | None,
    commit_time_us: int,
    snapshot: str = "false",
    last_commit_lsn: int | None = None,
) -> dict[str, Any]:
    """One event's ``source`` block."""
    last = None if last_commit_lsn is None else str(last_commit_lsn)
    return {
        "version": FORMAT_VERSION,
        "connector": "postgresql",
        "name": base.name,
        "ts_ms": commit_time_us // 1000,
        "ts_us": commit_time_us,
        "ts_ns": commit_time_us * 1000,
        "snapshot": snapshot,
        "db": base.db,
        "sequence": f'[{"null" if last is None else chr(34) + last + chr(34)},"{lsn}"]',
        "schema": schema,
        "table": table,
        "txId": tx_id,
        "lsn": lsn,
        "xmin": None,
    }


def envelope(
    op: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    src: dict[str, Any],
    now_ns: int | None = None,
) -> dict[str, Any]:
    """A change-event value; ``op`` is one of ``c u d r t``."""
    now = time.time_ns() if now_ns is None else now_ns
    return {
        "before": before,
        "after": after,
        "source": src,
        "transaction": None,
        "op": op,
        "ts_ms": now // 1_000_000,
        "ts_us": now // 1000,
        "ts_ns": now,
    }


def topic_name(prefix: str, schema: str, table: str) -> str:
    """Debezium's topic for a table: ``<topic.prefix>.<schema>.<table>``."""
    return f"{prefix}.{schema}.{table}"


_TOPIC_CHARS = re.compile(r"^[a-zA-Z0-9._-]+$")
#: Kafka's longest topic name.
MAX_TOPIC_LENGTH = 249


def topic_problem(topic: str) -> str | None:
    """Why Kafka cannot have a topic of this name, or ``None`` when it can."""
    if not _TOPIC_CHARS.match(topic):
        return "not a valid Kafka topic name (letters, digits, '.', '_' and '-' only)"
    if len(topic) > MAX_TOPIC_LENGTH:
        return f"longer than {MAX_TOPIC_LENGTH} characters, Kafka's limit"
    return None
