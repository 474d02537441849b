"""Builders of the streaming tests: Debezium events as the CDC capture writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from meshkit.contracts import Contract
from meshkit.contracts.loader import load_contract
from meshkit.streaming import RawMessage, SourcePosition

FIXTURES = Path(__file__).parents[2] / "fixtures" / "streaming"
TOPIC = "shop.cdc.public.customers"


def load(name: str) -> Contract:
    return load_contract(FIXTURES / f"{name}.yaml")


def row(i: int, **changes: Any) -> dict[str, Any]:
    """A customers row as Debezium writes it (decimal as text, timestamptz as ISO text)."""
    base = {
        "id": i,
        "email_address": f"user{i}@example.com",
        "phone": f"+31 6 {10000000 + i}",
        "birth_date": 7000 + i % 3000,  # days since 1970-01-01
        "tier": ("free", "plus", "pro")[i % 3],
        "balance_cents_eur": f"{i % 1000}.{i % 100:02d}",
        "note": f"customer number {i}",
        "signed_up_at": "2024-05-01T10:00:00.000000Z",
        "status": "active",
    }
    base.update(changes)
    return base


def envelope(
    op: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    lsn: int,
    *,
    ts_ms: int = 1_700_000_000_000,
    table: str = "customers",
) -> dict[str, Any]:
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "2.7.0.Final+meshkit",
            "connector": "postgresql",
            "name": "shop.cdc",
            "ts_ms": ts_ms,
            "snapshot": "false",
            "db": "crm",
            "schema": "public",
            "table": table,
            "txId": lsn // 10,
            "lsn": lsn,
        },
        "op": op,
        "ts_ms": ts_ms,
    }


def key_bytes(i: int) -> bytes:
    return orjson.dumps({"id": i})


def message(
    value: dict[str, Any] | bytes | None, offset: int, key: bytes | None = None
) -> RawMessage:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return RawMessage(key, raw, SourcePosition(TOPIC, 0, offset))
