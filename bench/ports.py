"""Benchmark of the output-port writers, each next to its system's bare bulk path.

    python -m bench.ports [--quick]

Builds 200,000 changes (``--quick``: 10,000) of a 12-field customer record, already in
their masked shape: 75 % new keys, 20 % updates of existing keys, 5 % deletes. Each
writer applies them in micro-batches of 10,000 (``--quick``: 2,000) through its whole
path (contract check, per-key compaction, idempotent upsert/delete, delivery confirmed);
in the same run, the bare path of the same system takes the same records:

- Kafka: a bare ``Producer.produce`` loop of the same messages (key, ``orjson`` value or
  tombstone, the same three headers), then ``flush``;
- DuckDB: the records as one Arrow table (``pa.array`` of a struct), ``INSERT`` from it;
- search: ``elasticsearch.helpers.streaming_bulk`` of index and delete actions;
- PostgreSQL: the records as CSV (pyarrow) and one ``COPY`` into a table. Printed beside
  it, not counted: the same ``COPY`` into a table with an index on the key, as the
  serving view must have for its lookups (``postgres_vs_indexed_copy=``), and two
  ``COPY``s of half the records each, on two connections at once, as the writer applies
  a batch in two parts on two connections (``postgres_vs_parallel_copy=``).

The local search server indexes only a few thousand documents per second (hundreds on
a busy 2-core machine), so the search comparison takes the first 20,000 of the changes
(``--quick``: all 10,000) on both paths; the other three ports take all of them.

Rates are changes/s; each port prints ``<port>=<ratio>`` and the BENCH line's ``ratio=``
is the lowest of the four (``value=``/``baseline=`` are that port's rates). Target: every
writer at least 0.5x its bare path. The services are the local stack's own, started in
a temporary directory.

Each writer also runs with the flush cadence of a streaming flow: a flush after every
micro-batch (``<port>_flush_batch=``, the lowest as ``ratio_flush_batch=``) and a flush
once a second (``<port>_flush_second=``), each against the same bare path; the run that
flushes only at the end (``ratio=``) is one a flow never makes.

The machine is shared and noisy, so Kafka, DuckDB and PostgreSQL run ``ROUNDS`` rounds
(``--quick``: 1), each a bare run followed at once by the writer's three runs (flushing
at the end, per micro-batch, once a second) into fresh targets, and each run's best
round counts: every ratio compares runs taken back to back, never a writer run with a
bare run taken minutes earlier under other load. Search runs once (its runs are long and
the server dominates both).

Beside the rates, each run's client CPU per change is taken (the process's CPU time, all
threads; the broker's and the servers' is not in it), and ``<port>_cpu_<cadence>=`` is
the bare path's lowest CPU µs per change over the writer's (higher is better, like the
rate ratios). Other load on the machine slows the bare paths, which use both cores and
their server, more than the writers; the CPU ratios move much less with it.
"""

from __future__ import annotations

import contextlib
import gc
import io
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv
from confluent_kafka import Producer
from elasticsearch.helpers import streaming_bulk

from bench._common import BenchResult, parser, report
from meshkit.contracts import Contract
from meshkit.local.kafka import KafkaBroker
from meshkit.local.postgres import Postgres
from meshkit.local.search import SearchServer, local_search_client
from meshkit.local.settings import LocalSettings
from meshkit.ports import (
    Change,
    DuckDBWarehouseWriter,
    KafkaTopicWriter,
    PortWriter,
    SearchIndexWriter,
    ServingViewWriter,
)
from meshkit.ports.intake import Intake
from meshkit.ports.kafka import json_default

TARGET = 0.5
SEARCH_CHANGES = 20_000
ROUNDS = 3
CONTRACT = {
    "domain": "bench",
    "name": "customer",
    "version": "1.0.0",
    "owner": {"team": "bench", "contact": "bench@example.com"},
    "subject": "customer_id",
    "fields": [
        {"name": "customer_id", "type": "string", "required": True},
        {"name": "email", "type": "string", "required": True, "pii": "email",
         "classification": "confidential", "transform": {"kind": "tokenize", "key": "c"}},
        {"name": "phone", "type": "string", "pii": "phone", "classification": "confidential",
         "transform": {"kind": "mask", "keep_last": 4}},
        {"name": "tier", "type": "string", "required": True},
        {"name": "visits", "type": "integer"},
        {"name": "balance", "type": "decimal(12,2)"},
        {"name": "score", "type": "float"},
        {"name": "active", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "city", "type": "string"},
        {"name": "country", "type": "string", "required": True},
        {"name": "updated_at", "type": "timestamp", "required": True},
    ],
    "primary_key": ["customer_id"],
    "ports": {"outputs": [
        {"kind": "kafka_topic", "partitions": 1},
        {"kind": "warehouse_table"},
        {"kind": "search_index", "searchable": ["tier", "city"]},
        {"kind": "serving_view"},
    ]},
}  # fmt: skip
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def record(i: int, version: int) -> dict[str, Any]:
    return {
        "customer_id": f"c-{i:07d}",
        "email": f"tok:c.1:{i:064x}",
        "phone": f"********{i % 10_000:04d}",
        "tier": ("free", "plus", "pro")[(i + version) % 3],
        "visits": (i * 7 + version) % 1000,
        "balance": Decimal(i % 100_000) / 100,
        "score": (i % 997) / 7,
        "active": (i + version) % 2 == 0,
        "born": date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        "city": ("Berlin", "Lyon", "Porto", None)[i % 4],
        "country": "DE",
        "updated_at": T0 + timedelta(seconds=i + version),
    }


def workload(n: int, seed: int = 1) -> list[Change]:
    r = random.Random(seed)
    live: list[int] = []
    out: list[Change] = []
    for pos in range(n):
        x = r.random()
        if x < 0.20 and live:
            i = r.choice(live)
            out.append(Change("upsert", (f"c-{i:07d}",), record(i, pos), pos))
        elif x < 0.25 and live:
            i = live.pop(r.randrange(len(live)))
            out.append(Change("delete", (f"c-{i:07d}",), None, pos))
        else:
            i = len(out)
            live.append(i)
            out.append(Change("upsert", (f"c-{i:07d}",), record(i, 0), pos))
    return out


class Rate(float):
    """Changes/s of one run, with the process's CPU µs per change in it (``cpu_us``, every
    thread: the client's side; the broker's and the servers' CPU is not in it)."""

    cpu_us: float


def rate_of(changes: int, fn: Callable[[], Any]) -> Rate:
    """The rate and CPU per change of ``fn`` applying ``changes`` changes."""
    gc.collect()
    start, used = time.perf_counter(), time.process_time()
    fn()
    rate = Rate(changes / (time.perf_counter() - start))
    rate.cpu_us = (time.process_time() - used) / changes * 1e6
    return rate


def run_writer(
    writer: PortWriter,
    contract: Contract,
    changes: list[Change],
    batch: int,
    flush_every: float | None = None,
) -> Rate:
    """Changes/s of ``writer``: micro-batches of ``batch``, then a flush. With
    ``flush_every`` it also flushes, as a flow does, after every micro-batch (``0``) or
    after the first micro-batch written ``flush_every`` seconds after the last flush."""
    writer.ensure(contract)

    def go() -> None:
        last = time.perf_counter()
        for i in range(0, len(changes), batch):
            writer.write(changes[i : i + batch])
            if flush_every is not None and time.perf_counter() - last >= flush_every:
                writer.flush()
                last = time.perf_counter()
        writer.flush()

    return rate_of(len(changes), go)


# -- bare paths -----------------------------------------------------------------------------


def bare_kafka(bootstrap: str, topic: str, changes: list[Change]) -> Rate:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "lz4",
                         "queue.buffering.max.messages": 500_000})  # fmt: skip
    producer.list_topics(topic, timeout=10)

    headers = [("meshkit-product", b"bench.customer"), ("meshkit-version", b"1.0.0")]

    def go() -> None:
        for c in changes:
            value = None if c.record is None else orjson.dumps(c.record, default=json_default)
            h = [*headers, ("meshkit-position", str(c.position).encode())]
            while True:
                try:
                    producer.produce(topic, value, c.key[0].encode(), headers=h)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)

    return rate_of(len(changes), go)


def bare_duckdb(path: Path, intake: Intake, changes: list[Change]) -> Rate:
    con = duckdb.connect(str(path))
    cols = ", ".join(
        f'"{f.name}" {t}' for f, t in zip(intake.schema, _duck_types(intake), strict=True)
    )
    con.execute(f"CREATE TABLE bare ({cols})")
    records = [c.record for c in changes if c.record is not None]

    def go() -> None:
        table = pa.Table.from_struct_array(pa.array(records, type=intake.struct))
        con.register("bare_stage", table)
        con.execute("INSERT INTO bare SELECT * FROM bare_stage")
        con.unregister("bare_stage")

    rate = rate_of(len(changes), go)
    con.close()
    return rate


def _duck_types(intake: Intake) -> list[str]:
    from meshkit.contracts.exporters.duckdb import duckdb_type

    return [duckdb_type(f) for f in intake.fields]


def bare_search(url: str, changes: list[Change]) -> Rate:
    es = local_search_client(url, request_timeout=60)
    es.indices.create(index="bare")

    def actions() -> Iterator[dict[str, Any]]:
        for c in changes:
            if c.record is None:
                yield {"_op_type": "delete", "_index": "bare", "_id": c.key[0]}
            else:
                src = {k: str(v) if isinstance(v, Decimal) else v for k, v in c.record.items()}
                yield {"_op_type": "index", "_index": "bare", "_id": c.key[0], "_source": src}

    def go() -> None:
        for _ in streaming_bulk(es, actions(), chunk_size=1000, raise_on_error=False):
            pass

    rate = rate_of(len(changes), go)
    es.close()
    return rate


def bare_postgres(
    dsn: str,
    intake: Intake,
    changes: list[Change],
    name: str = "bare",
    *,
    index: bool = False,
    connections: int = 1,
) -> Rate:
    """``COPY`` into a plain table; with ``index``, one with a (non-unique) index on the
    key, the lookup a serving view needs (the records repeat keys: no unique index); with
    ``connections`` > 1, that many ``COPY``s of equal parts at once, one per connection."""
    from meshkit.ports.view import postgres_type

    conns = [psycopg2.connect(dsn) for _ in range(connections)]
    cols = ", ".join(f'"{f.name}" {postgres_type(f)}' for f in intake.fields)
    with conns[0], conns[0].cursor() as cur:
        cur.execute(f"CREATE TABLE {name} ({cols})")
        if index:
            cur.execute(f'CREATE INDEX ON {name} ("{intake.key_fields[0]}")')
    records = [c.record for c in changes if c.record is not None]

    def copy(conn: Any, buf: io.BytesIO) -> None:
        with conn, conn.cursor() as cur:
            cur.copy_expert(f"COPY {name} FROM STDIN WITH (FORMAT csv, HEADER true)", buf)

    def go() -> None:
        table = pa.Table.from_struct_array(pa.array(records, type=intake.struct))
        size = -(-table.num_rows // connections)
        bufs = []
        for i in range(connections):
            bufs.append(io.BytesIO())
            pacsv.write_csv(table.slice(i * size, size), bufs[-1])
            bufs[-1].seek(0)
        if connections == 1:
            copy(conns[0], bufs[0])
            return
        with ThreadPoolExecutor(connections) as pool:
            for done in [pool.submit(copy, c, b) for c, b in zip(conns, bufs, strict=True)]:
                done.result()

    rate = rate_of(len(changes), go)
    for conn in conns:
        conn.close()
    return rate


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    n, batch = (10_000, 2_000) if args.quick else (200_000, 10_000)
    contract = Contract.model_validate(CONTRACT)
    intake = Intake(contract, "bench")
    changes = workload(n)
    # pyarrow imports pandas the first time it converts these types: a once-per-process
    # cost (0.7 s where Python compiles from source) that would land on the first writer
    intake.table(changes[:1_000])
    print(f"{n:,} changes in micro-batches of {batch:,}", flush=True)
    results: dict[str, tuple[float, float]] = {}
    flushed: dict[str, float] = {}
    cpu: dict[str, float] = {}  # <port>_cpu_<cadence>: bare CPU per change / the writer's
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-ports-") as tmp:
        settings = LocalSettings(state_dir=Path(tmp), kafka_port=0, postgres_port=0,
                                 search_port=0, postgres_url=None)  # fmt: skip
        services = [KafkaBroker(settings), Postgres(settings), SearchServer(settings)]
        with contextlib.ExitStack() as stack:
            for s in services:
                s.start()
                stack.callback(s.stop)
            bootstrap = services[0].start().address
            dsn = services[1].dsn()
            assert dsn is not None
            url = services[2].start().address

            rounds = 1 if args.quick else ROUNDS

            cadences = {"end": None, "batch": 0.0, "second": 1.0}

            def best(
                port: str, bare: Callable[[int], Rate], writer: Callable[[int, float | None], Rate]
            ) -> tuple[Rate, dict[str, Rate]]:
                """The best bare run and the best writer run per flush cadence, of ``rounds``
                rounds of a bare run followed by the writer at each cadence; and into
                ``cpu``, the lowest CPU µs per change of each."""
                runs = [
                    (bare(r), {c: writer(r, every) for c, every in cadences.items()})
                    for r in range(rounds)
                ]
                lowest = min(b.cpu_us for b, _ in runs)
                for c in cadences:
                    cpu[f"{port}_cpu_{c}"] = lowest / min(w[c].cpu_us for _, w in runs)
                return max(b for b, _ in runs), {c: max(w[c] for _, w in runs) for c in cadences}

            def duck(r: int, flush_every: float | None = None) -> Rate:
                writer = DuckDBWarehouseWriter(Path(tmp) / f"writer{r}-{flush_every}.duckdb")
                try:
                    return run_writer(writer, contract, changes, batch, flush_every)
                finally:
                    writer.close()

            def view(r: int, flush_every: float | None = None) -> Rate:
                writer = ServingViewWriter(dsn, schema=f"round{r}_{int((flush_every or 9) * 10)}")
                try:
                    return run_writer(writer, contract, changes, batch, flush_every)
                finally:
                    writer.close()

            def kafka(_r: int, flush_every: float | None = None) -> Rate:
                writer = KafkaTopicWriter(bootstrap)
                return run_writer(writer, contract, changes, batch, flush_every)

            bares = {
                "kafka": lambda _r: bare_kafka(bootstrap, "bare", changes),
                "duckdb": lambda r: bare_duckdb(Path(tmp) / f"bare{r}.duckdb", intake, changes),
                "postgres": lambda r: bare_postgres(dsn, intake, changes, f"bare{r}"),
            }
            writers = {"kafka": kafka, "duckdb": duck, "postgres": view}
            labels = {"kafka": "bare producer loop", "duckdb": "bare Arrow INSERT ",
                      "postgres": "bare COPY          "}  # fmt: skip
            for port in ("kafka", "duckdb", "postgres"):
                bare, rates = best(port, bares[port], writers[port])
                results[port] = (rates["end"], bare)
                end = rates["end"]
                print(f"{port:<9} writer {end:>10,.0f}/s   {labels[port]} {bare:>10,.0f}/s")
                for cadence in ("batch", "second"):
                    flushed[f"{port}_flush_{cadence}"] = rates[cadence] / bare
                    print(f"{port:<9} writer {rates[cadence]:>10,.0f}/s flushed every {cadence}: "
                          f"{rates[cadence] / bare:.3f} of bare")  # fmt: skip
                shares = ", ".join(f"{c} {cpu[f'{port}_cpu_{c}']:.3f}" for c in cadences)
                print(
                    f"{port:<9} CPU µs per change: bare {bare.cpu_us:.2f}; bare / writer {shares}"
                )
            value: float = results["postgres"][0]
            indexed = max(bare_postgres(dsn, intake, changes, f"indexed{r}", index=True)
                          for r in range(rounds))  # fmt: skip
            print(f"          (bare COPY into a table indexed by key: {indexed:,.0f}/s;"
                  f" writer / that = {value / indexed:.2f})")  # fmt: skip
            parallel = max(bare_postgres(dsn, intake, changes, f"parallel{r}", connections=2)
                           for r in range(rounds))  # fmt: skip
            print(f"          (two bare COPYs at once, half the records each: {parallel:,.0f}/s;"
                  f" writer / that = {value / parallel:.2f})")  # fmt: skip

            some = changes[:SEARCH_CHANGES]
            bare = bare_search(url, some)
            es = local_search_client(url, request_timeout=60)
            value = run_writer(SearchIndexWriter(es), contract, some, batch)
            es.close()
            results["search"] = (value, bare)
            print(f"search    writer {value:>10,.0f}/s   bare streaming_bulk{bare:>10,.0f}/s")

    ratios = {port: v / b for port, (v, b) in results.items()}
    worst = min(ratios, key=lambda p: ratios[p])
    worst_value, worst_bare = results[worst]
    extra: dict[str, Any] = {"worst": worst, **{p: round(r, 3) for p, r in ratios.items()}}
    extra.update({f"{p}_rate": round(v) for p, (v, _) in results.items()})
    extra["postgres_vs_indexed_copy"] = round(results["postgres"][0] / indexed, 3)
    extra["postgres_vs_parallel_copy"] = round(results["postgres"][0] / parallel, 3)
    per_batch = {k: v for k, v in flushed.items() if k.endswith("_flush_batch")}
    extra["ratio_flush_batch"] = round(min(per_batch.values()), 3)
    extra["worst_flush_batch"] = min(per_batch, key=lambda k: per_batch[k]).split("_")[0]
    extra.update({k: round(v, 3) for k, v in flushed.items()})
    extra.update({k: round(v, 3) for k, v in cpu.items()})
    report(BenchResult("ports", worst_value, worst_bare, TARGET, extra=extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
