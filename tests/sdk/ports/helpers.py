"""Contracts, masked records, change workloads and a canonical form to compare ports by."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from meshkit.contracts import Contract
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.ports import Change
from meshkit.privacy import Masker

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ports"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def load(name: str = "customer") -> Contract:
    return Contract.model_validate(yaml.safe_load((FIXTURES / f"{name}.yaml").read_text()))


def raw(i: int, version: int = 0) -> dict[str, Any]:
    """A raw (unmasked) customer record; ``version`` changes its mutable fields."""
    r = random.Random(i * 1000 + version)
    return {
        "customer_id": f"c-{i:06d}",
        "email": f"person{i}@example.com",
        "phone": f"+49 170 {i:07d}",
        "born": date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
        "tier": r.choice(["free", "plus", "pro"]),
        "visits": r.randrange(0, 1000) if i % 7 else None,
        "balance": Decimal(r.randrange(0, 10**6)) / 100,
        "score": r.random() * 100,
        "active": bool(r.getrandbits(1)),
        "address": {"city": r.choice(["Berlin", "Lyon", None]), "country": "DE"},
        "tags": [r.choice(["a", "b", "c"]) for _ in range(i % 3)],
        "updated_at": T0 + timedelta(seconds=i * 60 + version),
    }


def workload(
    masker: Masker, n: int, *, seed: int = 7, updates: float = 0.2, deletes: float = 0.05
) -> list[Change]:
    """``n`` changes of masked records: new keys, updates of existing keys, deletes."""
    r = random.Random(seed)
    out: list[Change] = []
    live: list[int] = []
    next_id = 0
    for pos in range(n):
        x = r.random()
        if x < updates and live:
            i = r.choice(live)
            rec = masker.mask_record(raw(i, pos))
            out.append(Change.upsert(rec, key=(rec["customer_id"],), position=pos))
        elif x < updates + deletes and live:
            i = live.pop(r.randrange(len(live)))
            out.append(Change.delete(key=(f"c-{i:06d}",), position=pos))
        else:
            rec = masker.mask_record(raw(next_id))
            live.append(next_id)
            next_id += 1
            out.append(Change.upsert(rec, key=(rec["customer_id"],), position=pos))
    return out


def expected(changes: list[Change]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    """The state a port must end in: the newest change per key, deletes removed."""
    state: dict[tuple[Any, ...], tuple[int, Mapping[str, Any] | None]] = {}
    for c in changes:
        if c.key not in state or state[c.key][0] < c.position:
            state[c.key] = (c.position, c.record)
    return {k: rec for k, (_, rec) in state.items() if rec is not None}


def canon(contract: Contract, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record in one comparable form, whatever port it was read from."""
    return {f.name: _canon(f, f.type.kind, record.get(f.name)) for f in published_fields(contract)}


def _canon(f: PublishedField, kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind == "array":
        assert f.type.element is not None
        return [_canon(f, f.type.element.kind, x) for x in v] if v else None
    if kind == "struct":
        return {m.name: _canon(m, m.type.kind, v.get(m.name)) for m in f.fields}
    if kind == "timestamp":
        if isinstance(v, str):
            v = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return v.astimezone(UTC).isoformat()
    if kind == "date":
        return v if isinstance(v, str) else v.isoformat()
    if kind == "decimal":
        return str(Decimal(str(v)).quantize(Decimal(1).scaleb(-(f.type.scale or 0))))
    if kind == "float":
        return round(float(v), 9)
    return v


def canon_state(
    contract: Contract, rows: Mapping[Any, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    return {str(r["customer_id"]): canon(contract, r) for r in rows.values()}


BAD_CASES = [
    # (field changed, value, expected field named, message fragment)
    ("visits", "many", "visits", "does not fit type integer"),
    ("tier", None, "tier", "required, but null or missing"),
    ("email", "ada@example.com", "email", "personal data not transformed"),
    ("phone", "+49 170 1234567", "phone", "personal data not transformed"),
    ("born", date(1990, 5, 17), "born", "personal data not transformed"),
    ("address", {"city": "Lyon"}, "address.country", "required, but null or missing"),
    ("shoe_size", 42, "shoe_size", "not a field of shop.customer.v1"),
]


def batch_with_bad_record(masker: Masker, field: str, value: Any) -> list[Change]:
    """Ten good upserts with one bad record (key ``c-000099``) in the middle."""
    good = [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=i)
        for i in range(10)
    ]
    bad = {**masker.mask_record(raw(99)), field: value}
    return [*good[:5], Change.upsert(bad, key=("c-000099",), position=99), *good[5:]]
