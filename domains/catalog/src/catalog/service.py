"""The catalogue service's database, as the catalog domain sees it: its products table,
seeded with synthetic articles, and the changes merchandising makes to it.

This stands in for the real catalogue service in local runs, tests and the demo; the
product is captured from whatever writes this table.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2

TABLE = "public.products"
DDL = """
CREATE TABLE IF NOT EXISTS public.products (
    id          bigint PRIMARY KEY,
    sku         text NOT NULL,
    name        text NOT NULL,
    description text,
    category    text NOT NULL,
    price       numeric(10,2) NOT NULL,
    currency    text NOT NULL DEFAULT 'EUR',
    stock       integer NOT NULL,
    status      text NOT NULL DEFAULT 'active',
    updated_at  timestamptz NOT NULL
);
ALTER TABLE public.products REPLICA IDENTITY FULL;
"""
CATEGORIES = {
    "books": ["Novel", "Cookbook", "Atlas", "Field Guide", "Biography"],
    "games": ["Board Game", "Card Game", "Puzzle", "Dice Set"],
    "kitchen": ["Kettle", "Chef's Knife", "Frying Pan", "Teapot", "Grinder"],
    "garden": ["Trowel", "Watering Can", "Seed Tray", "Hose Reel"],
    "music": ["Ukulele", "Metronome", "Harmonica", "Guitar Strings"],
    "outdoor": ["Tent", "Sleeping Bag", "Headlamp", "Hiking Poles", "Rain Jacket"],
    "toys": ["Kite", "Wooden Train", "Building Blocks", "Yo-yo"],
    "electronics": ["Headphones", "E-reader", "Power Bank", "Desk Lamp", "Speaker"],
}
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Everyday", "Folding", "Handmade", "Light",
              "Nordic", "Pocket", "Quiet", "Rugged", "Solar", "Travel", "Vintage"]  # fmt: skip
COLOURS = ["red", "blue", "green", "black", "oak", "steel", "sand", "white"]
START = datetime(2024, 5, 1, tzinfo=UTC)
INSERT = (
    "INSERT INTO public.products (id, sku, name, description, category, price, currency,"
    " stock, status, updated_at) VALUES (%(id)s, %(sku)s, %(name)s, %(description)s,"
    " %(category)s, %(price)s, %(currency)s, %(stock)s, %(status)s, %(updated_at)s)"
    " ON CONFLICT (id) DO NOTHING"
)


def article(rng: random.Random, product_id: int) -> dict[str, object]:
    """One synthetic article; the same seed gives the same catalogue."""
    category = rng.choice(sorted(CATEGORIES))
    noun = rng.choice(CATEGORIES[category])
    adjective, colour = rng.choice(ADJECTIVES), rng.choice(COLOURS)
    return {
        "id": product_id,
        "sku": f"{category[:3].upper()}-{product_id:05d}",
        "name": f"{adjective} {noun}",
        "description": f"The {adjective.lower()} {noun.lower()} in {colour}, for {category}.",
        "category": category,
        "price": Decimal(rng.randrange(199, 24999)) / 100,
        "currency": "EUR",
        "stock": rng.randrange(0, 500),
        "status": "draft" if rng.random() < 0.03 else "active",
        "updated_at": START + timedelta(minutes=rng.randrange(0, 200_000)),
    }


def seed(dsn: str, count: int, *, seed: int = 3) -> int:
    """Create the table and insert ``count`` synthetic articles; returns how many."""
    rng = random.Random(seed)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cur.executemany(INSERT, [article(rng, i) for i in range(1, count + 1)])
    conn.close()
    return count


def change(dsn: str, count: int, *, seed: int = 17) -> dict[str, int]:
    """What merchandising does in a while: new articles, price and stock moves, and a few
    articles taken off sale (deleted)."""
    rng = random.Random(seed)
    done = {"inserted": 0, "updated": 0, "deleted": 0}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM public.products")
        (top,) = cur.fetchone() or (0,)
        for _ in range(count):
            roll = rng.random()
            if roll < 0.2:
                top += 1
                cur.execute(INSERT, article(rng, top))
                done["inserted"] += cur.rowcount
            elif roll < 0.95:
                cur.execute(
                    "UPDATE public.products SET price = greatest(price * %s, 0.99),"
                    " stock = greatest(stock + %s, 0), updated_at = now()"
                    " WHERE id = %s",
                    (Decimal(rng.randrange(90, 111)) / 100, rng.randrange(-20, 40),
                     rng.randrange(1, top + 1)),
                )  # fmt: skip
                done["updated"] += cur.rowcount
            else:
                gone = rng.randrange(1, top + 1)
                cur.execute("DELETE FROM public.products WHERE id = %s", (gone,))
                done["deleted"] += cur.rowcount
    conn.close()
    return done
