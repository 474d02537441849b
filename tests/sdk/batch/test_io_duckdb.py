"""Materialising product assets into DuckDB: validate → mask → write, and inputs read back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from meshkit.batch import load_contract, product_asset, product_checks
from meshkit.contracts import Contract
from tests.sdk.batch.conftest import customers_table


def _table(warehouse: Path, sql: str = "SELECT * FROM customers.customer_v1") -> pa.Table:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).to_arrow_table()


def _failure(result: dg.ExecuteInProcessResult) -> str:
    events = result.get_step_failure_events()
    assert events, "the run should have failed"
    error = events[0].step_failure_data.error
    assert error is not None
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def _asset(contract: Contract, produce: Any) -> dg.AssetsDefinition:
    @product_asset(contract)
    def customer() -> Any:
        return produce() if callable(produce) else produce

    return customer


def test_materialise_masks_and_writes(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    source = customers_table(5)
    asset = _asset(customer_contract, source)
    result = dg.materialize([asset], resources=resources)
    assert result.success
    stored = _table(warehouse)
    assert stored.num_rows == 5
    assert sorted(stored["customer_id"].to_pylist()) == [f"c{i}" for i in range(5)]
    # personal data left the asset only transformed: tokens, redaction, years
    assert all(v.startswith("tok:customer.1:") for v in stored["email"].to_pylist())
    assert set(stored["full_name"].to_pylist()) == {"[REDACTED]"}
    assert {d.month for d in stored["birth_date"].to_pylist()} == {1}
    raw = {*source["email"].to_pylist(), *source["full_name"].to_pylist()}
    dumped = repr(stored.to_pylist())
    assert not [v for v in raw if v in dumped]
    (mat,) = result.asset_materializations_for_node(asset.op.name)
    assert mat.metadata["dagster/row_count"].value == 5
    assert mat.metadata["dagster/table_name"].value == "customers.customer_v1"


def test_rematerialising_replaces_the_table(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    for n in (5, 2):
        assert dg.materialize([_asset(customer_contract, customers_table(n))], resources=resources)
    assert _table(warehouse).num_rows == 2


@pytest.mark.parametrize(
    "produce",
    [
        lambda: customers_table(3).to_pandas(),
        lambda: customers_table(3).to_pylist(),
        lambda: customers_table(3).to_batches()[0],
    ],
    ids=["pandas", "list-of-dicts", "record-batch"],
)
def test_other_table_types_are_accepted(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path, produce: Any
) -> None:
    assert dg.materialize([_asset(customer_contract, produce)], resources=resources).success
    assert _table(warehouse).num_rows == 3


def test_contract_violation_names_columns_and_rows_and_writes_nothing(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    assert dg.materialize([_asset(customer_contract, customers_table(3))], resources=resources)
    bad = customers_table(
        4,
        customer_id=["c0", "c1", "c1", "c3"],
        email=["a@example.com", None, "b@example.com", "c@example.com"],
        tier=["free", "gold", "pro", "plus"],
        country=["DE", "DE", "de", "FR"],
    )
    result = dg.materialize(
        [_asset(customer_contract, bad)], resources=resources, raise_on_error=False
    )
    assert not result.success
    message = _failure(result)
    assert "customers.customer.v1: the table breaks its contract, so nothing was written" in message
    assert "column 'email' [required]: null in a required field — 1 row (index 1)" in message
    assert "'tier' [accepted_values]: value not in [free, plus, pro] — 1 row (index 1)" in message
    assert "gold" not in message  # a value of the table: never in the message
    assert "'country' [regex]: value does not match /^[A-Z]{2}$/ — 1 row (index 2)" in message
    assert "column 'customer_id' [primary key]" in message
    # personal data is never quoted in a message
    assert "@example.com" not in message
    assert _table(warehouse).num_rows == 3  # the previous table is untouched


def test_schema_violations_are_reported_per_column(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    bad = customers_table(2).drop_columns(["tier"]).append_column("ssn", pa.array(["1", "2"]))
    bad = bad.set_column(
        bad.column_names.index("lifetime_value"), "lifetime_value", pa.array(["x", "y"])
    )
    result = dg.materialize(
        [_asset(customer_contract, bad)], resources=resources, raise_on_error=False
    )
    message = _failure(result)
    assert "column 'ssn' [undeclared]: not in the contract" in message
    assert "column 'tier' [missing]: the required column is missing" in message
    assert "'lifetime_value' [type]: has type string, the contract says decimal(12,2)" in message


def test_a_non_product_value_is_a_clear_error(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    result = dg.materialize(
        [_asset(customer_contract, {"not": "a table"})], resources=resources, raise_on_error=False
    )
    assert "the asset returned a dict; return a pyarrow.Table" in _failure(result)


def test_downstream_asset_reads_the_product(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    upstream = _asset(customer_contract, customers_table(4))
    seen: dict[str, Any] = {}

    source = dg.AssetIn(key=upstream.key, input_manager_key="meshkit_io_manager")

    @dg.asset(ins={"customer": source})
    def tiers(customer: pa.Table) -> None:
        seen["rows"] = customer.num_rows
        seen["columns"] = customer.column_names

    assert dg.materialize([upstream, tiers], resources=resources).success
    assert seen["rows"] == 4
    assert "_meshkit_pos" not in seen["columns"]
    assert "email" in seen["columns"]


def test_checks_pass_on_good_data(customer_contract: Contract, resources: dict[str, Any]) -> None:
    asset = _asset(customer_contract, customers_table(6))
    result = dg.materialize([asset, product_checks(asset)], resources=resources)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "schema_conforms",
        "no_undeclared_pii",
        "not_null_email",
        "unique_customer_id",
        "accepted_values_tier",
        "range_lifetime_value",
        "regex_country",
        "row_count",
        "freshness",
        "no_signup_in_the_future",
    }
    failed = {n: e.description for n, e in evaluations.items() if not e.passed}
    assert failed == {}


def test_structs_arrays_encryption_and_dropped_members(
    resources: dict[str, Any], warehouse: Path
) -> None:
    contract = load_contract(Path(__file__).parents[2] / "fixtures/contracts/valid/customer.yaml")
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    @product_asset(contract)
    def customer() -> pa.Table:
        return pa.table(
            {
                "customer_id": ["a", "b"],
                "email": ["ada@example.com", "bob@example.com"],
                "full_name": ["Ada Lovelace", "Bob Marley"],
                "birth_date": [dt.date(1990, 5, 17), None],
                "phone": ["+44 20 7946 0958", None],
                "tier": ["free", "pro"],
                "lifetime_value": [Decimal("1.50"), None],
                "address": [
                    {
                        "street": "1 Main St",
                        "postal_code": "12345",
                        "city": "Berlin",
                        "country": "DE",
                    },
                    None,
                ],
                "interests": [["chess"], []],
                "signed_up_at": [recent, recent],
                "updated_at": [recent, recent],
            }
        )

    result = dg.materialize([customer, product_checks(customer)], resources=resources)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    rows = _table(warehouse).to_pylist()
    first = rows[0]
    assert first["full_name"].startswith("enc:v2:")
    assert first["phone"] == "************0958"
    assert first["address"] == {"postal_code": "1234", "city": "Berlin", "country": "DE"}
    assert first["birth_date"] == dt.date(1990, 1, 1)
    assert first["interests"] == ["chess"]
    assert rows[1]["address"] is None
    assert "Lovelace" not in repr(rows)
    assert "Main St" not in repr(rows)
