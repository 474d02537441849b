"""The whole mesh after traffic: every port holds what the service databases imply.

The four domains run as in production: customers, orders and catalog each with its
capture and flow processes on its own service database, and recommendations with its
flow over the orders and catalog product topics. Each service changes its rows for a
while (inserts, updates, deletes, as its ``service.change`` does). When the traffic
stops, the test waits until every port agrees with the databases, then checks them:

- customers: the product topic, the warehouse table and the search index hold exactly
  the customers that are not test accounts, with their current country and tier;
- orders: the product topic and the warehouse table hold every order, with its status;
- catalog: the product topic, the warehouse table and the search index hold exactly the
  articles on sale (not drafts), deleted ones gone;
- recommendations: the serving view holds a list for exactly the customers with a
  counted order (not cancelled), counting those orders and naming
  their categories in the recommender's order; every recommended article is on sale, in
  stock and not already bought by the customer.

Counts balance: the flows' dead-letter topics stay empty (no change was refused).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import psycopg2.errors
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg2 import sql

from bench._mesh import (
    Domain,
    check_running,
    create_database,
    database_dsn,
    domains,
    import_service,
    reader_domain,
    start_part,
    stop_part,
    topics_hold,
    wait_until,
)
from meshkit.contracts.sql import duckdb_ref, quote_duckdb
from meshkit.local import consumer_config, local_search_client
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import LocalStack
from meshkit.ports.kafka import ValueDecoder
from meshkit.privacy.keys import MASTER_KEY_ENV, write_master_key_file
from meshkit.streaming import dead_letter_topic

pytestmark = [pytest.mark.slow, pytest.mark.services]

CUSTOMERS = 120
ROUNDS = 12


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query)
        out = list(cur.fetchall())
    conn.close()
    return out


def topic_state(
    brokers: str, domain: Domain, fields: tuple[str, ...]
) -> dict[str, tuple[Any, ...]]:
    """The product topic from the start: the latest record per key (tombstones delete),
    as ``key → fields``; and the dead-letter count is checked separately."""
    topic = domain.contract.address
    decode = ValueDecoder(domain.contract)
    consumer = Consumer(consumer_config(brokers, group_id=f"final-{time.monotonic_ns()}"))
    state: dict[str, tuple[Any, ...]] = {}
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return state
        parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
        high = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        done = {p for p, h in high.items() if h == 0}
        while len(done) < len(high):
            for m in consumer.consume(5000, 0.5):
                if m.error() is not None:
                    continue
                key = m.key().decode() if m.key() else ""
                if m.value() is None:
                    state.pop(key, None)
                else:
                    record = decode(m.value(), m.headers())
                    state[key] = tuple(str(record[f]) for f in fields)
                if m.offset() + 1 >= high[m.partition()]:
                    done.add(m.partition())
        return state
    finally:
        consumer.close()


def message_count(brokers: str, topic: str) -> int:
    consumer = Consumer(consumer_config(brokers, group_id=f"final-{time.monotonic_ns()}"))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        )
    finally:
        consumer.close()


def warehouse(path: Path, domain: Domain, fields: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    table = next(p.name_in(domain.contract) for p in domain.contract.ports.outputs
                 if p.kind == "warehouse_table")  # fmt: skip
    key = domain.contract.primary_key[0]
    cols = ", ".join(quote_duckdb(c) for c in (key, *fields))
    schema, _, name = table.rpartition(".")
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute(f"SELECT {cols} FROM {duckdb_ref(schema, name)}").fetchall()
    assert len(found) == len({r[0] for r in found}), "one row per key"
    return {str(r[0]): tuple(str(v) for v in r[1:]) for r in found}


def index_ids(search: str, index: str) -> set[str]:
    es = local_search_client(search)
    try:
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=10_000, source=False, query={"match_all": {}})
        return {h["_id"] for h in hits["hits"]["hits"]}
    finally:
        es.close()


def test_every_port_equals_what_the_service_databases_imply(tmp_path: Path) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv(MASTER_KEY_ENV, write_master_key_file(tmp_path / "master.key"))
    stack = LocalStack(LocalSettings(state_dir=tmp_path / "stack", index_port=0))
    mesh = domains(customers=CUSTOMERS, names=("customers", "orders", "catalog"))
    customers, orders, catalog = mesh
    recs = reader_domain("recommendations")
    try:
        for name in ("kafka", "postgres", "search"):
            stack.service(name).start()
        endpoints = stack.endpoints
        assert endpoints.kafka
        assert endpoints.postgres
        assert endpoints.search
        create_database(endpoints.postgres, "serving")
        for d, n in ((customers, CUSTOMERS), (orders, 300), (catalog, 200)):
            create_database(endpoints.postgres, d.database)
            d.dsn = str(database_dsn(endpoints.postgres, d.database))
            d.seed(d.dsn, n)
        for d in mesh:
            start_part(d, tmp_path, endpoints, "cdc")
            start_part(d, tmp_path, endpoints, "flow")

        def check() -> None:
            check_running([*mesh, recs], tmp_path)

        products = [d.contract.address for d in mesh]
        wait_until(lambda: topics_hold(endpoints.kafka, products), 180, "the snapshots", check)
        start_part(recs, tmp_path, endpoints, "flow")  # its input topics exist now

        changes: dict[str, Callable[[int], object]] = {
            "customers": lambda i: import_service("customers").change(
                customers.dsn, 10, seed=200 + i
            ),
            "orders": lambda i: import_service("orders").change(
                orders.dsn, 15, customers=CUSTOMERS, seed=300 + i
            ),
            "catalog": lambda i: import_service("catalog").change(catalog.dsn, 10, seed=400 + i),
        }
        for i in range(ROUNDS):
            for change in changes.values():
                change(i)
            check()
            time.sleep(0.2)

        # What the service databases imply.
        want_customers = {
            str(i): (c, t)
            for i, c, t in rows(
                customers.dsn,
                "SELECT id, country, tier FROM public.customers WHERE status <> 'test'",
            )
        }
        want_orders = {
            str(i): (s,) for i, s in rows(orders.dsn, "SELECT id, status FROM public.orders")
        }
        on_sale = {
            str(i): (cat, str(stock))
            for i, cat, stock in rows(
                catalog.dsn,
                "SELECT id, category, stock FROM public.products WHERE status <> 'draft'",
            )
        }
        bought: dict[str, Counter[str]] = {}
        for cid, pid, status in rows(
            orders.dsn, "SELECT customer_id, product_id, status FROM public.orders"
        ):
            if status != "cancelled" and pid is not None:
                bought.setdefault(str(cid), Counter())[str(pid)] += 1

        # the traffic changed each service: inserts, deletes and test accounts are in play
        assert len(want_customers) > CUSTOMERS // 2
        assert len(want_orders) > 300
        assert len(on_sale) > 150
        assert len(bought) > CUSTOMERS // 2
        checks = {
            "customers topic": (
                lambda: topic_state(endpoints.kafka, customers, ("country", "tier")),
                want_customers,
            ),
            "orders topic": (
                lambda: topic_state(endpoints.kafka, orders, ("status",)),
                want_orders,
            ),
            "catalog topic": (
                lambda: topic_state(endpoints.kafka, catalog, ("category", "stock")),
                on_sale,
            ),
            "customers index": (
                lambda: dict.fromkeys(index_ids(endpoints.search, customers.contract.address), ()),
                dict.fromkeys(want_customers, ()),
            ),
            "catalog index": (
                lambda: dict.fromkeys(index_ids(endpoints.search, catalog.contract.address), ()),
                dict.fromkeys(on_sale, ()),
            ),
        }
        for what, (actual, want) in checks.items():
            wait_until(lambda a=actual, w=want: a() == w, 120, what, check)  # type: ignore[misc]

        view = sql.Identifier("public", recs.contract.address)
        serving = str(database_dsn(endpoints.postgres, "serving"))

        def view_rows() -> dict[str, tuple[Any, ...]]:
            """The view's rows; none before the flow has created the view."""
            query = sql.SQL("SELECT customer_id, orders, categories, product_ids FROM {}")
            conn = psycopg2.connect(serving)
            try:
                with conn.cursor() as cur:
                    cur.execute(query.format(view))
                    return {r[0]: tuple(r[1:]) for r in cur.fetchall()}
            except psycopg2.errors.UndefinedTable:
                return {}
            finally:
                conn.close()

        # a list for every customer with a counted order, counting them all (an order of an
        # article not on sale counts too: the article may come on sale later)
        want_counts = {c: sum(mine.values()) for c, mine in bought.items()}
        wait_until(
            lambda: {c: int(r[0]) for c, r in view_rows().items()} == want_counts,
            120, "the recommendations view", check,
        )  # fmt: skip
        for customer, (count, categories, picks) in view_rows().items():
            mine = bought.get(customer, Counter())
            assert count == sum(mine.values()), customer
            by_category: Counter[str] = Counter()
            for pid, n in mine.items():
                if pid in on_sale:
                    by_category[on_sale[pid][0]] += n
            ranked = [c for c, _ in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))]
            assert list(categories) == ranked, customer
            for pid in picks:
                assert pid in on_sale, "a recommended article is on sale"
                assert int(on_sale[pid][1]) > 0, "a recommended article is in stock"
                assert pid not in mine, "a recommended article is not already bought"

        for d in mesh:  # nothing was refused on the way
            assert message_count(endpoints.kafka, dead_letter_topic(d.contract)) == 0, d.name
        for d in [*mesh, recs]:
            stop_part(d)  # the flows let go of their warehouse files
        assert warehouse(tmp_path / "warehouse-customers.duckdb", customers,
                         ("country", "tier")) == want_customers  # fmt: skip
        assert warehouse(tmp_path / "warehouse-orders.duckdb", orders, ("status",)) == want_orders
        assert warehouse(tmp_path / "warehouse-catalog.duckdb", catalog,
                         ("category", "stock")) == on_sale  # fmt: skip
    finally:
        for d in [*mesh, recs]:
            stop_part(d)
        stack.down()
        mp.undo()
