"""Stage 1, the monolith: a shop service and its database, with the analysis run on it.

The shop's checkout (insert an order, move another one on, read it back) runs alone, then
while analysts run their reports on the same database; each transaction's time is
measured in both phases. Then the report everyone asks for, revenue per customer country,
is tried: the countries live in the CRM service's database, and PostgreSQL cannot join
across databases.

    python -m examples.stages.stage1_monolith
"""

import argparse
import itertools
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2

from examples.stages import _shared as s

ORDERS, ROUNDS, CLIENTS, ANALYSTS = 300_000, 3, 4, 2  # the shop's sessions, reports
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
CROSS_SERVICE = """SELECT c.country, sum(o.total) FROM public.orders o
JOIN stage1_crm.public.customers c ON c.id = o.customer_id GROUP BY c.country"""


def checkout(cur: Any, rng: random.Random, ids: Iterator[int]) -> float:
    """One checkout transaction; its time in milliseconds."""
    started = time.perf_counter()
    cur.execute(
        "INSERT INTO public.orders (id, customer_id, status, total, currency, placed_at,"
        " product_id) VALUES (%s, %s, 'placed', 19.99, 'EUR', now(), 7)",
        (next(ids), rng.randint(1, 20000)),
    )
    paid = rng.randint(1, ORDERS)
    cur.execute("UPDATE public.orders SET status = 'paid' WHERE id = %s", (paid,))
    cur.execute("SELECT status, total FROM public.orders WHERE id = %s", (paid,))
    cur.fetchone()
    cur.connection.commit()
    return (time.perf_counter() - started) * 1000


def measure(dsn: str, seconds: float, clients: int, ids: Iterator[int]) -> list[float]:
    """``clients`` sessions run checkouts back to back for ``seconds``; all their times."""
    times: list[float] = []

    def client(n: int) -> None:
        rng, conn = random.Random(n), psycopg2.connect(dsn)
        try:
            with conn.cursor() as cur:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    times.append(checkout(cur, rng, ids))
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return times


def analyst(conn: Any, ran: list[float]) -> None:
    """One analyst's session: the report, again and again, until cancelled."""
    with conn.cursor() as cur:
        while True:
            started = time.perf_counter()
            try:
                cur.execute(REPORT)
            except psycopg2.errors.QueryCanceled:
                return
            cur.fetchall()
            ran.append(time.perf_counter() - started)


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    args = ap.parse_args()
    env = s.stack()
    s.say(f"seeding the shop's database with {ORDERS:,} orders")
    shop = s.fresh_database(env.postgres, "stage1_shop")
    s.domain("customers", "service").seed(s.fresh_database(env.postgres, "stage1_crm"), 2_000)
    with psycopg2.connect(shop) as conn, conn.cursor() as cur:
        cur.execute(s.domain("orders", "service").DDL + SEED + "; ANALYZE public.orders", (ORDERS,))
    conn.close()

    # Alone and busy in turns, so load from elsewhere on the machine falls on both phases.
    ids, alone, busy, ran = itertools.count(ORDERS + 1), list[float](), list[float](), list[float]()
    for n in range(ROUNDS):
        s.say(f"round {n + 1} of {ROUNDS}: checkout alone, then with {ANALYSTS} reports")
        alone += measure(shop, args.seconds / ROUNDS, CLIENTS, ids)
        sessions = [psycopg2.connect(shop) for _ in range(ANALYSTS)]
        threads = [threading.Thread(target=analyst, args=(c, ran)) for c in sessions]
        for thread in threads:
            thread.start()
        busy += measure(shop, args.seconds / ROUNDS, CLIENTS, ids)
        for conn, thread in zip(sessions, threads, strict=True):
            conn.cancel()
            thread.join()
            conn.close()

    # fmt: off
    rows = [
        (phase, len(times), f"{len(times) / args.seconds:.0f}",
         f"{s.percentile(times, 50):.2f}", f"{s.percentile(times, 99):.2f}")
        for phase, times in (("checkout alone", alone), (f"+ {ANALYSTS} reports", busy))
    ]
    s.show(f"stage 1: the shop's transactions on its own database ({ORDERS:,} orders)",
           ("phase", "transactions", "per second", "p50 ms", "p99 ms"), rows)
    slower = s.percentile(busy, 50) / s.percentile(alone, 50)
    kept, mean = len(busy) / len(alone), sum(ran) / len(ran) if ran else 0.0
    conn = psycopg2.connect(shop)
    try:
        with conn.cursor() as cur:
            cur.execute(CROSS_SERVICE)
        cross = "answered"
    except psycopg2.errors.FeatureNotSupported as exc:
        cross = f"refused: {str(exc).splitlines()[0]}"
    finally:
        conn.close()
    s.show("stage 1: why it hurts", ("what", "result"), [
        (f"reports finished ({ANALYSTS} running)", f"{len(ran)}, {mean:.2f} s each"),
        ("checkout p50 while analysts work", f"{slower:.1f}x slower (slowdown={slower:.2f})"),
        ("checkouts per second while analysts work",
         f"{kept:.0%} of alone (throughput_ratio={kept:.2f})"),
        ("revenue per country (orders in shop, countries in the CRM)", cross),
    ])
    # fmt: on


if __name__ == "__main__":
    s.main(run)
