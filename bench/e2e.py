"""Benchmark of the whole mesh: database commit → every output port, under steady load.

    python -m bench.e2e [--quick] [--rate CHANGES_PER_S] [--seconds S]

Starts the local stack's broker, PostgreSQL and search server in a temporary directory,
seeds the three captured domains of ``domains/`` (customers, orders, catalog: each its
service database and sample rows), and runs each domain the way production does:
``meshkit cdc run`` and the domain's Bytewax flow (``python -m bytewax.run
<pkg>.flow:flow``), each in its own process. The fourth domain, recommendations, reads
the orders and catalog products: its flow and its HTTP service
(``python -m recommendations.api``) run as two more processes. Then:

- **sustained**: the service databases change at ``--rate`` row changes per second in
  total (default 2,000; ``--quick``: 300), split evenly across the domains: every 100 ms,
  one transaction per domain updates that many random rows of its service table (each
  row's key set to itself, so every row change is one CDC event and one product
  message whatever the table holds), for ``--seconds`` (default 20; ``--quick``: 5).
  Every product message is matched to its database commit through its position header
  (the change's LSN) and the capture's event on the CDC topic (the commit time
  ``source.ts_us``): commit → product topic latency, p50 and p99 (``kafka_p99_ms=``),
  and per product (``kafka_p99_ms_<domain>=``). Meanwhile a probe inserts one new
  customer every 100 ms and polls the customer product's search index for its document
  (one multi-get of every probe not found yet, every 20 ms): commit → search latency
  (``search_p99_ms=``). A second probe places an order every 100 ms for a customer of
  its own and polls that customer's recommendations over HTTP until the list counts the
  order: commit → recommendation served (``recommendation_p99_ms=``).
  ``delivered_per_s=`` counts product messages of changes committed in the phase (the
  probes' included). Over the phase, each process of the mesh's CPU time and the time
  its threads waited for a core (Linux's ``schedstat``), the rest of the machine's CPU
  (other jobs on a shared machine) and the load average are printed as a table
  (``cpu_busy=``, ``cpu_other_s=``, ``search_server_cpu_s=``,
  ``search_server_waited_s=``, ``load_before=``, ``load_after=``): on a machine with
  more work than cores, the process that waits longest for a core sets the tail.
- **ceilings**: the flows stop and each domain commits one burst (every row of its
  service table, up to 10,000; ``--quick``: 1,000): the capture's ceiling is its CDC
  events per second from the commit to the last event. Then the flows start again
  without recovery, so each re-reads its whole CDC topic: their ceiling is product
  messages per second from the first to the last (start-up not counted). These are what
  each stage does at most on this machine with everything else running beside it,
  printed beside the sustained figures. The consumers timing it all poll with a 10 ms
  fetch wait, so they add little to what they measure.

Targets (from the issue that asked for this benchmark): p99 commit → product topic < 1 s
and commit → search < 2 s at 2,000 changes/s, and a recommendation updated within a
second of an order (p99 < 1 s). ``value=`` is the worst of the three p99s as a fraction
of its target, ``baseline=`` 1; PASS when all are within target.

The machine runs everything here (broker, database, search server, two processes per
domain, this process): on two cores the figures are a floor, not what a cluster does.
Latest figures: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg2
from confluent_kafka import Consumer
from rich.console import Console
from rich.table import Table

from bench._common import BenchResult, parser, report
from bench._mesh import (
    Domain,
    check_running,
    connect_generator,
    create_database,
    database_dsn,
    domain_env,
    domains,
    import_service,
    reader_domain,
    start_part,
    stop_part,
    topics_hold,
    touch,
    wait_until,
)
from meshkit.local import consumer_config, local_search_client
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import LocalStack
from meshkit.privacy.keys import write_master_key_file

KAFKA_TARGET_MS = 1000.0
SEARCH_TARGET_MS = 2000.0
RECOMMENDATION_TARGET_MS = 1000.0
TICK = 0.1  # seconds between the load generator's transactions
POSITION_HEADER = "meshkit-position"


def _proc_times() -> dict[int, tuple[int, float, float]]:
    """Every process of the machine: pid → (parent pid, CPU seconds used, seconds its
    threads waited runnable for a CPU; from ``/proc/<pid>/task/*/schedstat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            waited = 0
            for task in (entry / "task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, ValueError):
            continue  # gone meanwhile
        cpu = (int(fields[11]) + int(fields[12])) / tick
        out[int(entry.name)] = (int(fields[1]), cpu, waited / 1e9)
    return out


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; ``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Where the machine's CPU went during the sustained phase: each part of the mesh (a
    process and its children) with its CPU time and the time its threads waited for a
    core, and the rest of the machine (other jobs on a shared machine)."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts  # label → the pids of its processes (their children count too)
        self._before: dict[int, tuple[int, float, float]] = {}
        self._busy = 0.0
        self.load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self.load_before = os.getloadavg()
        self._busy, self._before = _busy_seconds(), _proc_times()

    def stop(self, seconds: float) -> dict[str, Any]:
        """Each part's (CPU s, waited s) since ``start``, the other processes' CPU s, the
        machine's busy fraction and the load averages."""
        busy, after = _busy_seconds() - self._busy, _proc_times()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in after.items():
            children.setdefault(ppid, []).append(pid)
        rows: dict[str, tuple[float, float]] = {}
        for label, roots in self.parts.items():
            pids, todo = set(), list(roots)
            while todo:
                pid = todo.pop()
                if pid not in pids and pid in after:
                    pids.add(pid)
                    if label != "this benchmark":  # its children are the other parts
                        todo += children.get(pid, [])
            cpu = sum(after[p][1] - self._before.get(p, (0, 0.0, 0.0))[1] for p in pids)
            waited = sum(after[p][2] - self._before.get(p, (0, 0.0, 0.0))[2] for p in pids)
            rows[label] = (cpu, waited)
        mesh = sum(cpu for cpu, _ in rows.values())
        cores = os.cpu_count() or 1
        return {
            "parts": rows,
            "other_cpu_s": max(0.0, busy - mesh),
            "busy": busy / (seconds * cores),
            "load_before": self.load_before,
            "load_after": os.getloadavg(),
        }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Watch:
    """Consumers of every CDC topic and product topic, timing what arrives.

    CDC events give each LSN its commit time; product messages carry the LSN in their
    position header, so each product message's latency is its arrival minus its commit.
    """

    def __init__(self, brokers: str, cdc_topics: list[str], product_topics: list[str]) -> None:
        self.brokers = brokers
        self.commit_us: dict[int, int] = {}
        self.cdc_arrivals: list[float] = []  # arrival times of CDC events
        self.product: list[tuple[float, int, str]] = []  # (arrival, lsn, product topic)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._cdc, args=(cdc_topics,), daemon=True),
            threading.Thread(target=self._products, args=(product_topics,), daemon=True),
        ]

    def _consume(self, topics: list[str], group: str) -> Iterator[list[Any]]:
        consumer = Consumer(
            consumer_config(self.brokers, group_id=group)
            | {"auto.offset.reset": "latest", "fetch.wait.max.ms": 10}
        )
        consumer.subscribe(topics)
        try:
            while not self._stop.is_set():
                batch = [m for m in consumer.consume(2000, 0.05) if m.error() is None]
                if batch:
                    yield batch
        finally:
            consumer.close()

    def _cdc(self, topics: list[str]) -> None:
        for batch in self._consume(topics, "bench-e2e-cdc"):
            now = time.time()
            for m in batch:
                value = m.value()
                if value is None:
                    continue
                source = orjson.loads(value).get("source") or {}
                lsn, ts_us = source.get("lsn"), source.get("ts_us")
                if isinstance(lsn, int) and isinstance(ts_us, int):
                    self.commit_us[lsn] = ts_us
                self.cdc_arrivals.append(now)

    def _products(self, topics: list[str]) -> None:
        for batch in self._consume(topics, "bench-e2e-products"):
            now = time.time()
            for m in batch:
                for key, value in m.headers() or ():
                    if key == POSITION_HEADER and value:
                        self.product.append((now, int(value), m.topic()))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(10)

    def latencies_ms(self, since: float, until: float) -> dict[str, list[float]]:
        """Commit → product topic latency of each product message committed in the window,
        per product topic."""
        out: dict[str, list[float]] = {}
        for arrival, lsn, topic in list(self.product):
            ts_us = self.commit_us.get(lsn)
            if ts_us is not None and since <= ts_us / 1e6 < until:
                out.setdefault(topic, []).append((arrival - ts_us / 1e6) * 1000)
        return out


class SearchProbe:
    """Inserts a new customer every 100 ms and times until its search document exists."""

    def __init__(self, dsn: str, search_url: str, index: str, first_id: int) -> None:
        self.dsn, self.index, self.next_id = dsn, index, first_id
        self.es = local_search_client(search_url)
        self.latencies_ms: list[float] = []
        self.missing = 0
        self._pending: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._insert, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    def _insert(self) -> None:
        svc = import_service("customers")
        rng = random.Random(99)
        conn = psycopg2.connect(self.dsn)
        try:
            while not self._stop.wait(TICK):
                row = svc.person(rng, self.next_id) | {"status": "active"}
                with conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO public.customers (id, email, name, birth_date, country, "
                        "tier, status, created_at) VALUES (%(id)s, %(email)s, %(name)s, "
                        "%(birth_date)s, %(country)s, %(tier)s, %(status)s, %(created_at)s)",
                        row,
                    )
                conn.commit()
                self._pending[str(self.next_id)] = time.time()
                self.next_id -= 1  # below the service's own ids
        finally:
            conn.close()

    def _poll(self) -> None:
        """Every 20 ms, one request for every probe not found yet (a request per probe
        would load the search server in proportion to the lag it measures)."""
        while not self._stop.wait(0.02):
            pending = list(self._pending.items())
            if not pending:
                continue
            answer = self.es.mget(index=self.index, ids=[i for i, _ in pending], source=False)
            now = time.time()
            for (doc_id, committed), doc in zip(pending, answer["docs"], strict=True):
                if doc.get("found"):
                    self.latencies_ms.append((now - committed) * 1000)
                    del self._pending[doc_id]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, drain: float) -> None:
        """Stop inserting, give the last probes ``drain`` seconds, then stop polling."""
        self._stop.set()
        self._threads[0].join(10)
        self._threads[1].join(5)
        deadline = time.monotonic() + drain
        self._stop.clear()
        poller = threading.Thread(target=self._poll, daemon=True)
        poller.start()
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        poller.join(5)
        self.missing = len(self._pending)
        self.es.close()


class RecommendationProbe:
    """Places an order every 100 ms for a customer of its own and times until the
    customer's recommendations over HTTP count it (commit → recommendation served)."""

    CUSTOMER = 9_000_001  # no seeded customer has this id

    def __init__(self, dsn: str, api: str) -> None:
        self.dsn, self.url = dsn, f"{api}/customers/{self.CUSTOMER}/recommendations"
        self.latencies_ms: list[float] = []
        self.placed: list[float] = []  # commit time of the n-th order (n = index + 1)
        self.seen = 0  # orders the served list counts
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._order, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    @property
    def missing(self) -> int:
        return len(self.placed) - self.seen

    def _order(self) -> None:
        svc = import_service("orders")
        conn = psycopg2.connect(self.dsn)
        order_id = -1  # below the service's own ids
        try:
            while not self._stop.wait(TICK):
                row = {"id": order_id, "customer_id": self.CUSTOMER, "status": "paid",
                       "total": 10, "currency": "EUR", "shipping_postcode": None,
                       "placed_at": "2024-05-01T00:00:00Z",
                       "product_id": 1 + (-order_id % svc.PRODUCTS)}  # fmt: skip
                with conn.cursor() as cur:
                    cur.execute(svc.INSERT, row)
                conn.commit()
                self.placed.append(time.time())
                order_id -= 1
        finally:
            conn.close()

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    orders = int(orjson.loads(answer.read())["orders"])
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                continue  # 404 until the first order is served
            now = time.time()
            for n in range(self.seen, min(orders, len(self.placed))):
                self.latencies_ms.append((now - self.placed[n]) * 1000)
            self.seen = max(self.seen, min(orders, len(self.placed)))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, drain: float) -> None:
        """Stop ordering, give the last orders ``drain`` seconds, then stop polling."""
        self._stop.set()
        self._threads[0].join(10)
        self._threads[1].join(5)
        deadline = time.monotonic() + drain
        self._stop.clear()
        poller = threading.Thread(target=self._poll, daemon=True)
        poller.start()
        while self.missing and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        poller.join(5)


def start_api(recs: Domain, state: Path, endpoints: Any) -> str:
    """The recommendations HTTP service as its own process; returns its address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = domain_env(state, endpoints, recs)
    env["MESHKIT_VIEW_DSN"] = env["MESHKIT_STREAMING_VIEW_DSN"]
    with (state / "logs" / "recommendations-api.log").open("ab") as out:
        recs.procs["api"] = subprocess.Popen(
            [sys.executable, "-m", "recommendations.api", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=state,
        )  # fmt: skip
    return f"http://127.0.0.1:{port}"


def served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run(
    rate: float, seconds: float, seed_rows: int, burst: int, console: Console
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-e2e-") as tmp:
        state = Path(tmp)
        os.environ["MESHKIT_MASTER_KEY"] = write_master_key_file(state / "master.key")
        stack = LocalStack(LocalSettings(state_dir=state / "stack", index_port=0))
        all_domains = domains(customers=seed_rows, names=("customers", "orders", "catalog"))
        recs = reader_domain("recommendations")
        watch: Watch | None = None
        try:
            services = {name: stack.service(name).start().pid for name in
                        ("kafka", "postgres", "search")}  # fmt: skip
            endpoints = stack.endpoints
            if not (endpoints.kafka and endpoints.postgres and endpoints.search):
                raise RuntimeError(f"a service of the benchmark is not running: {endpoints}")
            for d in all_domains:
                d.dsn = str(database_dsn(endpoints.postgres, d.database))
                create_database(endpoints.postgres, d.database)
                d.seed(d.dsn, seed_rows)
                connect_generator(d)
            create_database(endpoints.postgres, "serving")
            cdc_topics = [t for d in all_domains for t in d.cdc_topics]
            products = [d.contract.address for d in all_domains]
            watch = Watch(endpoints.kafka, cdc_topics, products)
            for d in all_domains:
                start_part(d, state, endpoints, "cdc")
                start_part(d, state, endpoints, "flow")
            check = lambda: check_running([*all_domains, recs], state)  # noqa: E731
            console.print("waiting for the snapshots to reach the product topics")
            wait_until(lambda: topics_hold(endpoints.kafka, products), 180, "the snapshots", check)
            # the reader starts once the topics it reads exist, as after provisioning
            start_part(recs, state, endpoints, "flow")
            api = start_api(recs, state, endpoints)
            orders = all_domains[1]
            recs_probe = RecommendationProbe(orders.dsn, api)
            wait_until(
                lambda: served(f"{api}/customers/1/recommendations"),
                180, "the first recommendations over HTTP", check,
            )  # fmt: skip
            watch.start()
            time.sleep(2)  # the consumers' group joins; their offsets start at the end
            customers = all_domains[0]
            probe = SearchProbe(customers.dsn, endpoints.search, customers.contract.address,
                                first_id=-1)  # fmt: skip
            per_tick = max(1, round(rate * TICK / len(all_domains)))
            console.print(
                f"sustained: {per_tick * len(all_domains) / TICK:,.0f} changes/s across "
                f"{len(all_domains)} domains for {seconds:.0f} s"
            )
            labels = {"kafka": "broker", "postgres": "PostgreSQL", "search": "search server"}
            parts = {labels[n]: [pid] for n, pid in services.items() if pid is not None}
            for d in [*all_domains, recs]:
                for part, proc in d.procs.items():
                    parts[f"{d.name} {'capture' if part == 'cdc' else part}"] = [proc.pid]
            parts["this benchmark"] = [os.getpid()]
            cpu = CpuShare(parts)
            probe.start()
            recs_probe.start()
            cpu.start()
            start = time.time()
            changes, tick = 0, 0
            while time.time() - start < seconds:
                due = start + tick * TICK
                if time.time() < due:
                    time.sleep(due - time.time())
                for d in all_domains:
                    changes += touch(d, per_tick)
                tick += 1
                if tick % 10 == 0:
                    check()
            end = time.time()
            cpu_share = cpu.stop(end - start)
            probe.stop(drain=10)
            recs_probe.stop(drain=10)

            def arrived() -> int:
                return sum(map(len, watch.latencies_ms(start, end).values()))

            wait_until(
                lambda: arrived() >= 0.95 * changes,
                60, "the sustained changes to reach the product topics", check,
            )  # fmt: skip
            time.sleep(1)
            kafka_by_topic = watch.latencies_ms(start, end)
            kafka = [ms for values in kafka_by_topic.values() for ms in values]
            offered = changes / (end - start)
            delivered = len(kafka) / (end - start)

            # Ceilings. The capture: the flows stop, each domain commits a burst, and the
            # capture's rate is its events over the time from the commit to the last one.
            for d in all_domains:
                stop_part(d, "flow")
            cdc_before = len(watch.cdc_arrivals)
            t0 = time.time()
            expected = sum(touch(d, burst) for d in all_domains)
            console.print(f"ceilings: a burst of {expected:,} row changes")
            wait_until(
                lambda: len(watch.cdc_arrivals) - cdc_before >= expected,
                180, "the burst to reach the CDC topics", check,
            )  # fmt: skip
            cdc_times = watch.cdc_arrivals[cdc_before:]
            cdc_ceiling = len(cdc_times) / max(cdc_times[-1] - t0, 1e-3)
            # The flows: restarted without recovery, each reads its CDC topic from the
            # start again (every earlier event plus the burst); their rate is product
            # messages from the first to the last (the start-up is not counted).
            prod_before = len(watch.product)
            for d in all_domains:
                start_part(d, state, endpoints, "flow")
            wait_until(
                lambda: len(watch.product) - prod_before >= 0.95 * len(watch.cdc_arrivals),
                300, "the flows to re-read their CDC topics", check,
            )  # fmt: skip
            time.sleep(1)
            prod_times = [a for a, _, _ in watch.product[prod_before:]]
            flow_ceiling = len(prod_times) / max(prod_times[-1] - prod_times[0], 1e-3)
        finally:
            if watch is not None:
                watch.stop()
            for d in [*all_domains, recs]:
                stop_part(d)
                if d.conn is not None:
                    d.conn.close()
            stack.down()
    return {
        "domains": len(all_domains) + 1,
        "offered": offered,
        "delivered": delivered,
        "kafka": kafka,
        "kafka_by_topic": kafka_by_topic,
        "cpu": cpu_share,
        "seconds": end - start,
        "search": probe.latencies_ms,
        "search_missing": probe.missing,
        "recommendation": recs_probe.latencies_ms,
        "recommendation_missing": recs_probe.missing,
        "cdc_ceiling": cdc_ceiling,
        "flow_ceiling": flow_ceiling,
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "")
    ap.add_argument("--rate", type=float, help="row changes per second across the domains")
    ap.add_argument("--seconds", type=float, help="length of the sustained phase")
    args = ap.parse_args(argv)
    rate = args.rate or (300.0 if args.quick else 2_000.0)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    console = Console()
    r = run(rate, seconds, seed_rows=500 if args.quick else 2_000,
            burst=1_000 if args.quick else 10_000, console=console)  # fmt: skip
    kafka_p50, kafka_p99 = _pct(r["kafka"], 0.5), _pct(r["kafka"], 0.99)
    search_p50, search_p99 = _pct(r["search"], 0.5), _pct(r["search"], 0.99)
    recs_p50, recs_p99 = _pct(r["recommendation"], 0.5), _pct(r["recommendation"], 0.99)
    table = Table(title=f"whole mesh: {r['domains']} domains on this machine")
    for col in ("figure", "value"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    table.add_row("offered (row changes/s)", f"{r['offered']:,.0f}")
    table.add_row("delivered to product topics (messages/s)", f"{r['delivered']:,.0f}")
    table.add_row("commit → product topic p50 / p99 (ms)", f"{kafka_p50:,.0f} / {kafka_p99:,.0f}")
    for topic, values in sorted(r["kafka_by_topic"].items()):
        table.add_row(
            f"  {topic} ({len(values):,} messages)",
            f"{_pct(values, 0.5):,.0f} / {_pct(values, 0.99):,.0f}",
        )
    table.add_row(
        f"commit → search p50 / p99 (ms), {len(r['search'])} probes",
        f"{search_p50:,.0f} / {search_p99:,.0f}",
    )
    table.add_row(
        f"commit → recommendation served p50 / p99 (ms), {len(r['recommendation'])} orders",
        f"{recs_p50:,.0f} / {recs_p99:,.0f}",
    )
    table.add_row("ceiling: capture (CDC events/s)", f"{r['cdc_ceiling']:,.0f}")
    table.add_row("ceiling: flows (product messages/s)", f"{r['flow_ceiling']:,.0f}")
    console.print(table)
    cpu = r["cpu"]
    cores = os.cpu_count() or 1
    usage = Table(
        title=f"CPU during the sustained phase ({r['seconds']:.0f} s on {cores} cores: "
        f"{cpu['busy']:.0%} busy; load {cpu['load_before'][0]:.1f} before, "
        f"{cpu['load_after'][0]:.1f} after)"
    )
    for col in ("process", "CPU (s)", "of one core", "waited for a core (s)"):
        usage.add_column(col, justify="left" if col == "process" else "right")
    for label, (used, waited) in sorted(cpu["parts"].items(), key=lambda kv: -kv[1][0]):
        usage.add_row(label, f"{used:.2f}", f"{used / r['seconds']:.0%}", f"{waited:.2f}")
    other = cpu["other_cpu_s"]
    usage.add_row("other processes of the machine", f"{other:.2f}",
                  f"{other / r['seconds']:.0%}", "")  # fmt: skip
    console.print(usage)
    worst = max(
        kafka_p99 / KAFKA_TARGET_MS,
        search_p99 / SEARCH_TARGET_MS,
        recs_p99 / RECOMMENDATION_TARGET_MS,
    )
    if r["search_missing"] or not r["search"]:
        worst = max(worst, float("inf"))
    if r["recommendation_missing"] or not r["recommendation"]:
        worst = max(worst, float("inf"))
    report(
        BenchResult(
            "e2e",
            value=worst,
            baseline=1.0,
            target=1.0,
            higher_is_better=False,
            extra={
                "kafka_p50_ms": round(kafka_p50, 1),
                "kafka_p99_ms": round(kafka_p99, 1),
                "search_p50_ms": round(search_p50, 1),
                "search_p99_ms": round(search_p99, 1),
                "recommendation_p50_ms": round(recs_p50, 1),
                "recommendation_p99_ms": round(recs_p99, 1),
                "recommendation_missing": r["recommendation_missing"],
                "offered_per_s": round(r["offered"]),
                "delivered_per_s": round(r["delivered"]),
                "cdc_ceiling_per_s": round(r["cdc_ceiling"]),
                "flow_ceiling_per_s": round(r["flow_ceiling"]),
                "search_missing": r["search_missing"],
                **{
                    f"kafka_p99_ms_{topic.split('.')[0]}": round(_pct(values, 0.99), 1)
                    for topic, values in sorted(r["kafka_by_topic"].items())
                },
                "domains": r["domains"],
                "cores": os.cpu_count(),
                "cpu_busy": round(cpu["busy"], 2),
                "cpu_other_s": round(other, 2),
                "search_server_cpu_s": round(cpu["parts"].get("search server", (0.0, 0.0))[0], 2),
                "search_server_waited_s": round(
                    cpu["parts"].get("search server", (0.0, 0.0))[1], 2
                ),
                "load_before": round(cpu["load_before"][0], 2),
                "load_after": round(cpu["load_after"][0], 2),
            },
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
