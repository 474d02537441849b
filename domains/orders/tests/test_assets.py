"""The batch products materialise on a local DuckDB file: validated, masked, checked."""

import dagster as dg
import duckdb
import pytest
from meshkit.batch import load_contract, local_resources, product_checks
from meshkit.ports import DuckDBWarehouseWriter

from orders.definitions import defs
from orders.defs.assets import CONTRACTS
from orders.defs.assets import order_daily as product

DATASET = "orders"


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    # The streamed product's table, as the flow writes it (created from its contract).
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(load_contract(CONTRACTS / "order.yaml"))
    writer.close()
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"""INSERT INTO {DATASET}.order_v1
                (order_id, customer_id, status, total, currency, placed_at, _meshkit_pos)
            VALUES ('1', '7', 'paid', 10.50, 'EUR', TIMESTAMPTZ '2024-05-01 10:00:00+00', 1),
                   ('2', '8', 'shipped', 20.00, 'EUR', TIMESTAMPTZ '2024-05-01 23:00:00+00', 2),
                   ('3', '7', 'cancelled', 99.00, 'EUR', TIMESTAMPTZ '2024-05-01 23:30:00+00', 3),
                   ('4', '9', 'placed', 5.25, 'EUR', TIMESTAMPTZ '2024-05-02 09:00:00+00', 4),
                   ('5', '7', 'paid', 4.50, 'EUR', TIMESTAMPTZ '2024-05-02 09:30:00+00', 5)"""
        )
        # The customers domain's product as its flow writes it (only the columns read here;
        # customer 9 is not known there yet).
        con.execute(
            """CREATE SCHEMA customers;
            CREATE TABLE customers.customer_v1 (customer_id VARCHAR, country VARCHAR, tier VARCHAR);
            INSERT INTO customers.customer_v1 VALUES ('7', 'GB', 'pro'), ('8', 'GB', 'free')"""
        )
    return path


def _materialize(warehouse):
    externals = [a for a in defs.assets if isinstance(a, dg.AssetSpec)]
    return dg.materialize(
        [product, product_checks(product), *externals],
        resources=local_resources(duckdb_path=warehouse),
        selection=[product],
    )


def test_product_materialises_and_its_checks_pass(warehouse):
    result = _materialize(warehouse)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [
        (c.check_name, c.metadata) for c in checks if not c.passed
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f"SELECT day::VARCHAR, country, tier, orders, revenue::VARCHAR "
            f"FROM {DATASET}.order_daily_v1 ORDER BY ALL"
        ).fetchall()
    assert rows == [
        ("2024-05-01", "GB", "free", 1, "20.00"),
        ("2024-05-01", "GB", "pro", 1, "10.50"),  # the cancelled order is left out
        ("2024-05-02", "GB", "pro", 1, "4.50"),
        ("2024-05-02", "ZZ", "unknown", 1, "5.25"),  # a buyer the customers product lacks
    ]


def test_a_table_that_breaks_the_contract_is_not_written(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE customers.customer_v1 SET country = lower(country)")
    with pytest.raises(Exception, match="country"):
        _materialize(warehouse)
