"""The shop service's database, as the orders domain sees it: its orders table, seeded
with synthetic orders of the customers the CRM knows, and the changes checkout makes.

This stands in for the real shop service in local runs, tests and the demo; the product
is captured from whatever writes this table.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2

TABLE = "public.orders"
DDL = """
CREATE TABLE IF NOT EXISTS public.orders (
    id                bigint PRIMARY KEY,
    customer_id       bigint NOT NULL,
    status            text NOT NULL,
    total             numeric(12,2) NOT NULL,
    currency          text NOT NULL,
    shipping_postcode text,
    placed_at         timestamptz NOT NULL,
    product_id        bigint
);
ALTER TABLE public.orders REPLICA IDENTITY FULL;
"""
STATUSES = ["placed", "paid", "paid", "shipped", "shipped", "shipped", "cancelled"]
NEXT = {"placed": "paid", "paid": "shipped", "shipped": "delivered"}
POSTCODES = ["SW1A 1AA", "EC1A 1BB", "1012 AB", "3521 KZ", "75001", "10115", "11122", "28013",
             "00184", "00-950", "D02 XY45", "94105", "10001"]  # fmt: skip
START = datetime(2024, 5, 1, tzinfo=UTC)
INSERT = (
    "INSERT INTO public.orders (id, customer_id, status, total, currency, shipping_postcode,"
    " placed_at, product_id) VALUES (%(id)s, %(customer_id)s, %(status)s, %(total)s,"
    " %(currency)s, %(shipping_postcode)s, %(placed_at)s, %(product_id)s)"
)
PRODUCTS = 200  # the catalogue's articles the orders are for (catalog.product ids 1..N)


def order(
    rng: random.Random, order_id: int, customers: int, days: int, products: int = PRODUCTS
) -> dict[str, object]:
    """One synthetic order of one of ``customers`` customers within ``days`` days.

    The article comes from a random stream of its own (the other fields stay as they
    were before orders named their article): mostly one of the customer's eight
    favourites, so customers have tastes a recommender can find.
    """
    customer = rng.randint(1, customers)
    return {
        "id": order_id,
        "customer_id": customer,
        "product_id": article(order_id, customer, products),
        "status": rng.choice(STATUSES),
        "total": Decimal(rng.randrange(299, 45_000)) / 100,
        "currency": "EUR",
        "shipping_postcode": rng.choice(POSTCODES) if rng.random() > 0.03 else None,
        "placed_at": START + timedelta(seconds=rng.randrange(0, days * 86_400)),
    }


def article(order_id: int, customer: int, products: int) -> int:
    """The catalog product an order is for: one of the customer's favourites, 4 in 5 times."""
    favourites = random.Random(customer).sample(range(1, products + 1), min(8, products))
    pick = random.Random(order_id * 7_919 + customer)
    return pick.choice(favourites) if pick.random() < 0.8 else pick.randint(1, products)


def seed(
    dsn: str, count: int, *, customers: int, days: int = 7, seed: int = 5, products: int = PRODUCTS
) -> int:
    """Create the table and insert ``count`` orders of customers 1..``customers``."""
    rng = random.Random(seed)
    rows = [order(rng, i, customers, days, products) for i in range(1, count + 1)]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cur.executemany(INSERT + " ON CONFLICT (id) DO NOTHING", rows)
    conn.close()
    return count


def change(
    dsn: str,
    count: int,
    *,
    customers: int,
    days: int = 7,
    seed: int = 13,
    products: int = PRODUCTS,
) -> dict[str, int]:
    """What checkout does in a while: new orders, status moves, and a few removed test orders."""
    rng = random.Random(seed)
    done = {"inserted": 0, "updated": 0, "deleted": 0}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM public.orders")
        (top,) = cur.fetchone() or (0,)
        for _ in range(count):
            roll = rng.random()
            if roll < 0.5:
                top += 1
                cur.execute(INSERT, order(rng, top, customers, days, products))
                done["inserted"] += 1
            elif roll < 0.95:
                status = rng.choice(list(NEXT))
                cur.execute(
                    "UPDATE public.orders SET status = %s WHERE id = %s AND status = %s",
                    (NEXT[status], rng.randint(1, top), status),
                )
                done["updated"] += cur.rowcount
            else:
                cur.execute("DELETE FROM public.orders WHERE id = %s", (rng.randint(1, top),))
                done["deleted"] += cur.rowcount
    conn.close()
    return done
