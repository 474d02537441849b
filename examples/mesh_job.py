"""The example domains on a running local stack: the demo's main job.

For each domain in ``domains/`` with a service database (customers, orders, catalog):

1. its service database is created on the local PostgreSQL and seeded with synthetic data;
2. CDC captures it (snapshot, then streaming) into the domain's raw topics while the
   services keep changing their data (and a buggy client writes a few bad orders);
3. the domain's Bytewax flow runs over what was captured and writes every output port
   (product topic, warehouse table, search index, serving view) and the dead-letter topic;
4. a search query runs on the catalog's product index (the shop's product search);
5. Dagster materialises the orders domain's batch product, which reads both domains'
   products from the warehouse, with the checks its contract generates.

What reached each port is counted from the ports themselves, not from the flows' reports.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import psycopg2
from confluent_kafka import Consumer, TopicPartition
from psycopg2.extensions import make_dsn, parse_dsn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from meshkit.cdc import Capture, build_config
from meshkit.cdc.sources import load_sources
from meshkit.contracts import Contract
from meshkit.local import Endpoints, consumer_config, local_search_client

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ROOT / "domains"
BAD_ORDERS = 3
SEARCH = "kettle"  # what a shopper types into the shop's search box


@dataclass(frozen=True)
class Sizes:
    """How much synthetic data the services hold and change (``quick``: a short run)."""

    customers: int = 2_000
    orders: int = 10_000
    articles: int = 300  # catalog.product ids 1..N; the orders are for ids 1..200
    customer_changes: int = 300
    order_changes: int = 1_500
    article_changes: int = 100

    @classmethod
    def quick(cls) -> Sizes:
        return cls(customers=300, orders=1_500, articles=250, customer_changes=60,
                   order_changes=300, article_changes=40)  # fmt: skip


@dataclass
class DomainRun:
    """What happened to one domain's product on its way through the mesh."""

    name: str
    contract: Contract
    database: str
    table: str
    service_rows: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    cdc_events: int = 0
    flow_counts: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0


def import_domain(name: str) -> ModuleType:
    """The domain's package, imported from ``domains/<name>/src`` as its own repo would."""
    src = str(DOMAINS / name / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module(name)


def database_url(server: str, database: str) -> str:
    """A fresh database on the local PostgreSQL (dropped first if a run left it)."""
    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE database = %s AND NOT active",
            (database,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    return str(make_dsn(**{**parse_dsn(server), "dbname": database}))


class CdcRunner:
    """One domain's CDC capture in a background thread, stopped cleanly on request."""

    def __init__(self, dsn: str, contracts: Path, brokers: str, state_dir: Path) -> None:
        sources = load_sources(contracts)
        config = build_config(
            dsn=dsn,
            tables=list(sources.tables),
            topic_prefix=sources.topic_prefix,
            slot=f"meshkit_{sources.domain}",
            publication=f"meshkit_{sources.domain}",
            bootstrap_servers=brokers,
            state_dir=state_dir,
        )
        self.capture = Capture(config)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.capture.run(self._stop)
        except BaseException as exc:  # reported by wait_for/stop, never swallowed
            self._errors.append(exc)

    @property
    def events(self) -> int:
        return self.capture.progress.events

    def start(self) -> None:
        self._thread.start()

    def wait_streaming(self, timeout: float) -> None:
        """Block until the snapshot is done and CDC streams from the slot."""
        deadline = time.monotonic() + timeout
        while self.capture.progress.phase != "streaming":
            if self._errors:
                raise RuntimeError(f"CDC stopped: {self._errors[0]}") from self._errors[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"CDC did not finish its snapshot in {timeout:.0f} s")
            time.sleep(0.05)

    def wait_for(self, expected: int, on_progress: Callable[[int], None], timeout: float) -> int:
        """Block until ``expected`` events reached Kafka (confirmed), or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.events < expected:
            if self._errors:
                raise RuntimeError(f"CDC stopped: {self._errors[0]}") from self._errors[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"CDC delivered {self.events} of {expected} events")
            on_progress(self.events)
            time.sleep(0.1)
        on_progress(self.events)
        return self.events

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._errors:
            raise RuntimeError(f"CDC failed: {self._errors[0]}") from self._errors[0]


def count_topic(brokers: str, topic: str, *, idle: float = 1.5) -> int:
    """Messages in ``topic`` (tombstones included), read from the start until idle."""
    consumer = Consumer(consumer_config(brokers, group_id=f"demo-count-{topic}"))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return 0
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        seen, last = 0, time.monotonic()
        while time.monotonic() - last < idle:
            batch = [m for m in consumer.consume(5000, 0.2) if m.error() is None]
            if batch:
                seen += len(batch)
                last = time.monotonic()
        return seen
    finally:
        consumer.close()


def expected_events(seeded: int, changes: dict[str, int]) -> int:
    """Change events CDC emits: one per row change, plus a tombstone after each delete."""
    return seeded + changes["inserted"] + changes["updated"] + 2 * changes["deleted"]


def run(
    endpoints: Endpoints,
    state: Path,
    console: Console,
    *,
    serving: str,
    sizes: Sizes | None = None,
) -> dict[str, Any]:
    """Run the domains end to end; returns what the report shows. ``serving`` is the
    platform's serving database (provisioned before this runs)."""
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.testing import run_main

    import meshkit.streaming as ms

    if not (endpoints.kafka and endpoints.postgres and endpoints.search and endpoints.warehouse):
        raise RuntimeError(f"a service of the demo is not running: {endpoints}")
    sizes = sizes or Sizes()
    brokers, search_url = endpoints.kafka, endpoints.search
    warehouse = endpoints.warehouse  # the stack's warehouse, provisioned like the others
    for name in ("customers", "orders", "catalog"):
        import_domain(name)
    services = {
        n: importlib.import_module(f"{n}.service") for n in ("customers", "orders", "catalog")
    }
    flows = {n: importlib.import_module(f"{n}.flow") for n in ("customers", "orders", "catalog")}
    from meshkit.batch import load_contract

    runs = {
        "customers": DomainRun("customers", load_contract(flows["customers"].CONTRACT), "crm",
                               "customers"),
        "orders": DomainRun("orders", load_contract(flows["orders"].CONTRACT), "shop", "orders"),
        "catalog": DomainRun("catalog", load_contract(flows["catalog"].CONTRACT), "catalogue",
                             "products"),
    }  # fmt: skip
    dsn = {d.name: database_url(endpoints.postgres, d.database) for d in runs.values()}
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        total = sizes.customers + sizes.orders + sizes.articles
        task = progress.add_task("seed service databases", total=total)
        runs["customers"].service_rows = services["customers"].seed(
            dsn["customers"], sizes.customers
        )
        progress.advance(task, sizes.customers)
        runs["orders"].service_rows = services["orders"].seed(
            dsn["orders"], sizes.orders, customers=sizes.customers
        )
        progress.advance(task, sizes.orders)
        runs["catalog"].service_rows = services["catalog"].seed(dsn["catalog"], sizes.articles)
        progress.advance(task, sizes.articles)

        cdc = {
            name: CdcRunner(dsn[name], DOMAINS / name / "contracts", brokers, state / "cdc" / name)
            for name in runs
        }
        task = progress.add_task("CDC: snapshot of the service tables", total=len(cdc))
        for runner in cdc.values():
            runner.start()
        for runner in cdc.values():
            runner.wait_streaming(timeout=120)
            progress.advance(task)
        # The services keep working; CDC now streams their changes.
        task = progress.add_task("services change their data", total=len(runs))
        runs["customers"].changes = services["customers"].change(
            dsn["customers"], sizes.customer_changes
        )
        progress.advance(task)
        runs["orders"].changes = services["orders"].change(
            dsn["orders"], sizes.order_changes, customers=sizes.customers
        )
        runs["orders"].changes["inserted"] += write_bad_orders(dsn["orders"])
        progress.advance(task)
        runs["catalog"].changes = services["catalog"].change(dsn["catalog"], sizes.article_changes)
        progress.advance(task)
        for name, run_ in runs.items():
            expected = expected_events(run_.service_rows, run_.changes)
            task = progress.add_task(f"CDC {name}: change events to Kafka", total=expected)

            def show(n: int, task: TaskID = task) -> None:
                progress.update(task, completed=n)

            run_.cdc_events = cdc[name].wait_for(expected, show, timeout=120)
            cdc[name].stop()

        for name, run_ in runs.items():
            task = progress.add_task(f"flow {name}: validate, mask, write ports", total=1)
            stats = state / "stats" / name
            settings = ms.StreamingSettings(
                brokers=brokers, warehouse=warehouse, search_url=search_url,
                view_dsn=serving, keystore_dir=state / "keys", stats_dir=stats, tail=False,
            )  # fmt: skip
            # these flows keep a recovery snapshot: the live part resumes them as processes
            recovery = None
            if name in {"orders", "catalog"}:
                (state / "recovery" / name).mkdir(parents=True, exist_ok=True)
                init_db_dir(state / "recovery" / name, 1)  # type: ignore[no-untyped-call]
                recovery = RecoveryConfig(str(state / "recovery" / name))  # type: ignore[no-untyped-call]
            run_main(flows[name].build(settings), recovery_config=recovery)  # type: ignore[no-untyped-call]
            run_.flow_counts = ms.read_stats(stats)["counts"]
            progress.update(task, completed=1)

        task = progress.add_task("count what reached each port", total=len(runs))
        # each topic is read until it stays idle: all at once, so the waits overlap
        with ThreadPoolExecutor(max_workers=2 * len(runs)) as pool:
            counted = {
                name: (
                    pool.submit(port_counts, run_.contract, brokers, warehouse, search_url),
                    pool.submit(count_topic, brokers, ms.dead_letter_topic(run_.contract)),
                )
                for name, run_ in runs.items()
            }
            for name, (ports, letters) in counted.items():
                runs[name].ports, runs[name].dead_letters = ports.result(), letters.result()
                progress.advance(task)

        view = serving_view(serving, flows["orders"].VIEW_CONTRACT, warehouse)
        search = search_products(search_url, runs["catalog"].contract, warehouse)

        task = progress.add_task("dagster: materialise orders/order_daily", total=1)
        batch = materialise_order_daily(warehouse)
        progress.update(task, completed=1)
    return {
        "runs": runs, "batch": batch, "warehouse": warehouse, "dsn": dsn, "view": view,
        "search": search, "serving": serving,
    }  # fmt: skip


def search_products(search_url: str, contract: Contract, warehouse: Path) -> dict[str, Any]:
    """The shop's product search: a full-text query on the catalog's search index (its
    alias, as the shop's front end queries it), and how many articles the warehouse copy
    of the same product says match the word."""
    es = local_search_client(search_url)
    try:
        alias = contract.address.rsplit(".v", 1)[0]  # catalog.product → the current index
        answer = es.search(
            index=alias,
            query={"multi_match": {"query": SEARCH, "fields": ["name^2", "description"]}},
            size=5,
            track_total_hits=True,
        )
    finally:
        es.close()
    hits = [
        {
            "product_id": h["_source"]["product_id"],
            "name": h["_source"]["name"],
            "category": h["_source"]["category"],
            "price": str(h["_source"]["price"]),
            "score": round(float(h["_score"]), 2),
        }
        for h in answer["hits"]["hits"]
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (expected,) = con.execute(
            "SELECT count(*) FROM catalog.product_v1 "
            "WHERE regexp_matches(lower(name || ' ' || coalesce(description, '')), ?)",
            [rf"\b{SEARCH}\b"],
        ).fetchone() or (0,)
    return {
        "index": alias,
        "query": SEARCH,
        "total": int(answer["hits"]["total"]["value"]),
        "warehouse_matches": int(expected),
        "hits": hits,
    }


def write_bad_orders(dsn: str) -> int:
    """A buggy client writes orders with a lower-case currency: the contract refuses them."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(id) FROM public.orders")
        (top,) = cur.fetchone() or (0,)
        for i in range(1, BAD_ORDERS + 1):
            cur.execute(
                "INSERT INTO public.orders (id, customer_id, status, total, currency,"
                " shipping_postcode, placed_at) VALUES (%s, 1, 'placed', 9.99, 'eur', NULL,"
                " now())",
                (top + i,),
            )
    conn.close()
    return BAD_ORDERS


def port_counts(
    contract: Contract, brokers: str, warehouse: Path, search_url: str
) -> dict[str, int]:
    """Rows or messages in each output port of the product, read from the port itself."""
    from meshkit.contracts.ports import KafkaTopic, SearchIndex, WarehouseTable

    out: dict[str, int] = {}
    for port in contract.ports.outputs:
        if isinstance(port, KafkaTopic):
            out["kafka topic (messages)"] = count_topic(brokers, port.name_in(contract))
        elif isinstance(port, WarehouseTable):
            with duckdb.connect(str(warehouse), read_only=True) as con:
                row = con.execute(f"SELECT count(*) FROM {port.name_in(contract)}").fetchone()
            out["warehouse table (rows)"] = int(row[0]) if row else 0
        elif isinstance(port, SearchIndex):
            es = local_search_client(search_url)
            try:
                es.indices.refresh(index=contract.address)
                out["search index (documents)"] = int(es.count(index=contract.address)["count"])
            finally:
                es.close()
    return out


def serving_view(dsn: str, contract_path: Path, warehouse: Path) -> dict[str, Any]:
    """The customer_orders view: its size, and one customer's row read by key — next to
    what the warehouse's copy of the order product says they should be."""
    from meshkit.batch import load_contract
    from meshkit.ports import ViewReader

    contract = load_contract(contract_path)
    reader = ViewReader(dsn, contract)
    try:
        rows = reader.all()
        busiest = max(rows, key=lambda r: (len(r["recent_order_ids"]), r["customer_id"]))
        one = reader.get(busiest["customer_id"])  # what the shop's page does: one lookup
    finally:
        reader.close()
    assert one is not None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (buyers,) = con.execute(
            "SELECT count(DISTINCT customer_id) FROM orders.order_v1"
        ).fetchone() or (0,)
        newest = con.execute(
            "SELECT order_id FROM orders.order_v1 WHERE customer_id = ? "
            "ORDER BY placed_at DESC, order_id DESC LIMIT 5",
            [one["customer_id"]],
        ).fetchall()
    return {
        "product": contract.address,
        "rows": len(rows),
        "example": one,
        "warehouse_buyers": buyers,
        "warehouse_newest": [r[0] for r in newest],
    }


def materialise_order_daily(warehouse: Path) -> dict[str, Any]:
    """Materialise the orders domain's batch product in process, with its checks."""
    import dagster as dg

    from meshkit.batch import local_resources, product_checks

    definitions = importlib.import_module("orders.definitions")
    asset = importlib.import_module("orders.defs.assets").order_daily
    externals = [a for a in definitions.defs.assets or [] if isinstance(a, dg.AssetSpec)]
    result = dg.materialize(
        [asset, product_checks(asset), *externals],
        resources=local_resources(duckdb_path=warehouse),
        selection=[asset],
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    checks = [(c.check_name, c.passed) for c in result.get_asset_check_evaluations()]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        top = con.execute(
            "SELECT day::VARCHAR, country, tier, orders, revenue::VARCHAR "
            "FROM orders.order_daily_v1 ORDER BY revenue DESC LIMIT 5"
        ).fetchall()
        (rows,) = con.execute("SELECT count(*) FROM orders.order_daily_v1").fetchone() or (0,)
    return {"success": result.success, "checks": checks, "top": top, "rows": rows}
