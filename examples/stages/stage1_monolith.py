"""Stage 1, the monolith: a shop service and its database, with the analysis run on it.

The shop's checkout (insert an order, move another one on, read it back) runs alone, then
while analysts run their reports on the same database; each transaction's time is
measured in both phases. Then the report everyone asks for, revenue per customer country,
is tried: the countries live in the CRM service's database, and PostgreSQL cannot join
across databases.

    python -m examples.stages.stage1_monolith
"""

from __future__ import annotations

import argparse
import random
import threading
import time

import psycopg2

from examples.stages._shared import domain as domain_module
from examples.stages._shared import (
    fresh_database,
    main,
    percentile,
    show,
    stack,
)

ORDERS = 300_000
SEED = """
INSERT INTO public.orders (id, customer_id, status, total, currency, shipping_postcode,
                           placed_at, product_id)
SELECT i, 1 + (i * 7919) %% 20000, (ARRAY['placed','paid','shipped'])[1 + i %% 3],
       round((3 + (i * 31) %% 450)::numeric, 2), 'EUR', NULL,
       timestamptz '2024-05-01' + (i %% 86400) * interval '7 seconds', 1 + i %% 200
FROM generate_series(1::bigint, %s) AS i
"""
# What the analysts run, again and again, on the service's own database.
REPORT = """
SELECT customer_id, date_trunc('day', placed_at) AS day, count(*), sum(total),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY total)
FROM public.orders GROUP BY 1, 2 ORDER BY 4 DESC LIMIT 20
"""
CROSS_SERVICE = """
SELECT c.country, sum(o.total) FROM public.orders o
JOIN stage1_crm.public.customers c ON c.id = o.customer_id GROUP BY c.country
"""


def checkout(cur: object, rng: random.Random, next_id: list[int]) -> float:
    """One checkout transaction; its time in milliseconds."""
    started = time.perf_counter()
    next_id[0] += 1
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO public.orders (id, customer_id, status, total, currency, placed_at,"
        " product_id) VALUES (%s, %s, 'placed', 19.99, 'EUR', now(), 7)",
        (next_id[0], rng.randint(1, 20000)),
    )
    paid = rng.randint(1, ORDERS)
    cur.execute("UPDATE public.orders SET status = 'paid' WHERE id = %s", (paid,))  # type: ignore[attr-defined]
    cur.execute("SELECT status, total FROM public.orders WHERE id = %s", (paid,))  # type: ignore[attr-defined]
    cur.fetchone()  # type: ignore[attr-defined]
    cur.connection.commit()  # type: ignore[attr-defined]
    return (time.perf_counter() - started) * 1000


def measure(dsn: str, seconds: float, next_id: list[int]) -> list[float]:
    """Checkout transactions back to back for ``seconds``; their times (ms)."""
    rng, times = random.Random(1), []
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                times.append(checkout(cur, rng, next_id))
    finally:
        conn.close()
    return times


def analysts(dsn: str, stop: threading.Event, ran: list[float]) -> None:
    """One analyst's session: the report, again and again, until ``stop``."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                started = time.perf_counter()
                cur.execute(REPORT)
                cur.fetchall()
                ran.append(time.perf_counter() - started)
    finally:
        conn.close()


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each phase")
    ap.add_argument("--analysts", type=int, default=2, help="reports running at once")
    args = ap.parse_args()
    env = stack()
    shop = fresh_database(env.postgres, "stage1_shop")
    crm = fresh_database(env.postgres, "stage1_crm")
    domain_module("customers", "service").seed(crm, 2_000)
    with psycopg2.connect(shop) as conn, conn.cursor() as cur:
        cur.execute(domain_module("orders", "service").DDL)
        cur.execute(SEED, (ORDERS,))
        cur.execute("ANALYZE public.orders")
    conn.close()

    next_id = [ORDERS + 1_000_000]
    alone = measure(shop, args.seconds, next_id)
    stop, ran = threading.Event(), []
    threads = [
        threading.Thread(target=analysts, args=(shop, stop, ran)) for _ in range(args.analysts)
    ]
    for thread in threads:
        thread.start()
    busy = measure(shop, args.seconds, next_id)
    stop.set()
    for thread in threads:
        thread.join()

    rows = []
    for phase, times in (("checkout alone", alone), (f"checkout + {args.analysts} reports", busy)):
        rate = len(times) / args.seconds
        rows.append((phase, len(times), f"{rate:.0f}", f"{percentile(times, 50):.2f}",
                     f"{percentile(times, 99):.2f}"))  # fmt: skip
    show(
        f"stage 1: the shop's transactions on its own database ({ORDERS:,} orders)",
        ("phase", "transactions", "per second", "p50 ms", "p99 ms"),
        rows,
    )
    slower = percentile(busy, 50) / percentile(alone, 50)
    mean = sum(ran) / len(ran) if ran else 0.0
    try:
        with psycopg2.connect(shop) as conn, conn.cursor() as cur:
            cur.execute(CROSS_SERVICE)
        cross = "answered"
    except psycopg2.errors.FeatureNotSupported as exc:
        cross = f"refused: {str(exc).splitlines()[0]}"
    finally:
        conn.close()
    show(
        "stage 1: why it hurts",
        ("what", "result"),
        [
            ("reports run during the busy phase", f"{len(ran)} (mean {mean:.2f} s each)"),
            ("checkout p50 while analysts work", f"{slower:.1f}x slower (slowdown={slower:.2f})"),
            ("revenue per country (orders in shop, countries in the CRM)", cross),
        ],
    )


if __name__ == "__main__":
    main(run)
