"""Stage 4, the integrated architecture: one stream feeds the warehouse, a search index and
a serving view, and batch jobs pre-process the warehouse.

Three domains (the CRM's customers, the shop's orders, the catalogue's products) go from
their service databases through CDC and their flows into every port their contracts
declare: product topics, warehouse tables, the catalogue's search index, and the orders
domain's event-sourced view of each customer's latest orders. Dagster then builds the
daily order facts from two domains' products in the warehouse. Each customer-facing
question is answered from the store made for it, and timed.

    python -m examples.stages.stage4_integrated
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import dagster as dg
import duckdb
from bytewax.testing import run_main

import meshkit.streaming as ms
from examples.stages import _shared as s
from meshkit.batch import load_contract, local_resources, product_checks
from meshkit.contracts.ports import WarehouseTable
from meshkit.local import local_search_client
from meshkit.ports import ViewReader
from meshkit.streaming.sources import cdc_topics

# domain -> (service database, rows seeded)
DOMAINS = {"customers": ("stage4_crm", 300), "orders": ("stage4_shop", 3_000),
           "catalog": ("stage4_catalogue", 200)}  # fmt: skip


def seed(name: str, dsn: str, rows: int) -> None:
    service = s.domain(name, "service")
    if name == "orders":
        service.seed(dsn, rows, customers=DOMAINS["customers"][1])
    else:
        service.seed(dsn, rows)


def timed(call: Any) -> tuple[Any, float]:
    """``call()`` and its time in milliseconds."""
    started = time.perf_counter()
    return call(), (time.perf_counter() - started) * 1000


def run() -> None:
    env = s.stack()
    os.environ.pop("MESHKIT_REGISTRY_URL")  # nothing is registered before stage 5
    state = s.WORKDIR / "stage4"
    shutil.rmtree(state, ignore_errors=True)
    serving = s.fresh_database(env.postgres, "stage4_serving")
    es = local_search_client(env.search)
    rows: list[tuple[object, ...]] = []
    for name, (database, count) in DOMAINS.items():
        flow_module = s.domain(name, "flow")
        contract = load_contract(flow_module.CONTRACT)
        table = next(p for p in contract.ports.outputs if isinstance(p, WarehouseTable))
        s.delete_topics(env.kafka, [*cdc_topics(contract), contract.address,
                                    ms.dead_letter_topic(contract)])  # fmt: skip
        es.options(ignore_status=404).indices.delete(index=contract.address)
        with duckdb.connect(str(env.warehouse)) as con:
            con.execute(f"DROP TABLE IF EXISTS {table.name_in(contract)}")
        s.say(f"{name}: service database, CDC, flow")
        dsn = s.fresh_database(env.postgres, database)
        seed(name, dsn, count)
        events = s.capture(dsn, name, env.kafka, state / "cdc" / name, count)
        settings = ms.StreamingSettings(
            brokers=env.kafka, warehouse=env.warehouse, search_url=env.search,
            view_dsn=serving, keystore_dir=state / "keys", stats_dir=state / "stats" / name,
            tail=False,
        )  # fmt: skip
        run_main(flow_module.build(settings))  # type: ignore[no-untyped-call]
        counts = ms.read_stats(state / "stats" / name)["counts"]
        ports = ", ".join(p.kind.replace("_", " ") for p in contract.ports.outputs)
        if name == "orders":  # its flow's second branch: the latest orders of each customer
            ports += "; serving view orders.customer_orders.v1"
        rows.append((contract.address, count, events, counts["written"], counts["skipped"],
                     ports))  # fmt: skip
    s.show("stage 4: service databases → CDC → flows → every port",
           ("product", "service rows", "CDC events", "written", "filtered out", "ports"),
           rows)  # fmt: skip

    # Batch pre-processing over the warehouse: the orders domain's Dagster product.
    s.say("Dagster: orders.order_daily from the warehouse")
    assets = s.domain("orders", "definitions").defs.assets or []
    daily = s.domain("orders", "defs.assets").order_daily
    result = dg.materialize(
        [daily, product_checks(daily), *[a for a in assets if isinstance(a, dg.AssetSpec)]],
        resources=local_resources(duckdb_path=env.warehouse), selection=[daily],
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )  # fmt: skip
    checks = [c.passed for c in result.get_asset_check_evaluations()]

    hits, search_ms = timed(lambda: es.search(
        index="catalog.product.v1", size=3,
        query={"multi_match": {"query": "garden", "fields": ["name", "description", "category"]}},
    )["hits"])  # fmt: skip
    es.close()
    view = ViewReader(serving, load_contract(s.DOMAINS / "orders/contracts/customer_orders.yaml"))
    try:
        latest, view_ms = timed(lambda: view.get("42"))
    finally:
        view.close()
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        newest, warehouse_ms = timed(lambda: con.execute(
            "SELECT order_id FROM orders.order_v1 WHERE customer_id = '42' "
            "ORDER BY placed_at DESC, order_id DESC LIMIT 5").fetchall())  # fmt: skip
        day = con.execute("SELECT day, count(*), sum(orders) FROM orders.order_daily_v1 "
                          "GROUP BY day ORDER BY day DESC LIMIT 1").fetchone()  # fmt: skip
    recent = (latest or {}).get("recent_order_ids", [])
    names = ", ".join(h["_source"]["name"] for h in hits["hits"])
    s.show(
        "stage 4: each question answered by the store made for it",
        ("question", "store", "answer", "ms"),
        [
            ("products matching 'garden'", "search index",
             f"{hits['total']['value']} hits: {names}", f"{search_ms:.1f}"),
            ("customer 42's latest orders", "serving view (by key)",
             ", ".join(recent), f"{view_ms:.1f}"),
            ("the same from the raw table", "warehouse",
             f"same={[r[0] for r in newest] == recent}", f"{warehouse_ms:.1f}"),
            ("orders per day, country and tier (Dagster)", "warehouse",
             f"{'success' if result.success else 'FAILED'}, {sum(checks)}/{len(checks)} checks"
             f" passed; latest day {day[0] if day else '-'}: {day[2] if day else 0} orders",
             "-"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    s.main(run)
