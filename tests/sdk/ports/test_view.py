"""The serving-view writer and reader against the embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest

from meshkit.contracts import Contract
from meshkit.ports import Change, PortError, RecordRefusedError, SchemaChangeError
from meshkit.ports.view import ServingViewWriter, ViewReader
from meshkit.privacy import Masker
from tests.sdk.ports.helpers import (
    BAD_CASES,
    batch_with_bad_record,
    canon_state,
    expected,
    load,
    raw,
    workload,
)


@pytest.fixture
def writer(postgres_database: str, contract: Contract) -> Iterator[ServingViewWriter]:
    w = ServingViewWriter(postgres_database)
    w.ensure(contract)
    yield w
    w.close()


@pytest.fixture
def reader(postgres_database: str, contract: Contract) -> Iterator[ViewReader]:
    r = ViewReader(postgres_database, contract)
    yield r
    r.close()


def state(reader: ViewReader) -> dict[Any, dict[str, Any]]:
    return {r["customer_id"]: r for r in reader.all()}


def test_create_view_table_with_primary_key(
    writer: ServingViewWriter, postgres_database: str
) -> None:
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "FROM pg_attribute a WHERE a.attrelid = '\"shop.customer.v1\"'::regclass "
            "AND a.attnum > 0 ORDER BY a.attnum"
        )
        cols = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = '\"shop.customer.v1\"'::regclass AND contype = 'p'"
        )
        pk = cur.fetchall()
    conn.close()
    assert cols["customer_id"] == ("text", True)
    assert cols["balance"] == ("numeric(12,2)", False)
    assert cols["address"] == ("jsonb", False)
    assert cols["updated_at"] == ("timestamp with time zone", True)
    assert cols["_meshkit_pos"] == ("bigint", True)
    assert pk == [("PRIMARY KEY (customer_id)",)]


@pytest.mark.parametrize(("connections", "size"), [(1, 500), (2, 500), (2, 4500)])
def test_upserts_deletes_and_reads_by_key(
    postgres_database: str,
    reader: ViewReader,
    contract: Contract,
    masker: Masker,
    connections: int,
    size: int,
) -> None:
    """Batches of 4,500 are applied in two parts, on two connections at once."""
    writer = ServingViewWriter(postgres_database, connections=connections)
    writer.ensure(contract)
    changes = workload(masker, 9000)
    for i in range(0, len(changes), size):
        assert writer.write(changes[i : i + size]).staged == len(changes[i : i + size])
    writer.close()
    assert writer.applied.written + writer.applied.skipped == 9000
    want = expected(changes)
    assert canon_state(contract, state(reader)) == canon_state(contract, want)
    key, record = next(iter(want.items()))
    got = reader.get(*key)
    assert got is not None
    assert got["email"] == record["email"]
    assert got["address"] == record["address"]
    assert reader.get("c-nobody") is None


def test_replay_after_crash_is_idempotent(
    postgres_database: str, reader: ViewReader, contract: Contract, masker: Masker
) -> None:
    changes = workload(masker, 2000, seed=5)
    batches = [changes[i : i + 250] for i in range(0, 2000, 250)]
    first = ServingViewWriter(postgres_database)
    first.ensure(contract)
    for b in batches[:5]:
        first.write(b)
    first.flush()
    snapshot, written = state(reader), first.applied.written
    first.write(batches[4])
    first.flush()
    assert first.applied.written == written  # the replay wrote nothing
    assert state(reader) == snapshot
    first.close()
    second = ServingViewWriter(postgres_database)
    second.ensure(contract)
    for b in batches[2:]:
        second.write(b)
    second.close()
    assert canon_state(contract, state(reader)) == canon_state(contract, expected(changes))


def test_additive_evolution_and_refused_breaking_change(
    writer: ServingViewWriter, postgres_database: str, masker: Masker
) -> None:
    v11 = load("customer_v1_1")
    evolution = writer.ensure(v11)
    assert ([c.name for c in evolution.add], [c.name for c in evolution.relax]) == (
        ["nickname"],
        ["tier"],
    )
    rec = {**masker.mask_record(raw(3)), "nickname": "Bo", "tier": None}
    writer.write([Change.upsert(rec, key=("c-000003",), position=1)])
    writer.flush()
    reader = ViewReader(postgres_database, v11)
    got = reader.get("c-000003")
    reader.close()
    assert got is not None
    assert (got["nickname"], got["tier"]) == ("Bo", None)
    with pytest.raises(SchemaChangeError) as err:
        writer.ensure(load("customer_breaking"))
    assert "visits: type_changed, integer → string (breaking: readers decode another type); " in (
        str(err.value)
    )
    assert "column bigint -> text" in str(err.value)
    # the nickname column v1.1 added is not in the breaking contract: removed, also refused
    assert {c.kind for c in err.value.diff} == {
        "type_changed",
        "field_removed",
        "field_added_required",
        "made_required",
    }


@pytest.mark.parametrize(("field", "value", "named", "message"), BAD_CASES)
def test_bad_record_refused_and_nothing_written(
    writer: ServingViewWriter,
    reader: ViewReader,
    masker: Masker,
    field: str,
    value: Any,
    named: str,
    message: str,
) -> None:
    with pytest.raises(RecordRefusedError) as err:
        writer.write(batch_with_bad_record(masker, field, value))
    assert err.value.field == named
    assert message in str(err.value)
    writer.flush()
    assert reader.all() == []


def test_timestamps_keep_every_microsecond(
    writer: ServingViewWriter, reader: ViewReader, masker: Masker
) -> None:
    """Timestamps are staged as microseconds since the epoch: exact, before 1970 too."""
    stamps = {
        "c-000001": datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "c-000002": datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    }
    changes = [
        Change.upsert(
            {**masker.mask_record(raw(i + 1)), "updated_at": stamp}, key=(key,), position=i
        )
        for i, (key, stamp) in enumerate(stamps.items())
    ]
    writer.write(changes)
    writer.flush()
    for key, stamp in stamps.items():
        got = reader.get(key)
        assert got is not None
        assert got["updated_at"] == stamp


def test_a_failed_batch_is_reported_by_the_next_call_and_stops_the_writes(
    writer: ServingViewWriter, reader: ViewReader, postgres_database: str, masker: Masker
) -> None:
    """A batch that passes the contract but fails in PostgreSQL (a CHECK constraint the
    table has beyond the contract) is rolled back on its background thread; the next
    ``write`` raises ``PortError`` saying so and does not send its own batch."""
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute(
            'ALTER TABLE "shop.customer.v1" ADD CONSTRAINT few_visits CHECK (visits < 1000000)'
        )
    conn.close()

    def upsert(i: int, **change: Any) -> Change:
        return Change.upsert({**masker.mask_record(raw(i)), **change}, key=(f"c-{i:06d}",),
                             position=i)  # fmt: skip

    writer.write([upsert(1)])
    writer.flush()
    writer.write([upsert(2, visits=5_000_000)])  # accepted: the contract allows it
    with pytest.raises(PortError, match=r"rolled back .* this one was not sent; replay from"):
        writer.write([upsert(3)])
    assert sorted(state(reader)) == ["c-000001"]
    writer.write([upsert(2), upsert(3)])  # the replay, without the bad value
    writer.flush()
    assert sorted(state(reader)) == ["c-000001", "c-000002", "c-000003"]
