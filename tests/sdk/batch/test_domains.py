"""The two fixture domains end to end on DuckDB: CDC raw tables → customer product → daily
order facts reading the customers' product across domains, one partition at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from meshkit.batch import partitions_for, product_asset
from tests.sdk.batch.conftest import FIXTURES, load_module

RAW = """
CREATE SCHEMA customers;
CREATE TABLE customers.cdc_public_customers AS SELECT * FROM (VALUES
  ('c1', 'ada@example.com', 'Ada Lovelace', DATE '1990-12-10', 'PRO', 120.50::DECIMAL(12,2), 'GB',
   NULL, TIMESTAMPTZ '2023-05-01 10:00:00+00'),
  ('c2', 'alan@example.com', 'Alan Turing', DATE '1985-06-23', 'Free', 0.00::DECIMAL(12,2), 'GB',
   'prefers mail', TIMESTAMPTZ '2023-06-01 10:00:00+00')
) AS t(id, email, name, birth_date, tier, lifetime_value, country, note, created_at);
CREATE SCHEMA orders;
CREATE TABLE orders.cdc_public_orders AS SELECT * FROM (VALUES
  ('o1', 'c1', 10.00::DECIMAL(12,2), TIMESTAMPTZ '2024-01-01 08:00:00+00'),
  ('o2', 'c2', 20.00::DECIMAL(12,2), TIMESTAMPTZ '2024-01-01 09:00:00+00'),
  ('o3', 'c1', 30.00::DECIMAL(12,2), TIMESTAMPTZ '2024-01-02 10:00:00+00'),
  ('o4', 'c9', 40.00::DECIMAL(12,2), TIMESTAMPTZ '2024-01-02 11:00:00+00')
) AS t(order_id, customer_id, total, placed_at);
"""


@pytest.fixture
def domains(warehouse: Path) -> tuple[Any, Any]:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW)
    customers = load_module(FIXTURES / "customers" / "definitions.py")
    orders = load_module(FIXTURES / "orders" / "definitions.py")
    return customers, orders


def _external(defs: dg.Definitions) -> list[dg.AssetSpec]:
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetSpec)]


def _facts(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "SELECT order_id, tier, total::VARCHAR, placed_at::DATE::VARCHAR "
            "FROM orders.order_facts_v1 ORDER BY order_id"
        ).fetchall()


def test_products_flow_across_domains_one_partition_at_a_time(
    domains: tuple[Any, Any], resources: dict[str, Any], warehouse: Path
) -> None:
    customers, orders = domains
    assert dg.materialize(
        [customers.customer, *_external(customers.defs)], resources=resources,
        selection=[customers.customer],
    ).success  # fmt: skip
    inputs = _external(orders.defs)
    for day in ("2024-01-01", "2024-01-02"):
        result = dg.materialize(
            [orders.order_facts, *inputs], resources=resources, partition_key=day,
            selection=[orders.order_facts],
        )  # fmt: skip
        assert result.success
    assert _facts(warehouse) == [
        ("o1", "pro", "10.00", "2024-01-01"),
        ("o2", "free", "20.00", "2024-01-01"),
        ("o3", "pro", "30.00", "2024-01-02"),
        ("o4", None, "40.00", "2024-01-02"),
    ]
    # the service changes day 1; re-materialising day 1 replaces only day 1
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM orders.cdc_public_orders WHERE order_id = 'o2'")
        con.execute("UPDATE orders.cdc_public_orders SET total = 11 WHERE order_id = 'o1'")
    result = dg.materialize(
        [orders.order_facts, *inputs], resources=resources, partition_key="2024-01-01",
        selection=[orders.order_facts],
    )  # fmt: skip
    assert result.success
    (mat,) = result.asset_materializations_for_node(orders.order_facts.op.name)
    assert mat.metadata["meshkit/partition"].value == "2024-01-01"
    assert _facts(warehouse) == [
        ("o1", "pro", "11.00", "2024-01-01"),
        ("o3", "pro", "30.00", "2024-01-02"),
        ("o4", None, "40.00", "2024-01-02"),
    ]


def test_rows_outside_the_partition_are_refused(
    domains: tuple[Any, Any], resources: dict[str, Any], order_contract: Any
) -> None:
    daily = partitions_for(order_contract, start="2024-01-01")

    @product_asset(order_contract, partitions_def=daily)
    def order_facts() -> pa.Table:
        with duckdb.connect(str(resources["meshkit_warehouse"].database), read_only=True) as con:
            return con.sql(
                "SELECT order_id, customer_id, NULL::VARCHAR AS tier, total, placed_at "
                "FROM orders.cdc_public_orders"
            ).to_arrow_table()

    result = dg.materialize(
        [order_facts], resources=resources, partition_key="2024-01-01", raise_on_error=False
    )
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    text = error.message + (error.cause.message if error.cause else "")
    assert (
        "column 'placed_at' [partition]: outside the partition being written "
        "[2024-01-01T00:00:00+00:00, 2024-01-02T00:00:00+00:00) — 2 rows (index 2, 3)"
    ) in text
