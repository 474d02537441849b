"""The CRM service's database, as the customers domain sees it: its table, seeded with
realistic synthetic people, and the day-to-day changes the service makes to it.

This stands in for the real CRM service in local runs, tests and the demo; the product
is captured from whatever writes this table.
"""

import random
from datetime import UTC, date, datetime, timedelta

import psycopg2

TABLE = "public.customers"
DDL = """
CREATE TABLE IF NOT EXISTS public.customers (
    id          bigint PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL,
    birth_date  date,
    country     text NOT NULL,
    tier        text NOT NULL,
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL
);
ALTER TABLE public.customers REPLICA IDENTITY FULL;
"""
FIRST = ["Ada", "Alan", "Grace", "Katherine", "Marie", "Linus", "Margaret", "Tim", "Barbara",
         "Donald", "Frances", "Ken", "Radia", "Guido", "Hedy", "Dennis", "Sophie", "Edsger",
         "Annie", "John", "Joan", "Niklaus", "Karen", "Claude", "Mary", "Bjarne"]  # fmt: skip
LAST = ["Lovelace", "Turing", "Hopper", "Johnson", "Curie", "Torvalds", "Hamilton", "Berners",
        "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Rossum", "Lamarr", "Ritchie",
        "Wilson", "Dijkstra", "Easley", "McCarthy", "Clarke", "Wirth", "Jones", "Shannon",
        "Keller", "Stroustrup"]  # fmt: skip
COUNTRIES = ["GB", "US", "FR", "DE", "NL", "SE", "ES", "IT", "PL", "IE"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]
TIERS = ["free", "free", "free", "plus", "plus", "pro"]


def person(rng: random.Random, customer_id: int) -> dict[str, object]:
    """One synthetic customer; the same seed gives the same people."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    signed_up = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 900_000))
    return {
        "id": customer_id,
        "email": f"{first}.{last}{customer_id}@{rng.choice(DOMAINS)}".lower(),
        "name": f"{first} {last}",
        "birth_date": born if rng.random() > 0.05 else None,
        "country": rng.choice(COUNTRIES),
        "tier": rng.choice(TIERS),
        "status": "test" if rng.random() < 0.02 else "active",
        "created_at": signed_up,
    }


def seed(dsn: str, count: int, *, seed: int = 7) -> int:
    """Create the table and insert ``count`` synthetic customers; returns how many."""
    rng = random.Random(seed)
    rows = [person(rng, i) for i in range(1, count + 1)]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cur.executemany(
            "INSERT INTO public.customers (id, email, name, birth_date, country, tier, status,"
            " created_at) VALUES (%(id)s, %(email)s, %(name)s, %(birth_date)s, %(country)s,"
            " %(tier)s, %(status)s, %(created_at)s) ON CONFLICT (id) DO NOTHING",
            rows,
        )
    conn.close()
    return count


def change(dsn: str, count: int, *, seed: int = 11) -> dict[str, int]:
    """What the CRM does in a day: new customers, upgrades, moves and closed accounts."""
    rng = random.Random(seed)
    done = {"inserted": 0, "updated": 0, "deleted": 0}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM public.customers")
        (top,) = cur.fetchone() or (0,)
        for _ in range(count):
            roll = rng.random()
            if roll < 0.4:
                top += 1
                row = person(rng, top)
                cur.execute(
                    "INSERT INTO public.customers (id, email, name, birth_date, country, tier,"
                    " status, created_at) VALUES (%(id)s, %(email)s, %(name)s, %(birth_date)s,"
                    " %(country)s, %(tier)s, %(status)s, %(created_at)s)",
                    row,
                )
                done["inserted"] += 1
            elif roll < 0.9:
                cur.execute(
                    "UPDATE public.customers SET tier = %s, country = %s WHERE id = %s",
                    (rng.choice(TIERS), rng.choice(COUNTRIES), rng.randint(1, top)),
                )
                done["updated"] += cur.rowcount
            else:
                cur.execute("DELETE FROM public.customers WHERE id = %s", (rng.randint(1, top),))
                done["deleted"] += cur.rowcount
    conn.close()
    return done
