"""Asset checks from the contract: they pass on good data and fail, clearly, on bad data."""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from meshkit.batch import partitions_for, product_asset, product_checks
from meshkit.contracts import Contract
from tests.sdk.batch.conftest import customers_table


def _run(
    contract: Contract, table: pa.Table, resources: dict[str, Any], *, checks_only: bool = False
) -> dict[str, dg.AssetCheckEvaluation]:
    @product_asset(contract)
    def customer() -> pa.Table:
        return table

    checks = product_checks(customer)
    selection = dg.AssetSelection.checks_for_assets(customer) if checks_only else None
    result = dg.materialize([customer, checks], resources=resources, selection=selection)
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _failed(evaluations: dict[str, dg.AssetCheckEvaluation]) -> dict[str, str]:
    return {n: e.description or "" for n, e in evaluations.items() if not e.passed}


def test_table_level_rules_fail_on_bad_data(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    n = 1001  # the contract allows at most 1000 rows
    table = customers_table(
        n, signed_up_at=[future] + [dt.datetime(2001, 1, 1, tzinfo=dt.UTC)] * (n - 1)
    )
    failed = _failed(_run(customer_contract, table, resources))
    assert failed.pop("row_count") == "1001 rows, outside [1..1000]"
    assert failed.pop("no_signup_in_the_future") == "no_signup_in_the_future: 1 rows break the rule"
    assert set(failed) == set()  # the newest row is in the future: fresh


def test_stale_data_fails_the_freshness_rule(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    old = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    failed = _failed(_run(customer_contract, customers_table(3, signed_up_at=[old] * 3), resources))
    assert list(failed) == ["freshness"]
    assert failed["freshness"].startswith("signed_up_at: newest row is ")
    assert failed["freshness"].endswith("old (max 3650d)")


def test_undeclared_personal_data_fails_the_pii_check(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    notes = [f"someone{i}@mail.example.org" for i in range(3)]
    failed = _failed(_run(customer_contract, customers_table(3, note=notes), resources))
    assert list(failed) == ["no_undeclared_pii"]
    message = failed["no_undeclared_pii"]
    assert message.startswith("undeclared personal data: note: email in 100% of 3 values")
    assert "someone" not in message  # examples are masked
    assert message.endswith("declare pii and a transform")


def test_rows_changed_in_the_warehouse_fail_the_value_rules(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    _run(customer_contract, customers_table(3), resources)
    with duckdb.connect(str(warehouse)) as con:  # as if something else wrote the table
        con.execute(
            "INSERT INTO customers.customer_v1 SELECT * REPLACE ("
            "'gold' AS tier, -5 AS lifetime_value, 'de' AS country) "
            "FROM customers.customer_v1 WHERE customer_id = 'c1'"
        )
        con.execute("ALTER TABLE customers.customer_v1 ADD COLUMN extra VARCHAR")
    evaluations = _run(customer_contract, customers_table(3), resources, checks_only=True)
    failed = _failed(evaluations)
    assert failed == {
        "schema_conforms": "columns not in the contract: extra",
        "unique_customer_id": "customer_id: 1 values appear more than once (2 rows)",
        "accepted_values_tier": "tier: 1 rows with values not accepted",
        "range_lifetime_value": "lifetime_value: 1 rows with values out of range",
        "regex_country": "country: 1 rows with values not matching /^[A-Z]{2}$/",
    }
    assert evaluations["unique_customer_id"].severity == dg.AssetCheckSeverity.ERROR


def test_checks_before_the_first_materialisation_fail_clearly(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    failed = _failed(_run(customer_contract, customers_table(1), resources, checks_only=True))
    assert failed["schema_conforms"] == "table customers.customer_v1 does not exist"
    assert failed["row_count"] == ("table customers.customer_v1 does not exist; materialise it")


def test_a_warn_rule_writes_the_table_and_warns(
    order_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    @product_asset(
        order_contract, partitions_def=partitions_for(order_contract, start="2024-01-01")
    )
    def order_facts() -> pa.Table:
        placed = dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)
        return pa.table(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c2"],
                "tier": ["gold", "pro"],  # 'gold' breaks a rule of severity warn
                "total": pa.array([Decimal("1.00"), Decimal("2.00")], pa.decimal128(12, 2)),
                "placed_at": [placed, placed],
            }
        )

    result = dg.materialize(
        [order_facts, product_checks(order_facts)], resources=resources, partition_key="2024-01-01"
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    tier = evaluations.pop("accepted_values_tier")
    assert not tier.passed
    assert tier.severity == dg.AssetCheckSeverity.WARN
    assert tier.description == "tier: 1 rows with values not accepted"
    assert all(e.passed for e in evaluations.values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM orders.order_facts_v1").fetchall() == [(2,)]


def test_personal_data_in_a_column_the_contract_does_not_know_fails_the_pii_check(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    evaluations = _run(customer_contract, customers_table(3), resources)
    assert evaluations["no_undeclared_pii"].passed
    assert evaluations["no_undeclared_pii"].metadata["sampled_rows"].value == 3
    with duckdb.connect(str(warehouse)) as con:  # a column added behind the contract's back
        con.execute('ALTER TABLE customers.customer_v1 ADD COLUMN "contact.e-mail" VARCHAR')
        con.execute(
            "UPDATE customers.customer_v1 SET \"contact.e-mail\" = customer_id || '@mail.org'"
        )
    failed = _failed(_run(customer_contract, customers_table(3), resources, checks_only=True))
    assert failed.pop("schema_conforms") == "columns not in the contract: contact.e-mail"
    assert failed.pop("no_undeclared_pii").startswith(
        "undeclared personal data: contact.e-mail: email in 100% of 3 values"
    )
    assert failed == {}


_HIDDEN_RULES = [
    {"kind": "not_null", "field": "full_name"},
    {"kind": "regex", "field": "full_name", "pattern": "Person Number[0-9]+", "severity": "warn"},
    {"kind": "unique", "fields": ["full_name"], "severity": "warn"},
]


def _with_hidden_rules(contract: Contract) -> Contract:
    """The contract with rules on ``full_name``, which its ``redact`` transform hides."""
    quality = [*contract.model_dump(mode="json", exclude_none=True)["quality"], *_HIDDEN_RULES]
    data = {**contract.model_dump(mode="json", exclude_none=True), "quality": quality}
    return Contract.model_validate(data)


def test_rules_on_transformed_fields_are_evaluated_before_the_transform(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    contract = _with_hidden_rules(customer_contract)
    names = ["Person Number0", "Person Number0", "someone else"]
    evaluations = _run(contract, customers_table(3, full_name=names), resources)
    not_null = evaluations["not_null_full_name"]
    assert not_null.passed
    assert not_null.description == (
        "full_name: no null values (evaluated on the table before its privacy transform, "
        "when the run materialised it)"
    )
    assert not_null.metadata["evaluated_on"] == dg.TextMetadataValue("pre-transform")
    regex = evaluations["regex_full_name"]
    assert not regex.passed
    assert regex.severity == dg.AssetCheckSeverity.WARN
    assert regex.description is not None
    assert regex.description.startswith("full_name: 1 rows with values not matching")
    assert regex.metadata["failing_rows"] == dg.IntMetadataValue(1)
    unique = evaluations["unique_full_name"]
    assert not unique.passed
    assert unique.description is not None
    assert unique.description.startswith("full_name: 1 values appear more than once (2 rows)")


def test_rules_on_transformed_fields_are_skipped_when_the_table_changed_since(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path, tmp_path: Path
) -> None:
    contract = _with_hidden_rules(customer_contract)

    @product_asset(contract)
    def customer() -> pa.Table:
        return customers_table(3)

    checks = product_checks(customer)
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    first = dg.materialize([customer, checks], resources=resources, instance=instance)
    assert {e.check_name: e.passed for e in first.get_asset_check_evaluations()}["regex_full_name"]
    with duckdb.connect(str(warehouse)) as con:  # as if something else wrote the table
        con.execute(
            "INSERT INTO customers.customer_v1 SELECT * REPLACE ('c9' AS customer_id) "
            "FROM customers.customer_v1 LIMIT 1"
        )
    result = dg.materialize(
        [customer, checks],
        resources=resources,
        selection=dg.AssetSelection.checks_for_assets(customer),
        instance=instance,
    )
    assert result.success
    evaluated = {e.check_name for e in result.get_asset_check_evaluations()}
    hidden = {"not_null_full_name", "regex_full_name", "unique_full_name"}
    assert not hidden & evaluated  # no result: Dagster shows them as skipped
    assert "accepted_values_tier" in evaluated
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(customer.key, n) for n in hidden]
    )
    # planned in a run that succeeded, never evaluated: what Dagster resolves as SKIPPED
    assert {k.name for k, r in records.items() if r.status.value == "PLANNED"} == hidden
    assert {r.run_id for r in records.values()} == {result.run_id}
    logged = [
        e.user_message for e in instance.all_logs(result.run_id) if "skipped" in e.user_message
    ]
    assert any(
        m.startswith("check regex_full_name skipped: 'full_name' is stored redacted")
        and m.endswith(
            "the table changed since the run that evaluated it before the "
            "transform (3 rows then, 4 now)"
        )
        for m in logged
    ), logged


def test_rules_on_transformed_fields_of_a_partitioned_asset_are_skipped(
    order_contract: Contract, resources: dict[str, Any]
) -> None:
    data = order_contract.model_dump(mode="json", exclude_none=True)
    fields = [
        {**f, "pii": "other", "transform": {"kind": "redact"}} if f["name"] == "tier" else f
        for f in data["fields"]
    ]
    contract = Contract.model_validate({**data, "fields": fields})

    @product_asset(contract, partitions_def=partitions_for(contract, start="2024-01-01"))
    def order_facts() -> pa.Table:
        placed = dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)
        return pa.table(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c2"],
                "tier": ["gold", "pro"],  # 'gold' breaks a rule of severity warn
                "total": pa.array([Decimal("1.00"), Decimal("2.00")], pa.decimal128(12, 2)),
                "placed_at": [placed, placed],
            }
        )

    result = dg.materialize(
        [order_facts, product_checks(order_facts)], resources=resources, partition_key="2024-01-01"
    )
    assert result.success
    evaluated = {e.check_name for e in result.get_asset_check_evaluations()}
    assert "accepted_values_tier" not in evaluated
    recorded = result.asset_materializations_for_node(order_facts.op.name)[0].metadata
    written = recorded["meshkit/pre_transform_checks"]
    assert isinstance(written, dg.JsonMetadataValue)
    assert isinstance(written.data, dict)
    rules = written.data["rules"]
    assert [r["description"] for r in rules.values()] == ["tier: 1 rows with values not accepted"]


def test_a_partition_run_reads_only_its_partition_of_the_upstream_product(
    order_contract: Contract, resources: dict[str, Any]
) -> None:
    daily = partitions_for(order_contract, start="2024-01-01")

    @product_asset(order_contract, partitions_def=daily)
    def order_facts(context: dg.AssetExecutionContext) -> pa.Table:
        day = dt.datetime.fromisoformat(context.partition_key).replace(hour=9, tzinfo=dt.UTC)
        n = 3 if context.partition_key == "2024-01-01" else 2
        return pa.table(
            {
                "order_id": [f"{context.partition_key}-{i}" for i in range(n)],
                "customer_id": ["c1"] * n,
                "tier": ["pro"] * n,
                "total": pa.array([Decimal("1.00")] * n, pa.decimal128(12, 2)),
                "placed_at": [day] * n,
            }
        )

    seen: list[list[str]] = []

    @dg.asset(partitions_def=daily, ins={"facts": dg.AssetIn(key=order_facts.key)})
    def daily_report(facts: pa.Table) -> None:
        seen.append(sorted(facts.column("order_id").to_pylist()))

    for key in ("2024-01-01", "2024-01-02"):
        assert dg.materialize([order_facts], resources=resources, partition_key=key).success
    result = dg.materialize(
        [order_facts, daily_report],
        resources=resources,
        partition_key="2024-01-02",
        selection=[daily_report],
    )
    assert result.success
    # the other day's three rows are in the table, but not read
    assert seen == [["2024-01-02-0", "2024-01-02-1"]]
