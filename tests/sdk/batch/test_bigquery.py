"""The same product asset against BigQuery (the local emulator), chosen by MESHKIT_ENV=prod."""

import datetime as dt
import logging
import uuid
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from meshkit.batch import partitions_for, product_asset, product_checks, resources_for
from meshkit.batch.assets import contract_metadata
from meshkit.batch.resources import BigQueryWarehouse
from meshkit.contracts import Contract
from meshkit.local import emulator_retry
from meshkit.privacy import LocalKeyStore
from meshkit.testing import BigQueryEndpoint
from tests.sdk.batch.conftest import customers_table

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _own_domain(contract: Contract) -> Contract:
    """The contract under a domain of this test's own (the emulator is shared).

    Decimal fields become floats: the emulator forgets a NUMERIC column's precision and
    scale, so the ports writer's evolution check would refuse the table it created on the
    next ``ensure`` (NUMERIC -> NUMERIC(12,2)); real BigQuery keeps them.
    """
    data = contract_metadata(contract)
    data["domain"] = f"bq_{uuid.uuid4().hex[:8]}"
    for field in data["fields"]:
        if field["type"].startswith("decimal"):
            field["type"] = "float"
    return Contract.model_validate(data)


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch, bigquery_emulator: BigQueryEndpoint) -> dict[str, Any]:
    monkeypatch.setenv("MESHKIT_ENV", "prod")
    monkeypatch.setenv("MESHKIT_BIGQUERY_PROJECT", bigquery_emulator.project)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.url.removeprefix("http://"))
    monkeypatch.setenv("MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST", bigquery_emulator.grpc)
    with LocalKeyStore.open() as store:  # production keys are provisioned, not made on use
        store.create_token_key("customer")
    return resources_for()


def _rows(endpoint: BigQueryEndpoint, sql: str) -> list[dict[str, Any]]:
    client = endpoint.client()
    try:
        return [dict(r) for r in client.query(sql, retry=emulator_retry()).result()]
    finally:
        client.close()


def test_product_asset_materialises_into_bigquery_with_checks(
    prod: dict[str, Any], customer_contract: Contract, bigquery_emulator: BigQueryEndpoint
) -> None:
    assert isinstance(prod["meshkit_warehouse"], BigQueryWarehouse)
    contract = _own_domain(customer_contract)

    @product_asset(contract)
    def customer() -> pa.Table:
        return customers_table(4)

    assert "bigquery" in customer.specs_by_key[customer.key].kinds
    result = dg.materialize([customer, product_checks(customer)], resources=prod)
    assert result.success
    failed = {
        e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed
    }
    assert failed == {}
    rows = _rows(
        bigquery_emulator,
        f"SELECT customer_id, email, full_name FROM `{contract.domain}.customer_v1` "
        "ORDER BY customer_id",
    )
    assert [r["customer_id"] for r in rows] == ["c0", "c1", "c2", "c3"]
    assert all(r["email"].startswith("tok:customer.1:") for r in rows)
    assert {r["full_name"] for r in rows} == {"[REDACTED]"}

    # a second materialisation replaces the table
    @product_asset(contract)
    def customer_again() -> pa.Table:
        return customers_table(2)

    assert dg.materialize([customer_again], resources=prod).success
    rows = _rows(bigquery_emulator, f"SELECT COUNT(*) AS n FROM `{contract.domain}.customer_v1`")
    assert rows == [{"n": 2}]


def test_partitioned_asset_replaces_only_its_partition_in_bigquery(
    prod: dict[str, Any],
    order_contract: Contract,
    bigquery_emulator: BigQueryEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    contract = _own_domain(order_contract)
    orders = {
        "2024-01-01": [("o1", 10), ("o2", 20)],
        "2024-01-02": [("o3", 30)],
    }

    @product_asset(contract, partitions_def=partitions_for(contract, start="2024-01-01"))
    def order_facts(context: dg.AssetExecutionContext) -> pa.Table:
        day = dt.datetime.fromisoformat(context.partition_key).replace(hour=9, tzinfo=dt.UTC)
        rows = orders[context.partition_key]
        return pa.table(
            {
                "order_id": [o for o, _ in rows],
                "customer_id": ["c1"] * len(rows),
                "tier": ["pro"] * len(rows),
                "total": pa.array([t for _, t in rows], pa.float64()),
                "placed_at": pa.array([day] * len(rows), pa.timestamp("us", tz="UTC")),
            }
        )

    for day in orders:
        assert dg.materialize([order_facts], resources=prod, partition_key=day).success
    orders["2024-01-01"] = [("o1", 11)]
    assert dg.materialize([order_facts], resources=prod, partition_key="2024-01-01").success
    rows = _rows(
        bigquery_emulator,
        f"SELECT order_id, total FROM `{contract.domain}.order_facts_v1` ORDER BY order_id",
    )
    assert rows == [{"order_id": "o1", "total": 11.0}, {"order_id": "o3", "total": 30.0}]
    # a partitioned run downstream reads only its day of the product
    seen: list[list[str]] = []

    @dg.asset(
        partitions_def=partitions_for(contract, start="2024-01-01"),
        ins={"facts": dg.AssetIn(key=order_facts.key)},
    )
    def daily_report(facts: pa.Table) -> None:
        seen.append(sorted(facts.column("order_id").to_pylist()))
        assert "_meshkit_pos" not in facts.column_names

    caplog.set_level(logging.INFO, logger="meshkit.batch.warehouse")
    result = dg.materialize(
        [order_facts, daily_report], resources=prod, partition_key="2024-01-02",
        selection=[daily_report],
    )  # fmt: skip
    assert result.success
    assert seen == [["o3"]]
    # ... through the Storage Read API, its row restriction on the partition field
    assert [r.getMessage() for r in caplog.records if r.name == "meshkit.batch.warehouse"] == [
        f"BigQuery {contract.domain}.order_facts_v1: read 1 row in 1 stream through the "
        "Storage Read API, restricted on the partition field placed_at"
    ]
