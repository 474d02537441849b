"""The end-to-end demo on embedded defaults (``./dev demo``).

Today it brings up the embedded local stack under ``.state/demo``, proves each service
answers a real request through the same client production uses, prints the endpoints
and a health table, and stops everything cleanly. Later slices extend it with the
example domains (CDC → streaming → ports, the batch asset, the catalog).
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

import duckdb
import psycopg2
from confluent_kafka import Consumer, Producer, TopicPartition
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from meshkit.cli.local import status_table
from meshkit.local import (
    DEFAULT_SERVICES,
    Endpoints,
    LocalSettings,
    LocalStack,
    consumer_config,
    local_search_client,
    producer_config,
)

STATE_DIR = Path(".state") / "demo"


def round_trips(endpoints: Endpoints) -> list[tuple[str, str, str]]:
    """Ask each service one real question; rows of (service, what was done, result)."""
    rows: list[tuple[str, str, str]] = []
    kafka, pg, warehouse, search = (
        endpoints.kafka,
        endpoints.postgres,
        endpoints.warehouse,
        endpoints.search,
    )
    if not (kafka and pg and warehouse and search):
        raise RuntimeError(f"a service of the demo is not running: {endpoints}")

    topic = f"demo.hello.{uuid.uuid4().hex[:8]}"
    producer = Producer(producer_config(kafka))
    for i in range(1000):
        producer.produce(topic, key=str(i).encode(), value=b'{"hello": "mesh"}')
    producer.flush(10)
    consumer = Consumer(consumer_config(kafka, group_id=f"demo-{uuid.uuid4().hex}"))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen = 0
    deadline = time.monotonic() + 15
    while seen < 1000 and time.monotonic() < deadline:
        seen += len(consumer.consume(500, timeout=0.5))
    consumer.close()
    if seen != 1000:
        raise RuntimeError(f"kafka: consumed {seen} of 1000 messages produced to {topic}")
    rows.append(("kafka", f"produced and consumed 1000 messages on {topic}", f"{seen}/1000"))

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SHOW wal_level")
        wal_level = cur.fetchone()
        cur.execute("SELECT version()")
        version = cur.fetchone()
    if wal_level is None or version is None:
        raise RuntimeError("PostgreSQL returned no rows")
    rows.append(
        ("postgres", "SHOW wal_level; SELECT version()", f"{wal_level[0]}; {version[0][:16]}")
    )

    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE OR REPLACE TABLE demo_hello AS SELECT range AS id FROM range(10000)")
        count = con.execute("SELECT count(*) FROM demo_hello").fetchone()
    if count is None:
        raise RuntimeError("DuckDB returned no rows")
    rows.append(("warehouse", "CREATE TABLE ... 10000 rows; count(*)", str(count[0])))

    es = local_search_client(search)
    es.index(index="demo-hello", id="1", document={"greeting": "hello mesh"}, refresh=True)
    hits = es.search(index="demo-hello", query={"match": {"greeting": "mesh"}})
    es.close()
    rows.append(
        ("search", "index one document; match query", f"{hits['hits']['total']['value']} hit")
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    ap.add_argument("--state-dir", type=Path, default=STATE_DIR, help="data and logs")
    args = ap.parse_args(argv)
    console = Console()
    stack = LocalStack(LocalSettings(state_dir=args.state_dir))
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            for name in DEFAULT_SERVICES:
                task = progress.add_task(f"starting {name}", total=1)
                stack.service(name).start()
                progress.update(task, completed=1, description=f"[green]{name} up")
        endpoints = stack.endpoints
        table = Table(title="endpoints")
        table.add_column("service")
        table.add_column("address", overflow="fold")
        for name in DEFAULT_SERVICES:
            table.add_row(name, str(getattr(endpoints, name)))
        console.print(table)
        console.print(status_table(stack.status()))
        checks = Table(title="round trips through the production clients")
        for col in ("service", "what", "result"):
            checks.add_column(col)
        for row in round_trips(endpoints):
            checks.add_row(*row)
        console.print(checks)
    finally:
        if not args.keep:
            stopped = stack.down()
            console.print(f"stopped: {', '.join(stopped) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
