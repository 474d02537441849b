"""Live traffic on the orders and catalog domains: how long from a commit to each port.

After the batch part of the demo, the orders domain runs as production runs it: its CDC
capture streams from its replication slot again and its Bytewax flow runs as a process,
resumed from the recovery snapshot the demo's first run of it left (so nothing is
replayed into the product topic). The shop then places orders, one at a time, each for
a different customer who has a recommendation list, and the demo times every order from
its commit in the service database to:

- the product topic ``orders.order.v1`` (the message's broker timestamp, set when the
  flow produced it);
- the serving view ``orders.customer_orders.v1`` (the order id among the customer's
  latest orders, polled in PostgreSQL);
- the recommendations service (the customer's list over HTTP counts the new order; the
  recommendations flow reads the product topic, so this is the whole mesh's path).

A first order warms the path up and is not counted: the flow process starts by loading
its snapshot, and the condition waited on is that order reaching the view.

Then the catalog domain runs live the same way while merchandising renames articles one
by one, each timed from its commit to the shop's search index answering with the new
name (the index the search box queries, by its alias).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
from confluent_kafka import Consumer, TopicPartition
from psycopg2 import sql

from examples.mesh_job import DOMAINS, CdcRunner, count_topic
from examples.recommendations_service import Recommendations
from meshkit.local import consumer_config, local_search_client

TOPIC = "orders.order.v1"
SEARCH_ALIAS = "catalog.product"  # the index the shop's search box queries
VIEW = "orders.customer_orders.v1"
INSERT = (
    "INSERT INTO public.orders (id, customer_id, status, total, currency, shipping_postcode,"
    " placed_at, product_id) VALUES (%s, %s, 'paid', %s, 'EUR', '10115', now(), %s)"
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (of a few dozen samples, p99 is the slowest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def place(dsn: str, order: int, customer: int, product: int) -> float:
    """Insert one order; the wall-clock time just after its commit (seconds)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(INSERT, (order, customer, Decimal("19.90"), product))
        return time.time()
    finally:
        conn.close()


def in_view(serving: str, orders: dict[int, int]) -> set[int]:
    """Which of ``orders`` (order → customer) the serving view lists for their customer."""
    conn = psycopg2.connect(serving)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "SELECT customer_id, recent_order_ids FROM {} WHERE customer_id = ANY(%s)"
                ).format(sql.Identifier("public", VIEW)),
                ([str(c) for c in orders.values()],),
            )
            listed = {str(c): set(ids or []) for c, ids in cur.fetchall()}
    finally:
        conn.close()
    return {o for o, c in orders.items() if str(o) in listed.get(str(c), set())}


def topic_times(brokers: str, orders: set[int], timeout: float = 30) -> dict[int, float]:
    """Each order's message in the product topic: the broker timestamp (seconds)."""
    consumer = Consumer(consumer_config(brokers, group_id=f"demo-latency-{time.time_ns()}"))
    found: dict[int, float] = {}
    wanted = {str(o).encode(): o for o in orders}
    try:
        meta = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC]
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + timeout
        while len(found) < len(orders) and time.monotonic() < deadline:
            for m in consumer.consume(5000, 0.2):
                order = wanted.get(m.key() or b"") if m.error() is None else None
                if order is not None and order not in found:
                    found[order] = m.timestamp()[1] / 1000
    finally:
        consumer.close()
    return found


class LiveDomain:
    """A domain's capture (thread) and flow (process) running live, the flow resumed from
    the recovery snapshot the demo's first run of it left; stopped on exit."""

    def __init__(self, name: str, dsn: str, env: dict[str, str], state: Path) -> None:
        self.name, self.state = name, state
        self.cdc = CdcRunner(
            dsn, DOMAINS / name / "contracts", env["MESHKIT_STREAMING_BROKERS"],
            state / "cdc" / name,
        )  # fmt: skip
        src = str(DOMAINS / name / "src")
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, **env, "PYTHONPATH": path, "MESHKIT_METRICS_PORT": "off"}
        self.log = state / f"{name}-flow.log"
        self.flow: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveDomain:
        self.cdc.start()
        try:
            self.cdc.wait_streaming(timeout=60)
            with self.log.open("wb") as log:
                self.flow = subprocess.Popen(
                    [sys.executable, "-m", "bytewax.run", f"{self.name}.flow:flow",
                     "-r", str(self.state / "recovery" / self.name), "-s", "1", "-b", "0"],
                    env=self.env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
        except BaseException:
            self.cdc.stop()
            raise
        return self

    def wait(self, what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
        """Until ``condition()`` holds; fails if the flow exits or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.flow is not None and self.flow.poll() is not None:
                raise RuntimeError(f"the {self.name} flow exited; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"live traffic: {what} within {timeout:.0f} s; see {self.log}")
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        if self.flow is not None and self.flow.poll() is None:
            self.flow.send_signal(signal.SIGTERM)
            try:
                self.flow.wait(20)
            except subprocess.TimeoutExpired:
                self.flow.kill()
                self.flow.wait()
        self.cdc.stop()


def timings(committed: dict[int, float], seen: dict[int, float]) -> dict[str, Any]:
    """How many were seen, and p50/p99 of commit → seen in milliseconds."""
    ms = [(seen[k] - committed[k]) * 1000 for k in committed if k in seen]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 0.5), 1) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
    }


def run_live(
    brokers: str,
    warehouse: Path,
    state: Path,
    shop: str,
    serving: str,
    recommendations: Recommendations,
    *,
    count: int,
    exclude: str,
) -> dict[str, Any]:
    """Restart the orders domain live, place ``count`` orders, time each to every port."""
    env = {
        "MESHKIT_STREAMING_BROKERS": brokers,
        "MESHKIT_STREAMING_VIEW_DSN": serving,
        "MESHKIT_STREAMING_WAREHOUSE": str(warehouse),
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(state / "keys"),
    }
    with LiveDomain("orders", shop, env, state) as live:
        conn = psycopg2.connect(shop)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM public.orders")
            (top,) = cur.fetchone() or (0,)
        conn.close()
        conn = psycopg2.connect(serving)
        with conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT customer_id FROM {} ORDER BY customer_id").format(
                    sql.Identifier("public", "recommendations.recommendation.v1")
                )
            )
            listed = [int(r[0]) for r in cur.fetchall() if r[0] != exclude]
        conn.close()
        rng = random.Random(11)
        customers = rng.sample(listed, count + 1)

        warm = top + 1  # warms the path up: the flow process loads its snapshot first
        place(shop, warm, customers[0], rng.randint(1, 200))
        live.wait(
            "the first order did not reach the serving view",
            lambda: bool(in_view(serving, {warm: customers[0]})),
        )

        before = {c: recommendations.get(str(c))[1].get("orders", 0) for c in customers[1:]}
        committed: dict[int, float] = {}
        owner: dict[int, int] = {}
        view_at: dict[int, float] = {}
        http_at: dict[int, float] = {}
        done = threading.Event()

        def poll_view() -> None:  # one query for every order not seen yet
            while not done.is_set():
                pending = {o: owner[o] for o in list(committed) if o not in view_at}
                arrived = in_view(serving, pending) if pending else set()
                now = time.time()
                for o in arrived:
                    view_at[o] = now
                time.sleep(0.01)

        def poll_http() -> None:  # the customer's list counts the new order
            while not done.is_set():
                for o in [o for o in list(committed) if o not in http_at]:
                    c = owner[o]
                    status, body = recommendations.get(str(c))
                    if status == 200 and body.get("orders") == before[c] + 1:
                        http_at[o] = time.time()
                time.sleep(0.01)

        pollers = [threading.Thread(target=f, daemon=True) for f in (poll_view, poll_http)]
        for t in pollers:
            t.start()
        try:
            for i, customer in enumerate(customers[1:], start=warm + 1):
                owner[i] = customer
                committed[i] = place(shop, i, customer, rng.randint(1, 200))
                time.sleep(0.05)
            live.wait(
                "not every order reached the view and the recommendations",
                lambda: len(view_at) == len(http_at) == len(owner),
            )
        finally:
            done.set()
            for t in pollers:
                t.join(10)
        topic_at = topic_times(brokers, set(owner))
    # resumed, not replayed: the topic gained one message per order placed, no more
    messages = count_topic(brokers, TOPIC)
    ports = {
        "product topic orders.order.v1": topic_at,
        "serving view orders.customer_orders.v1": view_at,
        "recommendations over HTTP": http_at,
    }
    return {
        "orders": len(owner),
        "placed": len(owner) + 1,  # with the warm-up order
        "topic_messages_after": messages,
        "ports": {port: timings(committed, seen) for port, seen in ports.items()},
    }


def search_live(
    brokers: str,
    warehouse: Path,
    search_url: str,
    state: Path,
    catalogue: str,
    *,
    count: int,
) -> dict[str, Any]:
    """Restart the catalog domain live, rename ``count`` articles one by one, and time each
    from its commit to the shop's search index answering with the new name."""
    env = {
        "MESHKIT_STREAMING_BROKERS": brokers,
        "MESHKIT_STREAMING_WAREHOUSE": str(warehouse),
        "MESHKIT_STREAMING_SEARCH_URL": search_url,
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(state / "keys"),
    }
    es = local_search_client(search_url)
    committed: dict[int, float] = {}
    renamed: dict[int, str] = {}
    found: dict[int, float] = {}

    def rename(article: int, name: str) -> float:
        conn = psycopg2.connect(catalogue)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    "UPDATE public.products SET name = %s, updated_at = now() WHERE id = %s",
                    (name, article),
                )
            return time.time()
        finally:
            conn.close()

    def searchable(articles: dict[int, str]) -> set[int]:
        """Which articles the index returns under their new name."""
        answer = es.search(
            index=SEARCH_ALIAS,
            query={"ids": {"values": [str(a) for a in articles]}},
            size=len(articles),
        )
        hits = {h["_source"]["product_id"]: h["_source"]["name"] for h in answer["hits"]["hits"]}
        return {a for a, name in articles.items() if hits.get(str(a)) == name}

    try:
        with LiveDomain("catalog", catalogue, env, state) as live:
            conn = psycopg2.connect(catalogue)
            with conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT id, name FROM public.products WHERE status = 'active' "
                    "ORDER BY id LIMIT %s",
                    (count + 1,),
                )
                articles = cur.fetchall()
            conn.close()
            (warm, warm_name), rest = articles[0], articles[1:]
            rename(warm, f"{warm_name} (new)")
            live.wait(
                "the first renamed article did not reach the search index",
                lambda: bool(searchable({warm: f"{warm_name} (new)"})),
            )
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    pending = {a: renamed[a] for a in list(committed) if a not in found}
                    arrived = searchable(pending) if pending else set()
                    now = time.time()
                    for a in arrived:
                        found[a] = now
                    time.sleep(0.01)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                for article, name in rest:
                    renamed[article] = f"{name} (new)"
                    committed[article] = rename(article, renamed[article])
                    time.sleep(0.05)
                live.wait(
                    "not every renamed article reached the search index",
                    lambda: len(found) == len(renamed),
                )
            finally:
                done.set()
                poller.join(10)
    finally:
        es.close()
    return {"articles": len(renamed), "search": timings(committed, found)}
