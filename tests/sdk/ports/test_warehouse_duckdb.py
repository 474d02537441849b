"""The DuckDB warehouse writer against a real DuckDB file."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest

from meshkit.contracts import Contract
from meshkit.ports import (
    Change,
    DuckDBWarehouseWriter,
    PortError,
    RecordRefusedError,
    SchemaChangeError,
)
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

TABLE = "shop.customer_v1"


@pytest.fixture
def writer(tmp_path: Path, contract: Contract) -> DuckDBWarehouseWriter:
    w = DuckDBWarehouseWriter(tmp_path / "warehouse.duckdb")
    w.ensure(contract)
    return w


def rows(con: duckdb.DuckDBPyConnection) -> dict[Any, dict[str, Any]]:
    cur = con.execute(f"SELECT * FROM {TABLE}")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_create_table_from_contract(writer: DuckDBWarehouseWriter) -> None:
    cols = writer.con.execute(
        "SELECT column_name, data_type, is_nullable, comment FROM duckdb_columns() "
        "WHERE schema_name = 'shop' AND table_name = 'customer_v1'"
    ).fetchall()
    by_name = {c[0]: c[1:] for c in cols}
    assert by_name["customer_id"] == ("VARCHAR", False, "CRM id.")
    assert by_name["balance"][0] == "DECIMAL(12,2)"
    assert by_name["updated_at"][:2] == ("TIMESTAMP WITH TIME ZONE", False)
    assert by_name["address"][0] == "STRUCT(city VARCHAR, country VARCHAR)"
    assert by_name["tags"][0] == "VARCHAR[]"
    assert by_name["_meshkit_pos"][:2] == ("BIGINT", False)
    comment = writer.con.execute(
        "SELECT comment FROM duckdb_tables() WHERE table_name = 'customer_v1'"
    ).fetchall()
    assert comment == [("Shop customers, current state.",)]


def test_token_column_is_stored_uncompressed(writer: DuckDBWarehouseWriter, masker: Masker) -> None:
    # tokens are random-looking hex: compressing them costs ~3x the write for ~2x the size
    changes = workload(masker, 3_000, seed=4)
    writer.write(changes)
    writer.flush()
    writer.con.execute("CHECKPOINT")
    used = dict(
        writer.con.execute(
            "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info(?) "
            "WHERE segment_type = 'VARCHAR' GROUP BY ALL",
            [TABLE],
        ).fetchall()
    )
    assert used["email"] == ["Uncompressed"]
    assert used["customer_id"] != ["Uncompressed"]  # other text columns stay compressed


@pytest.mark.parametrize("stage_rows", [250_000, 700])
def test_upserts_and_deletes_end_in_the_newest_state(
    tmp_path: Path, contract: Contract, masker: Masker, stage_rows: int
) -> None:
    """Applied as one at the flush, or every 700 staged rows (a key's changes then span
    several applies)."""
    writer = DuckDBWarehouseWriter(tmp_path / "w.duckdb", stage_rows=stage_rows)
    writer.ensure(contract)
    changes = workload(masker, 3000)
    for i in range(0, len(changes), 500):
        assert writer.write(changes[i : i + 500]).staged == 500
    writer.flush()
    want = expected(changes)
    assert len(want) < 3000  # the workload did update and delete
    assert canon_state(contract, rows(writer.con)) == canon_state(contract, want)
    assert writer.applied.written + writer.applied.skipped == 3000
    assert writer.applied.written >= len(want)


def test_replay_after_crash_leaves_the_table_as_if_once(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    changes = workload(masker, 2000, seed=3)
    batches = [changes[i : i + 250] for i in range(0, 2000, 250)]
    path = tmp_path / "w.duckdb"
    first = DuckDBWarehouseWriter(path)
    first.ensure(contract)
    for b in batches[:6]:
        first.write(b)
    first.flush()
    snapshot, written = rows(first.con), first.applied.written
    # the last batch replayed (written, but the caller crashed before committing): no-op
    first.write(batches[5])
    first.flush()
    assert first.applied.written == written
    assert rows(first.con) == snapshot
    # a replay from an older committed position: once caught up, the same table
    for b in batches[2:6]:
        first.write(b)
    first.flush()
    assert rows(first.con) == snapshot
    first.close()  # the "crash": a new process resumes from its last committed position
    second = DuckDBWarehouseWriter(path)
    second.ensure(contract)
    for b in batches[3:]:
        second.write(b)
    second.flush()
    assert canon_state(contract, rows(second.con)) == canon_state(contract, expected(changes))


@pytest.mark.parametrize("flush_each", [False, True])
def test_older_change_never_overwrites_a_newer_one(
    writer: DuckDBWarehouseWriter, masker: Masker, flush_each: bool
) -> None:
    """Whether the changes meet in one apply or in the table."""
    new = masker.mask_record(raw(1, version=2))
    old = masker.mask_record(raw(1, version=1))
    for change in (
        Change.upsert(new, key=("c-000001",), position=10),
        Change.upsert(old, key=("c-000001",), position=5),
        Change.delete(key=("c-000001",), position=7),
    ):
        writer.write([change])
        if flush_each:
            writer.flush()
    writer.flush()
    row = rows(writer.con)["c-000001"]
    assert (row["tier"], row["_meshkit_pos"]) == (new["tier"], 10)


def test_additive_evolution_is_applied(writer: DuckDBWarehouseWriter, masker: Masker) -> None:
    writer.write([Change.upsert(masker.mask_record(raw(1)), key=("c-000001",), position=1)])
    evolution = writer.ensure(load("customer_v1_1"))
    assert [c.name for c in evolution.add] == ["nickname"]
    assert [c.name for c in evolution.relax] == ["tier"]
    rec = {**masker.mask_record(raw(2)), "nickname": "Bo", "tier": None}
    writer.write([Change.upsert(rec, key=("c-000002",), position=2)])
    writer.flush()
    got = rows(writer.con)
    assert got["c-000002"]["nickname"] == "Bo"
    assert got["c-000002"]["tier"] is None
    assert got["c-000001"]["nickname"] is None
    assert writer.ensure(load("customer_v1_1")).empty  # idempotent


def test_breaking_change_is_refused_with_the_contract_diff(writer: DuckDBWarehouseWriter) -> None:
    before = writer.con.execute(f"DESCRIBE {TABLE}").fetchall()
    with pytest.raises(SchemaChangeError) as err:
        writer.ensure(load("customer_breaking"))
    text = str(err.value)
    # every refused change of the contracts' diff, with its kind and the catalogue's reason
    assert {(c.kind, c.path) for c in err.value.diff} == {
        ("type_changed", "visits"),
        ("field_removed", "active"),
        ("field_added_required", "segment"),
    }
    assert (
        "visits: type_changed, integer → string (breaking: readers decode another type); "
        "column BIGINT -> VARCHAR"
    ) in text
    assert "active: field_removed, boolean field removed (breaking: readers of the field fail)" in (
        text
    )
    assert "segment: field_added_required, new required string field (breaking:" in text
    assert "publish a new major version" in text
    assert writer.con.execute(f"DESCRIBE {TABLE}").fetchall() == before


def test_compatible_but_in_place_impossible_change_is_refused_with_its_reason(
    writer: DuckDBWarehouseWriter, contract: Contract
) -> None:
    """A widened type is compatible for readers (the diff says so), but a column's type is
    not changed in place: the port refuses it and says both."""
    data = contract.model_dump(mode="json", exclude_none=True)
    for f in data["fields"]:
        if f["name"] == "visits":
            f["type"] = "float"
    with pytest.raises(SchemaChangeError) as err:
        writer.ensure(Contract.model_validate(data))
    assert [(c.kind, c.path, c.breaking) for c in err.value.diff] == [
        ("type_widened", "visits", False)
    ]
    assert "visits: type_widened, integer → float (compatible for readers" in str(err.value)
    assert "a column's type is not changed in place); column BIGINT -> DOUBLE" in str(err.value)


@pytest.mark.parametrize(("field", "value", "named", "message"), BAD_CASES)
def test_bad_record_is_refused_naming_the_field_and_nothing_is_written(
    writer: DuckDBWarehouseWriter, masker: Masker, field: str, value: Any, named: str, message: str
) -> None:
    with pytest.raises(RecordRefusedError) as err:
        writer.write(batch_with_bad_record(masker, field, value))
    assert err.value.field == named
    assert message in str(err.value)
    assert "upsert at position 99" in str(err.value)
    assert "c-000099" not in str(err.value)  # the key is a value of the record
    writer.flush()
    assert rows(writer.con) == {}


def test_append_mode_inserts_each_key_once(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    w = DuckDBWarehouseWriter(tmp_path / "events.duckdb", mode="append")
    w.ensure(contract)
    batch = [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=i)
        for i in range(20)
    ]
    w.write(batch)
    w.flush()
    w.write(batch[10:])  # replayed
    w.flush()
    assert len(rows(w.con)) == 20
    with pytest.raises(RecordRefusedError, match="append-only table takes no deletes"):
        w.write([Change.delete(key=("c-000001",), position=50)])


def test_writes_are_committed_together_by_flush(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    """Group commit: other connections see the writes once ``flush`` returned."""
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    other = duckdb.connect(str(path))  # the same database, another connection
    changes = workload(masker, 600, seed=5)
    writer.write(changes[:300])
    writer.write(changes[300:])
    assert rows(other) == {}  # not committed yet
    writer.flush()
    assert canon_state(contract, rows(other)) == canon_state(contract, expected(changes))
    writer.close()
    other.close()


def test_failing_statement_rolls_back_every_write_since_the_last_flush(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    """A batch that passes the contract but fails in DuckDB (here a CHECK constraint the
    table was created with) rolls back the transaction: the writes since the last flush
    are gone, the flushed ones stay, and the error says to replay."""
    scratch = DuckDBWarehouseWriter(duckdb.connect())
    scratch.ensure(contract)
    ddl = scratch.con.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = 'customer_v1'"
    ).fetchone()
    assert ddl is not None
    checked = ddl[0].rstrip().rstrip(";").removesuffix(")") + ", CHECK (visits < 1000000))"
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA shop")
        con.execute(checked)
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    first = Change.upsert(masker.mask_record(raw(1)), key=("c-000001",), position=1)
    second = Change.upsert(masker.mask_record(raw(2)), key=("c-000002",), position=2)
    bad = {**masker.mask_record(raw(3)), "visits": 5_000_000}
    writer.write([first])
    writer.flush()
    writer.write([second])
    writer.write([Change.upsert(bad, key=("c-000003",), position=3)])  # staged
    with pytest.raises(
        PortError, match=r"rolled back .*replay them from the last committed"
    ) as err:
        writer.flush()
    assert "CHECK constraint" in str(err.value), err.value
    assert sorted(rows(writer.con)) == ["c-000001"]
    writer.write([second])  # the replay
    writer.close()
    with duckdb.connect(str(path)) as con:
        assert sorted(rows(con)) == ["c-000001", "c-000002"]


def test_staged_rows_are_applied_at_the_limit_and_committed_by_flush(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    """``stage_rows`` bounds what a writer holds in memory: the write that reaches it
    applies the staged changes (the writer's connection sees them), but only ``flush``
    commits them for other connections."""
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path, stage_rows=250)
    writer.ensure(contract)
    other = duckdb.connect(str(path))
    changes = [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=i)
        for i in range(300)
    ]
    writer.write(changes[:200])
    assert (writer.applied.written, len(rows(writer.con))) == (0, 0)  # staged only
    writer.write(changes[200:])  # 300 staged >= 250: applied
    assert writer.applied.written == 300
    assert len(rows(writer.con)) == 300
    assert rows(other) == {}
    writer.flush()
    assert len(rows(other)) == 300
    writer.close()
    other.close()


def test_flushed_batches_survive_a_killed_process_before_any_checkpoint(
    tmp_path: Path, contract: Contract, masker: Masker
) -> None:
    """A writer that opened the database checkpoints rarely (``CHECKPOINT_THRESHOLD``): what
    ``flush`` committed lives in the write-ahead log until then, and a process killed
    before its close (no checkpoint) loses none of it."""
    changes = workload(masker, 1200, seed=11)
    data = tmp_path / "changes.pickle"
    data.write_bytes(pickle.dumps((contract, changes)))
    path = tmp_path / "w.duckdb"
    script = textwrap.dedent(
        f"""
        import os, pickle
        from pathlib import Path
        from meshkit.ports import DuckDBWarehouseWriter
        contract, changes = pickle.loads(Path({str(data)!r}).read_bytes())
        writer = DuckDBWarehouseWriter({str(path)!r})
        writer.ensure(contract)
        for i in range(0, len(changes), 200):
            writer.write(changes[i : i + 200])
            writer.flush()
        os._exit(0)  # killed: no close, no checkpoint
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=Path.cwd(), timeout=120, check=False)
    assert done.returncode == 0
    assert Path(f"{path}.wal").stat().st_size > 0  # the flushed batches are in the log
    con = duckdb.connect(str(path))
    assert canon_state(contract, rows(con)) == canon_state(contract, expected(changes))
    con.close()


def test_checkpoint_threshold_is_raised_only_on_a_database_the_writer_opens(
    tmp_path: Path, contract: Contract
) -> None:
    def threshold(con: duckdb.DuckDBPyConnection) -> str:
        row = con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
        assert row is not None
        return str(row[0])

    own = DuckDBWarehouseWriter(tmp_path / "own.duckdb")
    assert threshold(own.con) == "61.0 MiB"  # CHECKPOINT_THRESHOLD, 64 MB
    own.close()
    theirs = duckdb.connect(str(tmp_path / "theirs.duckdb"))
    before = threshold(theirs)
    writer = DuckDBWarehouseWriter(theirs)
    writer.ensure(contract)
    writer.close()
    assert threshold(theirs) == before != "61.0 MiB"
    theirs.close()
