"""Dagster in production: the template's ``deploy/dagster.yaml`` against a real PostgreSQL.

The instance is made from the file the template ships, with its settings from the
environment as in a pod, against the embedded PostgreSQL. A product asset with the checks
its contract generates is materialised; the run, the materialisation and every check
result are then read back from PostgreSQL's tables, not from Dagster's memory. The
Kubernetes run launcher's configuration is resolved and validated (launching a Job needs
a cluster, which the tests do not have).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._config import process_config
from dagster_k8s import K8sRunLauncher
from psycopg2.extensions import parse_dsn

from meshkit.batch import load_contract, local_resources, product_asset, product_checks
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV, new_master_key
from tests.sdk.batch.conftest import FIXTURES, customers_table
from tests.sdk.deploy.conftest import ROOT

DAGSTER_YAML = ROOT / "template" / "{{cookiecutter.project_slug}}" / "deploy" / "dagster.yaml"


@pytest.fixture
def instance(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    dsn = parse_dsn(postgres_database)
    settings = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": dsn.get("host", "127.0.0.1"),
        "DAGSTER_PG_PORT": dsn.get("port", "5432"),
        "DAGSTER_PG_DB": dsn["dbname"],
        "DAGSTER_PG_USERNAME": dsn.get("user", "postgres"),
        "DAGSTER_PG_PASSWORD": dsn.get("password", ""),
        "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
        "DAGSTER_K8S_JOB_NAMESPACE": "orders",
        "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql-secret",
        MASTER_KEY_ENV: new_master_key(),
        STATE_DIR_ENV: str(tmp_path / "privacy"),
        "MESHKIT_ENV": "local",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MESHKIT_REGISTRY_URL", raising=False)
    with dg.DagsterInstance.from_config(str(home)) as made:
        yield made


def test_storage_is_postgres_and_the_run_launcher_is_kubernetes(
    instance: dg.DagsterInstance,
) -> None:
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert instance.all_instigator_state() == []  # the schedule tables answer
    launcher = instance.get_ref().run_launcher_data
    assert launcher is not None
    assert (launcher.module_name, launcher.class_name) == ("dagster_k8s", "K8sRunLauncher")
    resolved = process_config(K8sRunLauncher.config_type(), launcher.config_dict)
    assert resolved.success, resolved.errors
    assert resolved.value["instance_config_map"] == "dagster-instance"
    assert resolved.value["job_namespace"] == "orders"
    assert resolved.value["load_incluster_config"] is True


def test_a_materialisation_and_its_check_results_land_in_postgres(
    instance: dg.DagsterInstance, postgres_database: str, tmp_path: Path
) -> None:
    contract = load_contract(FIXTURES / "customers" / "contracts" / "customer.yaml")

    @product_asset(contract)
    def customer() -> object:
        return customers_table(3)

    checks = product_checks(customer)
    resources = local_resources(duckdb_path=tmp_path / "warehouse.duckdb")
    result = dg.materialize([customer, checks], resources=resources, instance=instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations, "the contract generates checks"

    with psycopg2.connect(postgres_database) as db, db.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchall() == [("SUCCESS",)]
        cur.execute(
            "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type IN ('ASSET_MATERIALIZATION', 'ASSET_CHECK_EVALUATION') "
            "GROUP BY 1",
            (result.run_id,),
        )
        counts = dict(cur.fetchall())
        assert counts == {
            "ASSET_MATERIALIZATION": 1,
            "ASSET_CHECK_EVALUATION": len(evaluations),
        }
        cur.execute(
            "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
            (result.run_id,),
        )
        stored = dict(cur.fetchall())
    expected = {e.check_name: "SUCCEEDED" if e.passed else "FAILED" for e in evaluations}
    assert stored == expected
    assert all(status == "SUCCEEDED" for status in stored.values())  # valid rows pass

    # a new instance over the same database sees the same history
    with dg.DagsterInstance.from_config(str(instance.root_directory)) as again:
        record = again.get_latest_materialization_event(customer.key)
        assert record is not None
        assert record.run_id == result.run_id
