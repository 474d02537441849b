"""The port sink: when a flush confirms what was written, and what it reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshkit.contracts import Contract
from meshkit.ports import Change, DuckDBWarehouseWriter, Intake
from meshkit.privacy import Masker
from meshkit.streaming import (
    DeadLetters,
    KafkaDeadLetterPort,
    Pipeline,
    PortSet,
    dead_letter_topic,
)
from meshkit.streaming.records import RawMessage, SourcePosition
from meshkit.streaming.sinks import _PortPartition
from tests.sdk.streaming.flowkit import customer_stream


def _live_keys(changes: Sequence[Change]) -> set[tuple[Any, ...]]:
    """The keys whose newest change is an upsert."""
    return {c.key for c in Intake.compact(changes) if c.op == "upsert"}


def test_the_warehouse_port_commits_when_its_queue_runs_empty(
    kafka_broker: str, contract: Contract, masker: Masker, tmp_path: Path
) -> None:
    """Rows reach readers without waiting for the next snapshot (Bytewax's default epoch
    is 10 s), and the committed latency is recorded when they do."""
    stream = customer_stream(400, customers=100, seed=11)
    messages = [
        RawMessage(key, value, SourcePosition("crm.customers", 0, i), 1_700_000_000_000)
        for i, (key, value) in enumerate(stream.messages)
    ]
    batch = Pipeline(contract, masker, guard=False)(messages)
    assert batch.changes
    assert not batch.failures
    writer = DuckDBWarehouseWriter(tmp_path / "w.duckdb")
    writer.ensure(contract)
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"warehouse_table": writer}, letters, DeadLetters(contract))
    part = _PortPartition("p0", ports, None, tmp_path / "stats")
    try:
        part.write_batch([batch])
        part._threads[0].jobs.join()  # the thread wrote the batch, found no more: committed
        reader = writer.con.cursor()  # another connection: it sees committed rows only
        (count,) = reader.execute(f"SELECT count(*) FROM {writer.table}").fetchone() or (0,)
        assert count == len(_live_keys(batch.changes)) > 50
        timed = [c for c in batch.changes if c.ts_ms is not None]
        assert len(part.state.committed["warehouse_table"]) == len(timed) > 0
    finally:
        part.close()
