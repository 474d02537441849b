"""Stage 2, batch processing: a Dagster job copies the services' tables into a warehouse.

Two services, the CRM (customers) and the shop (orders), each with its own database.
Dagster copies both into the DuckDB warehouse and builds the cross-service report the
monolith could not (revenue per customer country) there, away from the services. Then the
shop goes on taking orders: the warehouse does not see them until the next run, and every
column of the copy was written out by hand, personal data included.

    python -m examples.stages.stage2_batch
"""

from __future__ import annotations

import time

import dagster as dg
import psycopg2
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from examples.stages import _shared as s
from examples.stages._shared import domain, fresh_database, main, show, stack
from meshkit.contracts.sql import duckdb_ref

CUSTOMERS, ORDERS, LATER = 1_000, 4_000, 300
# What a batch copy needs to know of each service's schema: written by hand, kept by hand.
COPIES = {
    "customers": (
        "SELECT id, email, name, country, tier, created_at FROM public.customers",
        "id BIGINT, email VARCHAR, name VARCHAR, country VARCHAR, tier VARCHAR,"
        " created_at TIMESTAMPTZ",
    ),
    "orders": (
        "SELECT id, customer_id, status, total, placed_at FROM public.orders",
        "id BIGINT, customer_id BIGINT, status VARCHAR, total DECIMAL(12,2), placed_at TIMESTAMPTZ",
    ),
}
SOURCES: dict[str, str] = {}  # table -> the service database's URL, set by run()


def copy(warehouse: DuckDBResource, table: str) -> int:
    """Read the whole service table and replace its warehouse copy; the rows copied."""
    query, columns = COPIES[table]
    with psycopg2.connect(SOURCES[table]) as conn, conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description or ()]
        rows = pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in cur])
    conn.close()
    with warehouse.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS stage2")
        con.execute(f"CREATE OR REPLACE TABLE {duckdb_ref('stage2', table)} ({columns})")
        con.register("batch", rows)
        con.execute(f"INSERT INTO {duckdb_ref('stage2', table)} SELECT * FROM batch")
    return int(rows.num_rows)


@dg.asset
def customers(warehouse: DuckDBResource) -> dg.MaterializeResult[None]:
    """The CRM's customers, copied."""
    return dg.MaterializeResult(metadata={"rows": copy(warehouse, "customers")})


@dg.asset
def orders(warehouse: DuckDBResource) -> dg.MaterializeResult[None]:
    """The shop's orders, copied."""
    return dg.MaterializeResult(metadata={"rows": copy(warehouse, "orders")})


@dg.asset(deps=[customers, orders])
def revenue_by_country(warehouse: DuckDBResource) -> dg.MaterializeResult[None]:
    """The cross-service report: the shop's orders joined with the CRM's customers."""
    with warehouse.get_connection() as con:
        con.execute(
            "CREATE OR REPLACE TABLE stage2.revenue_by_country AS SELECT c.country, "
            "count(*) AS orders, sum(o.total) AS revenue FROM stage2.orders o "
            "JOIN stage2.customers c ON c.id = o.customer_id GROUP BY c.country"
        )
        (rows,) = con.execute("SELECT count(*) FROM stage2.revenue_by_country").fetchone() or (0,)
    return dg.MaterializeResult(metadata={"rows": rows})


def run() -> None:
    env = stack()
    s.say("seeding the CRM and the shop")
    SOURCES["customers"] = fresh_database(env.postgres, "stage2_crm")
    SOURCES["orders"] = fresh_database(env.postgres, "stage2_shop")
    domain("customers", "service").seed(SOURCES["customers"], CUSTOMERS)
    shop = domain("orders", "service")
    shop.seed(SOURCES["orders"], ORDERS, customers=CUSTOMERS)

    s.say("Dagster: copying both services into the warehouse")
    started = time.perf_counter()
    result = dg.materialize(
        [customers, orders, revenue_by_country],
        resources={"warehouse": DuckDBResource(database=str(env.warehouse))},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    took = time.perf_counter() - started
    rows = []
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        rows.append((mat.asset_key.to_user_string(), mat.metadata["rows"].value))
    show(f"stage 2: Dagster run ({'success' if result.success else 'FAILED'}, {took:.1f} s)",
         ("asset", "rows"), rows)  # fmt: skip

    changed = shop.change(SOURCES["orders"], LATER, customers=CUSTOMERS)  # the shop goes on
    with psycopg2.connect(SOURCES["orders"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.orders")
        (in_service,) = cur.fetchone() or (0,)
    conn.close()
    with DuckDBResource(database=str(env.warehouse)).get_connection() as con:
        (in_warehouse,) = con.execute("SELECT count(*) FROM stage2.orders").fetchone() or (0,)
        top = con.execute(
            "SELECT country, orders, revenue FROM stage2.revenue_by_country "
            "ORDER BY revenue DESC LIMIT 3"
        ).fetchall()
        (emails,) = con.execute("SELECT count(email) FROM stage2.customers").fetchone() or (0,)
    show(
        "stage 2: the cross-service report, in the warehouse", ("country", "orders", "revenue"), top
    )
    hand_written = sum(columns.count(",") + 1 for _, columns in COPIES.values())
    show(
        "stage 2: what a batch copy leaves",
        ("what", "result"),
        [
            ("orders in the shop now", in_service),
            ("orders in the warehouse", in_warehouse),
            ("changes since the run (ins/upd/del)",
             f"{changed['inserted']}/{changed['updated']}/{changed['deleted']} (stale="
             f"{in_service - in_warehouse} until the next run)"),
            ("columns written by hand in the copy", hand_written),
            ("e-mail addresses copied in clear", emails),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main(run)
