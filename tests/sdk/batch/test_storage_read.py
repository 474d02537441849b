"""Batch inputs on BigQuery through the Storage Read API, on the emulator's gRPC endpoint.

The table is written by meshkit's own BigQuery path (``ensure`` + ``replace``); the reads
go through the Storage Read API of the emulator and are compared with the query path's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from meshkit.batch.assets import contract_metadata, warehouse_table
from meshkit.batch.storage_read import StorageReader, outside_window, row_restriction
from meshkit.batch.validate import PartitionWindow
from meshkit.batch.warehouse import BigQuerySession
from meshkit.cli.app import app
from meshkit.clients import bigquery_read_client, emulator_read_client
from meshkit.contracts import Contract
from meshkit.local import emulator_job_retry, emulator_retry
from meshkit.local.settings import LocalSettings
from meshkit.settings import load_settings
from meshkit.testing import BigQueryEndpoint

pytestmark = [pytest.mark.services]

DAY1 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY2 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
DAY3 = dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
LOGGER = "meshkit.batch.warehouse"


def _orders(ids: list[str], day: dt.datetime) -> pa.Table:
    return pa.table(
        {
            "order_id": ids,
            "customer_id": ["c1"] * len(ids),
            "tier": ["pro"] * len(ids),
            "total": pa.array([10.0 * (i + 1) for i in range(len(ids))], pa.float64()),
            "placed_at": pa.array(
                [day + dt.timedelta(hours=9)] * len(ids), pa.timestamp("us", tz="UTC")
            ),
        }
    )


@pytest.fixture
def orders(order_contract: Contract, bigquery_emulator: BigQueryEndpoint) -> Iterator[Any]:
    """A partitioned order table with three rows on 2024-01-01 and two on 2024-01-02,
    written by meshkit; yields (client, dataset, table)."""
    contract = _own(order_contract)
    client = bigquery_emulator.client()
    try:
        session = _session(client, None)
        session.ensure(contract)
        session.replace(contract, _orders(["o1", "o2", "o3"], DAY1), _window(DAY1))
        session.replace(contract, _orders(["o4", "o5"], DAY2), _window(DAY2))
        yield (client, *warehouse_table(contract))
    finally:
        client.close()


def _own(order_contract: Contract) -> Contract:
    """The orders contract under a domain of this test's own (the emulator is shared)."""
    data = contract_metadata(order_contract)
    data["domain"] = f"sr_{uuid.uuid4().hex[:8]}"
    for field in data["fields"]:  # the emulator forgets a NUMERIC's precision and scale
        if field["type"].startswith("decimal"):
            field["type"] = "float"
    return Contract.model_validate(data)


def _window(start: dt.datetime) -> PartitionWindow:
    return PartitionWindow("placed_at", start, start + dt.timedelta(days=1))


def _session(client: Any, storage: StorageReader | None) -> BigQuerySession:
    return BigQuerySession(
        client, retry=emulator_retry(), job_retry=emulator_job_retry(), storage=storage
    )


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by("order_id")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_partitioned_read_streams_only_its_day(
    orders: Any, bigquery_emulator: BigQueryEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    client, dataset, table = orders
    caplog.set_level(logging.INFO, logger=LOGGER)
    with StorageReader(lambda: emulator_read_client(bigquery_emulator.grpc), emulator=True) as sr:
        session = _session(client, sr)
        day2 = session.read(dataset, table, _window(DAY2))
        assert _lines(caplog) == [
            f"BigQuery {dataset}.{table}: read 2 rows in 1 stream through the Storage Read "
            "API, restricted on the partition field placed_at"
        ]
        assert sorted(day2.column("order_id").to_pylist()) == ["o4", "o5"]
        assert "_meshkit_pos" not in day2.column_names
        # the same table the query path gives: columns, types and rows
        by_query = _session(client, None)
        assert _sorted(day2).equals(_sorted(by_query.read(dataset, table, _window(DAY2))))
        assert session.read(dataset, table, _window(DAY3)).num_rows == 0
        whole = session.read(dataset, table)
        assert sorted(whole.column("order_id").to_pylist()) == ["o1", "o2", "o3", "o4", "o5"]
        assert _sorted(whole).equals(_sorted(by_query.read(dataset, table)))


def test_a_large_partition_comes_in_parallel_streams_whole(
    order_contract: Contract, bigquery_emulator: BigQueryEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Over 1 MB the emulator splits a session into the streams asked for; their batches
    make one table equal to the query path's."""
    client = bigquery_emulator.client()
    try:
        contract = _own(order_contract)
        session = _session(client, None)
        session.ensure(contract)
        ids = [f"order-{i:06d}" for i in range(40_000)]
        session.replace(contract, _orders(ids, DAY2), _window(DAY2))
        session.replace(contract, _orders(["o1"], DAY1), _window(DAY1))
        dataset, table = warehouse_table(contract)
        caplog.set_level(logging.INFO, logger=LOGGER)
        with StorageReader(
            lambda: emulator_read_client(bigquery_emulator.grpc), emulator=True
        ) as sr:
            streamed = _session(client, sr).read(dataset, table, _window(DAY2))
        assert _lines(caplog)[0].startswith(
            f"BigQuery {dataset}.{table}: read 40000 rows in 4 streams"
        )
        by_query = session.read(dataset, table, _window(DAY2))
        assert _sorted(streamed).equals(_sorted(by_query))
    finally:
        client.close()


def test_a_refused_read_falls_back_to_a_query_saying_why(
    orders: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, dataset, table = orders
    caplog.set_level(logging.INFO, logger=LOGGER)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    with StorageReader(lambda: emulator_read_client(closed), emulator=True) as sr:
        day1 = _session(client, sr).read(dataset, table, _window(DAY1))
    assert sorted(day1.column("order_id").to_pylist()) == ["o1", "o2", "o3"]
    assert _lines(caplog) == [  # the line names no value of a row
        f"BigQuery {dataset}.{table}: read with a query, not the Storage Read API: "
        "the endpoint refused it: ServiceUnavailable (HTTP 503), gRPC UNAVAILABLE"
    ]


def test_without_a_read_client_the_session_reads_with_a_query(
    orders: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, dataset, table = orders
    caplog.set_level(logging.INFO, logger=LOGGER)
    day2 = _session(client, None).read(dataset, table, _window(DAY2))
    assert sorted(day2.column("order_id").to_pylist()) == ["o4", "o5"]
    assert _lines(caplog) == [
        f"BigQuery {dataset}.{table}: read with a query, not the Storage Read API: "
        "the session was opened without a Storage Read API client"
    ]


def test_the_local_stack_gives_the_settings_the_read_api_address(
    orders: Any,
    bigquery_emulator: BigQueryEndpoint,
    meshkit_local_settings: LocalSettings,
    tmp_path: Path,
) -> None:
    """meshkit local env exports the emulator's gRPC address; the settings read it and
    the read client built from them streams the table."""
    client, dataset, table = orders
    root = str(meshkit_local_settings.root)
    out = CliRunner().invoke(app, ["local", "env", "--json", "--state-dir", root])
    assert out.exit_code == 0, out.output
    exported = json.loads(out.output)
    assert exported["MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST"] == bigquery_emulator.grpc
    (tmp_path / "meshkit.yaml").write_text("", encoding="utf-8")  # no file settings
    settings = load_settings(tmp_path / "meshkit.yaml", environ=exported)
    assert settings.bigquery_storage_emulator_host == bigquery_emulator.grpc
    with StorageReader(lambda: bigquery_read_client(settings), emulator=True) as sr:
        day1 = _session(client, sr).read(dataset, table, _window(DAY1))
    assert sorted(day1.column("order_id").to_pylist()) == ["o1", "o2", "o3"]


def test_rows_outside_the_window_are_counted() -> None:
    """What tells an endpoint that ignored the row restriction: a row outside the window
    (or without a partition value) comes back."""
    window = _window(DAY2)
    inside = _orders(["a", "b"], DAY2)
    assert outside_window(inside, window) == 0
    mixed = pa.concat_tables([inside, _orders(["c"], DAY1), _orders(["d"], DAY3)])
    assert outside_window(mixed, window) == 2
    nulls = inside.set_column(4, "placed_at", pa.array([None, DAY2], pa.timestamp("us", tz="UTC")))
    assert outside_window(nulls, window) == 1
    assert row_restriction(window) == (
        "`placed_at` >= TIMESTAMP '2024-01-02 00:00:00+00:00' "
        "AND `placed_at` < TIMESTAMP '2024-01-03 00:00:00+00:00'"
    )
