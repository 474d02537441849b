"""CDC publications and slots per domain on the embedded PostgreSQL (logical replication on),
and a contract whose source table does not exist refused at plan time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from meshkit.cli.failures import run as run_cli
from meshkit_platform.cli import app
from meshkit_platform.provisioning import Targets, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.plan import Backend
from tests.platform.provisioning.conftest import contract_yaml

pytestmark = [pytest.mark.services, pytest.mark.slow]


def write_captured(root: Path, domain: str, database: str, table: str) -> Path:
    """A contract reading one table of ``database`` through a CDC input port."""
    text = contract_yaml(domain, "item").replace(
        "ports:\n",
        f"ports:\n  inputs:\n    - {{kind: cdc, database: {database}, table: {table}}}\n",
    )
    path = root / domain / "contracts" / "item.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def cdc_of(targets: Targets) -> list[Backend]:
    return Targets(source=targets.postgres).open()


def test_the_publication_is_created_owned_and_kept_the_slot_left_to_the_capture(
    domain: str, domains_dir: Path, targets: Targets
) -> None:
    assert targets.postgres is not None
    database = parse_dsn(targets.postgres)["dbname"]
    run(targets.postgres, "CREATE TABLE public.customers (id int PRIMARY KEY, note text)")
    write_captured(domains_dir, domain, database, "customers")
    backends = cdc_of(targets)
    name = f"{database}.meshkit_{domain}"
    plan = make_plan(load_domains(domains_dir), backends)
    actions = {(c.kind, c.name): (c.action, c.reason) for c in plan.changes}
    assert actions[("publication", name)][0] == "create"
    assert actions[("slot", name)] == (
        "not applicable",
        "created by the capture (meshkit cdc run) together with its initial snapshot",
    )
    apply_plan(plan, backends)
    assert run(
        targets.postgres,
        "SELECT schemaname, tablename, obj_description(p.oid, 'pg_publication') "
        "FROM pg_publication p JOIN pg_publication_tables t USING (pubname) "
        f"WHERE pubname = 'meshkit_{domain}'",
    ) == [("public", "customers", f"meshkit:managed meshkit_{domain}")]
    assert make_plan(load_domains(domains_dir), backends).pending == []

    # the capture's slot, once it exists, is read; a table added by hand is drift
    run(
        targets.postgres,
        f"SELECT pg_create_logical_replication_slot('meshkit_{domain}', 'pgoutput')",
    )
    run(targets.postgres, "CREATE TABLE public.other (id int PRIMARY KEY)")
    run(targets.postgres, f'ALTER PUBLICATION "meshkit_{domain}" ADD TABLE public.other')
    drift = make_plan(load_domains(domains_dir), backends)
    assert {(c.kind, c.action) for c in drift.changes} == {("publication", "update"),
                                                           ("slot", "no change")}  # fmt: skip
    apply_plan(drift, backends)
    assert make_plan(load_domains(domains_dir), backends).pending == []
    run(targets.postgres, f"SELECT pg_drop_replication_slot('meshkit_{domain}')")
    for b in backends:
        b.close()


def test_a_missing_source_table_is_refused_naming_the_contract_and_the_table(
    domain: str, domains_dir: Path, targets: Targets
) -> None:
    assert targets.postgres is not None
    database = parse_dsn(targets.postgres)["dbname"]
    path = write_captured(domains_dir, domain, database, "nowhere")
    backends = cdc_of(targets)
    with pytest.raises(ProvisioningError) as refused:
        make_plan(load_domains(domains_dir), backends)
    assert f"{path}: source table public.nowhere does not exist in database {database!r}" in str(
        refused.value
    )
    for b in backends:
        b.close()


def test_plan_writes_debezium_configs_with_the_captures_names_and_no_password(
    domain: str, domains_dir: Path, targets: Targets, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert targets.postgres is not None
    database = parse_dsn(targets.postgres)["dbname"]
    run(targets.postgres, "CREATE TABLE public.customers (id int PRIMARY KEY)")
    write_captured(domains_dir, domain, database, "customers")
    out = tmp_path / "connect"
    code = run_cli(app, ["plan", "--domains", str(domains_dir), "--source", targets.postgres,
                         "--debezium", str(out)], prog_name="meshkit-platform")  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2, err  # the publication is pending
    body = orjson.loads((out / f"meshkit-{domain}-{database}.json").read_bytes())
    config = body["config"]
    assert config["slot.name"] == config["publication.name"] == f"meshkit_{domain}"
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["table.include.list"] == "public.customers"
    assert config["topic.prefix"] == f"{domain}.cdc"  # topics <domain>.cdc.public.customers
    assert config["database.dbname"] == database
    password = parse_dsn(targets.postgres).get("password")
    assert config["database.password"].startswith("${file:")
    assert not password or password not in (out / f"meshkit-{domain}-{database}.json").read_text()
