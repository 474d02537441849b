"""The port sink when a port fails: what the user sees, and what is acknowledged.

A port that raises at ``write``, at ``flush`` (in its own thread or at a snapshot), a
record a port refuses, and a port thread that dies. In every case the snapshot (after
which Bytewax commits the input positions) either confirms what was written or raises,
naming the port and never a value of a record; nothing is counted as written that the
port did not confirm.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg2
import pytest
from psycopg2 import sql

from meshkit.contracts import Contract
from meshkit.local.search import local_search_client
from meshkit.ports import (
    DuckDBWarehouseWriter,
    PortError,
    PortWriter,
    SearchIndexWriter,
    ServingViewWriter,
)
from meshkit.privacy import Masker
from meshkit.streaming import (
    DeadLetters,
    KafkaDeadLetterPort,
    Pipeline,
    PortSet,
    dead_letter_topic,
)
from meshkit.streaming.pipeline import PortBatch
from meshkit.streaming.records import RawMessage, SourcePosition
from meshkit.streaming.sinks import _PortPartition
from meshkit.testing import SearchEndpoint
from tests.sdk.streaming.flowkit import consume_all, unique_contract
from tests.sdk.streaming.helpers import envelope, key_bytes, row

pytestmark = [pytest.mark.services]

TOPIC = "crm.customers"
HANG = 60.0  # seconds: a call still running by then hangs (the test fails, it does not wait on)


def _batch(contract: Contract, masker: Masker, n: int = 6) -> PortBatch:
    raws = [
        RawMessage(
            key_bytes(i),
            orjson.dumps(envelope("c", None, row(i), 1000 + i)),
            SourcePosition(TOPIC, 0, i),
            1_700_000_000_000,
        )
        for i in range(n)
    ]
    batch = Pipeline(contract, masker, guard=False)(raws)
    assert len(batch.changes) == n
    assert not batch.failures
    return batch


def _values(batch: PortBatch) -> list[str]:
    """The record values of ``batch`` long enough to be recognised in a message."""
    out = []
    for c in batch.changes:
        for v in (c.record or {}).values():
            text = str(v)
            if len(text) >= 6:
                out.append(text)
    return out


def _partition(
    kafka_broker: str,
    contract: Contract,
    writers: Mapping[str, PortWriter],
    tmp_path: Path,
    *,
    threads: bool = True,
) -> _PortPartition:
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet(writers, letters, DeadLetters(contract))
    return _PortPartition("p0", ports, None, tmp_path / "stats", threads)


def _call(fn: Callable[[], Any]) -> BaseException | None:
    """The exception ``fn`` raises (None if it returns); fails the test if it hangs."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the test
            outcome.append(exc)
        else:
            outcome.append(None)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG)
    assert outcome, f"{fn} still running after {HANG} s: it hangs"
    return outcome[0]


def _close(part: _PortPartition) -> None:
    """Close the partition, whatever the failing port raises there (already seen)."""
    _call(part.close)


def _assert_clear(exc: BaseException | None, port: str, batch: PortBatch) -> str:
    assert isinstance(exc, PortError), exc
    text = str(exc)
    assert port in text
    leaked = [v for v in _values(batch) if v in text]
    assert not leaked, f"record values in the error: {leaked}"
    return text


def _rows(path: Path, table: str) -> int:
    con = duckdb.connect(str(path))
    try:
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
        return int(count)
    finally:
        con.close()


def test_a_port_raising_at_write_fails_the_snapshot_and_every_later_batch(
    kafka_broker: str, postgres_database: str, masker: Masker, tmp_path: Path
) -> None:
    """The serving view's database drops its connections after the table was made: the
    write fails in the port's thread; the next snapshot raises it, so no position is
    committed, and a later batch is refused too instead of being written past it."""
    contract = unique_contract()
    batch = _batch(contract, masker)
    view = ServingViewWriter(postgres_database)
    view.ensure(contract)
    admin = psycopg2.connect(postgres_database)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        part = _partition(kafka_broker, contract, {"serving_view": view}, tmp_path)
        try:
            part.write_batch([batch])
            exc = _call(part.snapshot)
            _assert_clear(exc, "PostgreSQL table", batch)
            assert part.state.counts["written"] == 0
            again = _call(lambda: part.write_batch([batch]))
            assert type(again) is type(exc)
            assert str(again) == str(exc)
            assert not (tmp_path / "stats" / "p0.json").exists()  # no snapshot completed
        finally:
            _close(part)
        with admin.cursor() as cur:
            table = sql.Identifier("public", contract.address)
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
            assert cur.fetchone() == (0,)
    finally:
        admin.close()


def test_a_port_raising_at_its_own_flush_fails_the_snapshot(
    kafka_broker: str, contract: Contract, masker: Masker, tmp_path: Path
) -> None:
    """The DuckDB writer stages at ``write`` and applies at ``flush``, which its thread runs
    when its queue is empty: a lost connection fails there, and the snapshot says so."""
    contract = unique_contract()
    batch = _batch(contract, masker)
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    table = writer.table
    part = _partition(kafka_broker, contract, {"warehouse_table": writer}, tmp_path)
    try:
        writer.con.close()
        part.write_batch([batch])
        exc = _call(part.snapshot)
        _assert_clear(exc, "DuckDB table", batch)
        assert part.state.counts["written"] == 0
    finally:
        _close(part)
    assert _rows(path, table) == 0


def test_a_port_raising_during_a_snapshot_fails_it(
    kafka_broker: str, masker: Masker, tmp_path: Path
) -> None:
    """Ports written in the dataflow's thread flush only at the snapshot: a failure there
    raises from the snapshot, with nothing committed and nothing counted as written."""
    contract = unique_contract()
    batch = _batch(contract, masker)
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    table = writer.table
    part = _partition(kafka_broker, contract, {"warehouse_table": writer}, tmp_path, threads=False)
    try:
        part.write_batch([batch])
        writer.con.close()
        exc = _call(part.snapshot)
        _assert_clear(exc, "DuckDB table", batch)
        assert not (tmp_path / "stats" / "p0.json").exists()
    finally:
        _close(part)
    assert _rows(path, table) == 0


def test_a_server_error_during_a_snapshot_names_the_port_and_no_value(
    kafka_broker: str, search_server: SearchEndpoint, masker: Masker, tmp_path: Path
) -> None:
    """The search writer refreshes its index at the snapshot's flush; the server is gone by
    then. Before, the client's own exception reached the flow as it was; now the snapshot
    raises a ``PortError`` naming the port, with the error described, not quoted."""
    contract = unique_contract()
    batch = _batch(contract, masker)
    search = SearchIndexWriter(local_search_client(search_server.url))
    search.ensure(contract)
    part = _partition(kafka_broker, contract, {"search_index": search}, tmp_path)
    try:
        part.write_batch([batch])
        part._threads[0].wait()  # written: 6 documents
        search.client = local_search_client("http://127.0.0.1:9")  # nothing listens there
        exc = _call(part.snapshot)
        text = _assert_clear(exc, "port search_index of p0", batch)
        assert "nothing since the last snapshot is committed" in text
        assert not (tmp_path / "stats" / "p0.json").exists()
    finally:
        _close(part)


def test_a_refused_record_is_one_dead_letter_and_the_rest_is_written(
    kafka_broker: str, masker: Masker, tmp_path: Path
) -> None:
    contract = unique_contract()
    batch = _batch(contract, masker)
    refused = batch.changes[2]
    assert refused.record is not None
    refused.record["tier"] = None  # required
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    table = writer.table
    part = _partition(kafka_broker, contract, {"warehouse_table": writer}, tmp_path)
    try:
        part.write_batch([batch])
        counts = _call(part.snapshot) or part.state.counts
    finally:
        _close(part)
    assert counts == {"received": 6, "written": 5, "skipped": 0, "dead_letters": 1}
    assert _rows(path, table) == 5
    written = consume_all(kafka_broker, dead_letter_topic(contract))
    (letter,) = [orjson.loads(m.value()) for m in written]
    assert (letter["step"], letter["field"], letter["source"]) == (
        "port:warehouse_table",
        "tier",
        f"{TOPIC}[0]@2",
    )
    assert "required" in letter["reason"]
    assert not [v for v in _values(batch) if v in letter["reason"]]


class _KilledError(Exception):
    """Raised inside a port's thread from outside, as an unexpected error would end it."""


def test_a_port_thread_that_dies_fails_the_flow_instead_of_hanging_it(
    kafka_broker: str, masker: Masker, tmp_path: Path
) -> None:
    """The thread of the warehouse port ends with an error outside any write (here raised
    into it while it waits for work): the batch it was handed is never written. Before,
    the snapshot waited for it for ever; now it raises, naming the port."""
    contract = unique_contract()
    batch = _batch(contract, masker)
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    table = writer.table
    part = _partition(kafka_broker, contract, {"warehouse_table": writer}, tmp_path)
    try:
        (port_thread,) = part._threads
        ident = port_thread.thread.ident
        assert ident is not None
        done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(_KilledError)
        )
        assert done == 1
        part.write_batch([batch])  # wakes the thread, which dies on the pending error
        port_thread.thread.join(HANG)
        assert not port_thread.thread.is_alive()
        exc = _call(part.snapshot)
        text = _assert_clear(exc, "warehouse_table", batch)
        assert "stopped" in text
        assert part.state.counts["written"] == 0
        assert _call(lambda: part.write_batch([batch])) is not None
    finally:
        _close(part)
    assert _rows(path, table) == 0
