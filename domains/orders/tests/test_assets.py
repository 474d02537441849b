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
                (order_id, email, country, signed_up_at, _meshkit_pos)
            VALUES ('1', 'tok:a', 'GB', TIMESTAMPTZ '2024-05-01 10:00:00+00', 1),
                   ('2', 'tok:b', 'GB', TIMESTAMPTZ '2024-05-01 23:00:00+00', 2),
                   ('3', 'tok:c', 'US', TIMESTAMPTZ '2024-05-02 09:00:00+00', 3)"""
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
            f"SELECT day::VARCHAR, country, signups FROM {DATASET}.order_daily_v1 "
            "ORDER BY day, country"
        ).fetchall()
    assert rows == [("2024-05-01", "GB", 2), ("2024-05-02", "US", 1)]


def test_a_table_that_breaks_the_contract_is_not_written(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"UPDATE {DATASET}.order_v1 SET country = lower(country)")
    with pytest.raises(Exception, match="country"):
        _materialize(warehouse)
