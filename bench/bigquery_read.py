"""Benchmark of a batch input on BigQuery: the Storage Read API against the query path.

    python -m bench.bigquery_read [--quick]

Starts the local BigQuery emulator, writes an order table partitioned by day with
100,000 rows on each of two days (``--quick``: 5,000) through meshkit's own BigQuery
path, then reads one day the way a partitioned run's input does
(``BigQuerySession.read`` with the day's window), alternately

- through the Storage Read API (a read session with ``selected_fields`` and a
  ``row_restriction`` on the partition field, Arrow streams over gRPC), and
- with the query path it falls back to (a parameterised query, its result fetched as
  JSON pages over REST and converted to Arrow),

each the best of several runs. ``value=`` and ``baseline=`` are rows per second of the
Storage Read API and of the query path; ``ratio=`` is their quotient (target >= 1: the
Storage Read API is not the slower path). The emulator is not BigQuery: the figures say
how the two client paths compare against it, not what production reads achieve.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import uuid
from pathlib import Path

import pyarrow as pa

from bench._common import BenchResult, best_of, parser, report
from meshkit.batch.assets import warehouse_table
from meshkit.batch.storage_read import StorageReader
from meshkit.batch.validate import PartitionWindow
from meshkit.batch.warehouse import BigQuerySession
from meshkit.clients import emulator_job_retry, emulator_read_client, emulator_retry
from meshkit.contracts.loader import parse_contract
from meshkit.local.bigquery import BigQueryEmulator
from meshkit.local.settings import LocalSettings

CONTRACT = """
domain: bench_read
name: order_facts
version: 1.0.0
owner: {team: bench, contact: bench@example.com}
fields:
  - {name: order_id, type: string, required: true}
  - {name: customer_id, type: string, required: true}
  - {name: tier, type: string}
  - {name: total, type: float, required: true}
  - {name: placed_at, type: timestamp, required: true}
primary_key: [order_id]
ports:
  outputs:
    - kind: warehouse_table
      partitioning: {field: placed_at, granularity: day}
"""
DAY = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def _orders(n: int, day: dt.datetime, prefix: str) -> pa.Table:
    step = 86_400_000_000 // n  # microseconds apart, all inside the day
    start = int(day.timestamp() * 1_000_000)
    return pa.table(
        {
            "order_id": [f"{prefix}{i:07d}" for i in range(n)],
            "customer_id": [f"c{i % 997}" for i in range(n)],
            "tier": pa.array(["free", "pro", "team"] * (n // 3) + ["free"] * (n % 3)),
            "total": pa.array([float(i % 1000) / 10 for i in range(n)], pa.float64()),
            "placed_at": pa.array(
                [start + i * step for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__ or "").parse_args(argv)
    # the query path logs why it is not the Storage Read API on every read: known here
    logging.getLogger("meshkit.batch.warehouse").setLevel(logging.ERROR)
    rows = 5_000 if args.quick else 100_000
    repeat = 3 if args.quick else 5
    state = Path(tempfile.mkdtemp(prefix="meshkit-bench-bq-"))
    service = BigQueryEmulator(LocalSettings(state_dir=state, bigquery_port=0))
    record = service.start()
    try:
        from meshkit.clients import emulator_client

        client = emulator_client(record.address, service.settings.bigquery_project)
        contract, problems = parse_contract(
            CONTRACT.replace("bench_read", f"b{uuid.uuid4().hex[:8]}")
        )
        assert contract is not None, problems
        dataset, table = warehouse_table(contract)
        kw = {"retry": emulator_retry(60), "job_retry": emulator_job_retry(120)}
        writer = BigQuerySession(client, **kw)
        writer.ensure(contract)
        for day, prefix in ((DAY - dt.timedelta(days=1), "a"), (DAY, "b")):
            window = PartitionWindow("placed_at", day, day + dt.timedelta(days=1))
            writer.replace(contract, _orders(rows, day, prefix), window)
        window = PartitionWindow("placed_at", DAY, DAY + dt.timedelta(days=1))
        address = service.grpc_address()
        assert address is not None
        with StorageReader(lambda: emulator_read_client(address), emulator=True) as reader:
            streamed = BigQuerySession(client, storage=reader, **kw)
            by_query = BigQuerySession(client, **kw)
            assert streamed.read(dataset, table, window).num_rows == rows
            assert by_query.read(dataset, table, window).num_rows == rows
            storage_s = query_s = float("inf")
            for _ in range(repeat):  # alternately, so a burst of load hits both
                storage_s = min(
                    storage_s, best_of(lambda: streamed.read(dataset, table, window), 1)
                )
                query_s = min(query_s, best_of(lambda: by_query.read(dataset, table, window), 1))
        client.close()
    finally:
        service.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(f"rows per read: {rows} (of {2 * rows} in the table)")
    print(f"storage read API: {storage_s:.3f} s, query path: {query_s:.3f} s")
    report(
        BenchResult(
            "bigquery_read",
            rows / storage_s,
            rows / query_s,
            target=1.0,
            extra={"rows": rows, "storage_s": storage_s, "query_s": query_s},
        )
    )


if __name__ == "__main__":
    main()
