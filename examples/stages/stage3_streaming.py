"""Stage 3, stream processing: change data capture streams the shop into the warehouse.

The orders domain runs as it does in production: its capture (``meshkit cdc run``: the
shop database's changes as Debezium events in Kafka) and its Bytewax flow (validate,
transform the personal data, write the product topic and the warehouse table), each its
own process. New orders are committed one by one while both run; the time from each commit
to its record in the product topic is measured. The warehouse table was made from the
order contract by the flow, no column written by hand, and holds every order.

    python -m examples.stages.stage3_streaming
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import duckdb
import psycopg2

import meshkit.streaming as ms
from examples.stages import _shared as s
from meshkit.batch import load_contract

SEEDED, NEW, FIRST_NEW = 2_000, 100, 1_000_000
CONTRACT = s.DOMAINS / "orders" / "contracts" / "order.yaml"


def latencies(reader: s.TopicReader, dsn: str) -> list[float]:
    """Commit ``NEW`` orders one at a time (20 a second); each one's commit → topic, in ms."""
    committed: dict[str, float] = {}
    seen: dict[str, float] = {}

    def arrived(timeout: float) -> int:
        start = len(reader.values)
        reader.poll(timeout)
        for value in reader.values[start:]:
            if value and (order_id := json.loads(value)["order_id"]) in committed:
                seen.setdefault(order_id, time.monotonic())
        return len(seen)

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for i in range(NEW):
                cur.execute(
                    "INSERT INTO public.orders (id, customer_id, status, total, currency,"
                    " placed_at, product_id) VALUES (%s, 7, 'placed', 42.00, 'EUR', now(), 3)",
                    (FIRST_NEW + i,),
                )
                conn.commit()
                committed[str(FIRST_NEW + i)] = time.monotonic()
                deadline = time.monotonic() + 0.05
                while time.monotonic() < deadline:
                    arrived(0.01)
        s.wait_until(lambda: arrived(0.1) >= NEW, 60, "new orders in the product topic")
    finally:
        conn.close()
    return [(seen[k] - committed[k]) * 1000 for k in committed]


def run() -> None:
    env = s.stack()
    state = s.WORKDIR / "stage3"
    shutil.rmtree(state, ignore_errors=True)
    contract = load_contract(CONTRACT)
    topic, cdc_topic = contract.address, "orders.cdc.public.orders"
    s.delete_topics(env.kafka, [cdc_topic, topic, ms.dead_letter_topic(contract)])
    with duckdb.connect(str(env.warehouse)) as con:
        con.execute("DROP TABLE IF EXISTS orders.order_v1")
    s.say("seeding the shop and starting its capture")
    shop = s.fresh_database(env.postgres, "stage3_shop")
    s.domain("orders", "service").seed(shop, SEEDED, customers=500)

    bin_dir = Path(sys.executable).parent
    cdc = s.start(
        "meshkit cdc run",
        [str(bin_dir / "meshkit"), "cdc", "run", "--quiet", "--contracts", str(CONTRACT.parent),
         "--dsn", shop, "--bootstrap-servers", env.kafka, "--state-dir", str(state / "cdc"),
         "--slot", "stage3_orders", "--publication", "stage3_orders", "--metrics-port", "off"],
        {"MESHKIT_REGISTRY_URL": ""}, state / "cdc.log",
    )  # fmt: skip
    flow = None
    raw, product = s.TopicReader(env.kafka, cdc_topic), s.TopicReader(env.kafka, topic)
    try:
        started = time.monotonic()
        s.wait_until(lambda: cdc.check() and raw.poll() >= SEEDED, 60, "CDC")
        flow = s.start(
            "the orders flow",
            [sys.executable, "-m", "bytewax.run", "orders.flow:flow"],
            {"PYTHONPATH": str(s.DOMAINS / "orders" / "src"), "MESHKIT_ENV": "local",
             "MESHKIT_STREAMING_BROKERS": env.kafka,
             "MESHKIT_STREAMING_WAREHOUSE": str(env.warehouse),
             "MESHKIT_STREAMING_KEYSTORE_DIR": str(state / "keys"),
             "MESHKIT_METRICS_PORT": "off", "MESHKIT_REGISTRY_URL": ""},
            state / "flow.log",
        )  # fmt: skip
        first = flow
        s.say("the flow's first pass over the snapshot")
        s.wait_until(lambda: first.check() and product.poll() >= SEEDED, 90, "flow")
        caught_up = time.monotonic() - started
        s.say(f"committing {NEW} orders one at a time")
        times = latencies(product, shop)
    finally:
        raw.close()
        product.close()
        for part in (flow, cdc):
            if part is not None:
                part.stop()
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM orders.order_v1").fetchone() or (0,)
        columns = con.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'orders' AND table_name = 'order_v1'"
        ).fetchone() or (0,)
        postcode = con.execute(
            "SELECT max(length(shipping_postcode)) FROM orders.order_v1"
        ).fetchone() or (0,)
    p50, p99 = s.percentile(times, 50), s.percentile(times, 99)
    s.show(
        "stage 3: the shop's database streamed to Kafka and the warehouse",
        ("what", "result"),
        [
            ("seeded orders: snapshot → product topic", f"{SEEDED} in {caught_up:.1f} s"),
            (f"{NEW} new orders: commit → product topic",
             f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (p99_ms={p99:.0f})"),
            ("orders in the warehouse table (after stopping)", f"{rows} of {SEEDED + NEW}"),
            ("warehouse columns, from the contract", f"{columns[0]} (none written by hand)"),
            ("longest shipping postcode (generalized)", f"{postcode[0]} characters"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    s.main(run)
