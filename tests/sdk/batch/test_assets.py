"""What a product asset takes from its contract, and the environment that picks resources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

import meshkit.batch
from meshkit.batch import (
    BigQueryWarehouse,
    DuckDBWarehouse,
    build_definitions,
    current_environment,
    partitions_for,
    product_asset,
    resources_for,
)
from meshkit.contracts import Contract
from meshkit.errors import ConfigError, ContractError
from tests.sdk.batch.conftest import FIXTURES

KEY = dg.AssetKey(["customers", "customer", "v1"])


def _customer(contract: Contract) -> dg.AssetsDefinition:
    @product_asset(contract)
    def customer(crm: pa.Table) -> pa.Table:
        return crm

    return customer


def test_key_group_owners_tags_and_description_come_from_the_contract(
    customer_contract: Contract,
) -> None:
    spec = _customer(customer_contract).specs_by_key[KEY]
    assert spec.group_name == "customers"
    assert spec.owners == ["team:customer-data", "customer-data@example.com"]
    assert spec.description == "Every customer, current state."
    assert spec.tags["meshkit/pii"] == "true"
    assert spec.tags["meshkit/classification"] == "restricted"
    assert {t for t in spec.tags if t.startswith("meshkit/pii-")} == {
        "meshkit/pii-email", "meshkit/pii-name", "meshkit/pii-date_of_birth",
    }  # fmt: skip
    assert spec.kinds == {"meshkit", "duckdb"}
    assert spec.metadata["dagster/table_name"] == "customers.customer_v1"
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=1))


def test_column_schema_is_the_published_schema(customer_contract: Contract) -> None:
    schema = _customer(customer_contract).specs_by_key[KEY].metadata["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    assert list(columns)[:3] == ["customer_id", "email", "full_name"]
    assert columns["customer_id"].constraints.unique
    assert not columns["customer_id"].constraints.nullable
    assert columns["email"].type == "string"
    assert columns["email"].tags == {
        "classification": "confidential", "pii": "email", "transform": "tokenize",
    }  # fmt: skip
    assert columns["lifetime_value"].type == "decimal(12,2)"
    assert columns["signed_up_at"].type == "timestamp"


def test_input_ports_become_inputs_or_dependencies(customer_contract: Contract) -> None:
    cdc = dg.AssetKey(["customers", "cdc", "public", "customers"])
    with_param = _customer(customer_contract)
    assert with_param.keys_by_input_name == {"crm": cdc}

    @product_asset(customer_contract)
    def customer() -> pa.Table:
        return pa.table({})

    assert customer.asset_deps[KEY] == {cdc}


def test_what_the_contract_decides_cannot_be_overridden(customer_contract: Contract) -> None:
    with pytest.raises(TypeError, match=r"group_name= comes from the contract"):
        product_asset(customer_contract, group_name="other")


def test_partitions_follow_the_warehouse_partitioning(
    order_contract: Contract, customer_contract: Contract
) -> None:
    daily = partitions_for(order_contract, start="2024-01-01", end="2024-01-04")
    assert daily.get_partition_keys() == ["2024-01-01", "2024-01-02", "2024-01-03"]
    with pytest.raises(ContractError, match="declares no partitioned warehouse_table port"):
        partitions_for(customer_contract, start="2024-01-01")


def test_a_bad_contract_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("domain: x\nname: y\nversion: one\n")
    with pytest.raises(ContractError, match=r"bad\.yaml"):
        build_definitions(tmp_path, [])


def test_definitions_add_checks_inputs_and_resources() -> None:
    defs = build_definitions(FIXTURES / "orders" / "contracts", [])
    # no asset computes order_facts here: it is shown as written by streaming
    keys = {s.key for s in defs.resolve_all_asset_specs()}
    assert keys == {
        dg.AssetKey(["orders", "order_facts", "v1"]),
        dg.AssetKey(["orders", "cdc", "public", "orders"]),
        dg.AssetKey(["customers", "customer", "v1"]),
    }
    assert set(defs.resources or {}) >= {
        "meshkit_io_manager", "meshkit_warehouse", "meshkit_keys", "meshkit_registry",
    }  # fmt: skip


def test_environment_variable_picks_the_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert current_environment() == "local"
    assert isinstance(resources_for()["meshkit_warehouse"], DuckDBWarehouse)
    monkeypatch.setenv("MESHKIT_ENV", "prod")
    monkeypatch.setenv("MESHKIT_GCP_CREDENTIALS", "c2VjcmV0")
    warehouse = resources_for()["meshkit_warehouse"]
    assert isinstance(warehouse, BigQueryWarehouse)
    # credentials are references to the environment, never values in the definitions
    assert warehouse.project == dg.EnvVar("MESHKIT_BIGQUERY_PROJECT")
    assert warehouse.gcp_credentials == dg.EnvVar("MESHKIT_GCP_CREDENTIALS")
    assert resources_for()["meshkit_keys"].master_key == dg.EnvVar("MESHKIT_MASTER_KEY")
    monkeypatch.setenv("MESHKIT_ENV", "staging")
    with pytest.raises(ConfigError, match=r"MESHKIT_ENV='staging' is not an environment"):
        current_environment()


def test_public_names_resolve() -> None:
    for name in meshkit.batch.__all__:
        assert getattr(meshkit.batch, name) is not None
