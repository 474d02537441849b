"""Hostile custom_sql at run time: a rule that tries to write never writes and never passes.

Lint refuses such rules (tests/sdk/contracts/test_hostile.py); these tests build them past
lint, as a contract object made in code could, and check the second guard: the batch
checks run custom SQL regenerated from its parse tree, only on a connection that cannot
write (DuckDB) or after a dry run says it is a SELECT (BigQuery).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from meshkit.batch import product_asset, product_checks
from meshkit.batch.checks import evaluate
from meshkit.batch.resources import DuckDBWarehouse
from meshkit.batch.warehouse import BigQuerySession, DuckDBSession
from meshkit.contracts import Contract, CustomSql
from meshkit.errors import ServiceError
from tests.sdk.batch.conftest import customers_table


def _materialise(contract: Contract, table: pa.Table, resources: dict[str, Any]) -> None:
    @product_asset(contract)
    def customer() -> pa.Table:
        return table

    assert dg.materialize([customer], resources=resources).success


def _victim(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA other; CREATE TABLE other.victim AS SELECT 1 AS x")


def _victim_alive(warehouse: Path) -> bool:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM other.victim").fetchall() == [(1,)]


def _with_rule(contract: Contract, sql: str) -> tuple[Contract, CustomSql]:
    """``contract`` with one custom_sql rule that lint never saw."""
    rule = CustomSql.model_construct(
        kind="custom_sql", name="evil", sql=sql, severity="error", description=None
    )
    return contract.model_copy(update={"quality": (rule,)}), rule


def _attacks(tmp_path: Path) -> dict[str, str]:
    leak = tmp_path / "leak.csv"
    return {
        "closes the wrapper": (
            f"select * from {{table}}) AS q; COPY (SELECT 1) TO '{leak}'; "
            "DROP TABLE other.victim; SELECT * FROM (SELECT 1"
        ),
        "copy": f"COPY (SELECT * FROM {{table}}) TO '{leak}'",
        "drop": "DROP TABLE other.victim",
        "with delete": "WITH d AS (DELETE FROM other.victim RETURNING *) SELECT * FROM d",
    }


@pytest.mark.parametrize("attack", _attacks(Path("/x")).keys())
def test_a_custom_sql_rule_that_writes_fails_and_writes_nothing(
    attack: str,
    customer_contract: Contract,
    resources: dict[str, Any],
    warehouse: Path,
    tmp_path: Path,
) -> None:
    _materialise(customer_contract, customers_table(3), resources)
    _victim(warehouse)
    contract, rule = _with_rule(customer_contract, _attacks(tmp_path)[attack])
    with DuckDBWarehouse(database=str(warehouse)).read_only_session() as session:
        outcome = evaluate(contract, session, [("evil", rule)])["evil"]
    assert not outcome.passed
    assert outcome.description.startswith("the check query failed: ")
    assert _victim_alive(warehouse)
    assert not (tmp_path / "leak.csv").exists()


def test_the_checks_connection_cannot_write_whatever_it_is_sent(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path, tmp_path: Path
) -> None:
    _materialise(customer_contract, customers_table(3), resources)
    _victim(warehouse)
    other = tmp_path / "other.duckdb"
    with DuckDBWarehouse(database=str(warehouse)).read_only_session() as session:
        assert isinstance(session, DuckDBSession)
        for sql in [
            f"COPY (SELECT 1) TO '{tmp_path / 'leak.csv'}'",
            "DROP TABLE other.victim",
            "INSERT INTO other.victim VALUES (2)",
            f"ATTACH '{other}' AS o",
            "SET enable_external_access = true",
            f"SELECT * FROM read_csv('{warehouse}')",
        ]:
            with pytest.raises(duckdb.Error):
                session.query(sql)  # not even parsed: the connection itself refuses
        count = session.query_read_only("SELECT count(*) FROM customers.customer_v1")
        assert count.column(0).to_pylist() == [3]
    assert _victim_alive(warehouse)
    assert not (tmp_path / "leak.csv").exists()
    assert not other.exists()


def test_custom_sql_never_runs_on_a_connection_that_can_write(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    _materialise(customer_contract, customers_table(3), resources)
    rule = customer_contract.quality[-1]
    assert isinstance(rule, CustomSql)
    with duckdb.connect(str(warehouse)) as con:
        outcome = evaluate(customer_contract, DuckDBSession(con), [(rule.name, rule)])
    result = outcome[rule.name]
    assert not result.passed
    assert "runs only on a DuckDB connection that cannot write" in result.description


def test_a_read_only_rule_runs_in_the_dagster_checks(
    customer_contract: Contract, resources: dict[str, Any]
) -> None:
    @product_asset(customer_contract)
    def customer() -> pa.Table:
        return customers_table(3)

    result = dg.materialize([customer, product_checks(customer)], resources=resources)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = evaluations["no_signup_in_the_future"]
    assert check.passed
    assert check.description == "no_signup_in_the_future: no rows break the rule"


def test_checks_read_a_stored_column_with_a_quote_in_its_name(
    customer_contract: Contract, resources: dict[str, Any], warehouse: Path
) -> None:
    _materialise(customer_contract, customers_table(3), resources)
    with duckdb.connect(str(warehouse)) as con:  # a column added behind the contract's back
        con.execute('ALTER TABLE customers.customer_v1 ADD COLUMN "we""ird" VARCHAR')
        con.execute("UPDATE customers.customer_v1 SET \"we\"\"ird\" = 'x' || customer_id || "
                    "'@mail.example.org'")  # fmt: skip
    with DuckDBWarehouse(database=str(warehouse)).read_only_session() as session:
        outcome = evaluate(customer_contract, session, [("no_undeclared_pii", None)])
    pii = outcome["no_undeclared_pii"]
    assert not pii.passed
    assert pii.description.startswith('undeclared personal data: we"ird: email in 100%')


# -- BigQuery ----------------------------------------------------------------------------------


@pytest.mark.services
def test_bigquery_runs_custom_sql_only_when_a_dry_run_says_select(bigquery_emulator: Any) -> None:
    from google.cloud import bigquery

    from meshkit.local import emulator_job_retry, emulator_retry

    client = bigquery_emulator.client()
    try:
        dataset = f"hostile_{uuid.uuid4().hex[:8]}"
        client.create_dataset(f"{client.project}.{dataset}", retry=emulator_retry())
        victim = bigquery.Table(
            f"{client.project}.{dataset}.victim", schema=[bigquery.SchemaField("x", "INT64")]
        )
        client.create_table(victim, retry=emulator_retry())
        session = BigQuerySession(client, retry=emulator_retry(), job_retry=emulator_job_retry())
        ref = session.ref(dataset, "victim")
        writes = {
            f"DROP TABLE {ref}": "DROP_TABLE",
            f"INSERT INTO {ref} (x) VALUES (1)": "INSERT",
            f"CREATE TABLE {session.ref(dataset, 'copy')} AS SELECT * FROM {ref}": (
                "CREATE_TABLE_AS_SELECT"
            ),
        }
        for sql, kind in writes.items():
            # each guard on its own: the dry run names the job's kind and runs nothing ...
            assert session.statement_type(sql) == kind
            # ... and query_read_only refuses (the parse, then the dry run, would refuse it)
            with pytest.raises(ServiceError, match="refused to run it: a statement of type"):
                session.query_read_only(sql)
        with pytest.raises(ServiceError, match="refused to run it: 2 statements"):
            session.query_read_only(f"SELECT 1; DROP TABLE {ref}")
        assert session.columns(dataset, "victim") == {"x": "INT64"}
        assert session.query_read_only(f"SELECT count(*) FROM {ref}").column(0).to_pylist() == [0]
        assert session.query(f"SELECT count(*) FROM {ref}").column(0).to_pylist() == [0]
    finally:
        client.close()


AWKWARD = """
domain: awkward
name: keywords
version: 1.0.0
owner: {team: t, contact: t@example.com}
fields:
  - {name: id, type: string, required: true}
  - {name: select, type: integer, required: true}
  - {name: Group, type: string}
  - {name: from, type: date}
primary_key: [id, select]
quality:
  - {kind: not_null, field: select}
  - {kind: unique, fields: [id, select]}
  - {kind: accepted_values, field: Group, values: [a, b]}
  - {kind: range, field: select, min: 0}
  - {kind: regex, field: Group, pattern: "[a-z]"}
  - {kind: freshness, field: from, max_age: 36500d}
  - kind: custom_sql
    name: no_empty_id
    sql: select * from {table} t where t.id = 'none'
"""


def test_names_that_are_sql_keywords_or_mixed_case_work_everywhere_in_duckdb(
    resources: dict[str, Any],
) -> None:
    import datetime as dt

    from meshkit.contracts.loader import parse_contract

    contract, problems = parse_contract(AWKWARD)
    assert contract is not None, problems

    @product_asset(contract)
    def keywords() -> pa.Table:
        return pa.table(
            {
                "id": ["x", "y"],
                "select": [1, 2],
                "Group": ["a", "b"],
                "from": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            }
        )

    result = dg.materialize([keywords, product_checks(keywords)], resources=resources)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 9
    assert all(e.passed for e in evaluations), [(e.check_name, e.description) for e in evaluations]


@pytest.mark.services
def test_names_that_are_sql_keywords_or_mixed_case_work_in_bigquery(
    monkeypatch: pytest.MonkeyPatch, bigquery_emulator: Any
) -> None:
    import datetime as dt

    from meshkit.batch import resources_for
    from meshkit.contracts.loader import parse_contract

    domain = f"kw_{uuid.uuid4().hex[:8]}"  # the emulator is shared
    contract, problems = parse_contract(AWKWARD.replace("domain: awkward", f"domain: {domain}"))
    assert contract is not None, problems
    monkeypatch.setenv("MESHKIT_ENV", "prod")
    monkeypatch.setenv("MESHKIT_BIGQUERY_PROJECT", bigquery_emulator.project)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.url.removeprefix("http://"))

    @product_asset(contract)
    def keywords() -> pa.Table:
        return pa.table(
            {
                "id": ["x", "y"],
                "select": [1, 2],
                "Group": ["a", "b"],
                "from": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            }
        )

    result = dg.materialize([keywords, product_checks(keywords)], resources=resources_for())
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 9
    assert all(e.passed for e in evaluations), [(e.check_name, e.description) for e in evaluations]
