"""The batch products materialise on a local DuckDB file: validated, masked, checked."""

import dagster as dg
import duckdb
import pytest
{%- if cookiecutter.__streaming == 'yes' %}
from meshkit.batch import load_contract, local_resources, product_checks
from meshkit.ports import DuckDBWarehouseWriter

from {{ cookiecutter.__package_name }}.definitions import defs
from {{ cookiecutter.__package_name }}.defs.assets import CONTRACTS
from {{ cookiecutter.__package_name }}.defs.assets import {{ cookiecutter.product_name }}_daily as product
{%- else %}
from meshkit.batch import local_resources, product_checks

from {{ cookiecutter.__package_name }}.definitions import defs
from {{ cookiecutter.__package_name }}.defs.assets import {{ cookiecutter.product_name }} as product
{%- endif %}

DATASET = "{{ cookiecutter.__warehouse_dataset }}"


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
{%- if cookiecutter.__streaming == 'yes' %}
    # The streamed product's table, as the flow writes it (created from its contract).
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(load_contract(CONTRACTS / "{{ cookiecutter.product_name }}.yaml"))
    writer.close()
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"""INSERT INTO {DATASET}.{{ cookiecutter.product_name }}_v1
                ({{ cookiecutter.product_name }}_id, email, country, signed_up_at, _meshkit_pos)
            VALUES ('1', 'tok:a', 'GB', TIMESTAMPTZ '2024-05-01 10:00:00+00', 1),
                   ('2', 'tok:b', 'GB', TIMESTAMPTZ '2024-05-01 23:00:00+00', 2),
                   ('3', 'tok:c', 'US', TIMESTAMPTZ '2024-05-02 09:00:00+00', 3)"""
        )
{%- else %}
    # The raw change table of the service database, as CDC lands it in the warehouse.
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"""CREATE SCHEMA {DATASET};
            CREATE TABLE {DATASET}.cdc_public_{{ cookiecutter.source_table }} AS SELECT * FROM (VALUES
              (1, 'ada@example.com', 'Ada Lovelace', DATE '1990-12-10', 'GB',
               TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              (2, 'alan@example.org', 'Alan Turing', DATE '1985-06-23', 'GB',
               TIMESTAMPTZ '2024-05-02 11:30:00+00')
            ) AS t(id, email, name, birth_date, country, created_at)"""
        )
{%- endif %}
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
{%- if cookiecutter.__streaming == 'yes' %}
        rows = con.execute(
            f"SELECT day::VARCHAR, country, signups FROM {DATASET}.{{ cookiecutter.product_name }}_daily_v1 "
            "ORDER BY day, country"
        ).fetchall()
    assert rows == [("2024-05-01", "GB", 2), ("2024-05-02", "US", 1)]
{%- else %}
        rows = con.execute(
            f"SELECT email, full_name, birth_date::VARCHAR FROM {DATASET}.{{ cookiecutter.product_name }}_v1 "
            "ORDER BY {{ cookiecutter.product_name }}_id"
        ).fetchall()
    # personal data is transformed before it is written
    assert all(email.startswith("tok:") for email, _, _ in rows)
    assert all(name not in ("Ada Lovelace", "Alan Turing") for _, name, _ in rows)
    assert [birth for _, _, birth in rows] == ["1990-01-01", "1985-01-01"]
{%- endif %}


def test_a_table_that_breaks_the_contract_is_not_written(warehouse):
    with duckdb.connect(str(warehouse)) as con:
{%- if cookiecutter.__streaming == 'yes' %}
        con.execute(f"UPDATE {DATASET}.{{ cookiecutter.product_name }}_v1 SET country = lower(country)")
{%- else %}
        con.execute(f"UPDATE {DATASET}.cdc_public_{{ cookiecutter.source_table }} SET country = NULL")
{%- endif %}
    with pytest.raises(Exception, match="country"):
        _materialize(warehouse)
