"""The BigQuery warehouse backend against the local BigQuery emulator, chosen by the
settings (``warehouse_kind: bigquery``): create, no-op re-plan, out-of-band drift shown
and repaired (what BigQuery cannot change in place refused with the reason), a table
meshkit does not own left alone, IAM and policy tags shown as not applicable here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from meshkit.clients import emulator_job_retry, emulator_retry
from meshkit.contracts.loader import read_contract
from meshkit.ports import Change
from meshkit.ports.warehouse_bigquery import BigQueryWarehouseWriter
from meshkit.settings import MeshkitSettings
from meshkit.testing import BigQueryEndpoint
from meshkit_platform.provisioning import Plan, Targets, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.bigquery import BigQueryBackend
from meshkit_platform.provisioning.grants import AccessGrant
from meshkit_platform.provisioning.plan import Backend

pytestmark = [pytest.mark.services, pytest.mark.slow]
RETRY = emulator_retry()


def contract_yaml(domain: str, readers: tuple[str, ...] = ()) -> str:
    """A member product: partitioned by day, clustered, one personal column."""
    return f"""domain: {domain}
name: member
version: 1.0.0
status: active
description: "Members of the club."
owner: {{team: "t", contact: "t@example.com"}}
fields:
  - {{name: member_id, type: string, required: true}}
  - name: email
    type: string
    pii: email
    classification: confidential
    transform: {{kind: tokenize, key: members}}
  - {{name: tier, type: string, required: true}}
  - {{name: country, type: string}}
  - {{name: joined_at, type: timestamp, required: true}}
primary_key: [member_id]
access: {{readers: [{", ".join(readers)}]}}
ports:
  outputs:
    - kind: warehouse_table
      partitioning: {{field: joined_at, granularity: day}}
      clustering: [tier]
"""


@pytest.fixture
def prefix() -> str:
    return f"p{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def repo(domains_dir: Path, domain: str) -> Path:
    path = domains_dir / domain / "contracts" / "member.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(contract_yaml(domain, readers=("analysts",)))
    return path


@pytest.fixture
def bq_backends(bigquery_emulator: BigQueryEndpoint, prefix: str) -> Iterator[list[Backend]]:
    settings = MeshkitSettings.model_validate({
        "warehouse_kind": "bigquery",
        "bigquery_emulator_host": bigquery_emulator.url,
        "bigquery_project": bigquery_emulator.project,
        "bigquery_dataset_prefix": prefix,
    })  # fmt: skip
    # every other endpoint given, so nothing is looked up in a running local stack
    given = Targets(kafka="unused:9092", search="http://unused", postgres="postgresql://unused")
    warehouse = given.resolved(settings).warehouse
    assert warehouse == f"bigquery:{bigquery_emulator.project}"
    opened = Targets(warehouse=warehouse, settings=settings).open()
    yield opened
    for b in opened:
        b.close()


@pytest.fixture
def client(bigquery_emulator: BigQueryEndpoint) -> Iterator[Any]:
    c = bigquery_emulator.client()
    yield c
    c.close()


def plan_of(root: Path, backends: list[Backend], grants: list[AccessGrant] | None = None) -> Plan:
    return make_plan(load_domains(root), backends, grants or [])


def by_key(plan: Plan) -> dict[tuple[str, str, str], Any]:
    return {c.key: c for c in plan.changes}


def pending(plan: Plan) -> dict[tuple[str, str, str], str]:
    return {c.key: c.action for c in plan.pending}


def test_settings_choose_bigquery_create_then_noop_and_the_writer_writes(
    repo: Path, domain: str, prefix: str, domains_dir: Path, bq_backends: list[Backend],
    client: Any, bigquery_emulator: BigQueryEndpoint,
) -> None:  # fmt: skip
    assert [type(b) for b in bq_backends] == [BigQueryBackend]
    table = f"{domain}.member_v1"
    grant = AccessGrant(3, f"{domain}.member.v1", "finance", "warehouse_table", (), True)
    first = plan_of(domains_dir, bq_backends, [grant])
    assert pending(first) == {
        ("bigquery", "dataset", domain): "create",
        ("bigquery", "table", table): "create",
    }
    changes = by_key(first)
    created = {a: new for a, _, new in changes[("bigquery", "table", table)].diff}
    assert created["partitioning"] == "DAY on joined_at"
    assert created["clustering"] == ["tier"]
    assert created["columns.email"] == "STRING"
    assert created["columns.member_id"] == "STRING NOT NULL"
    # the emulator has no IAM: the policy tag and both readers' bindings are shown, not applied
    tags = changes[("bigquery", "policy_tags", table)]
    assert tags.action == "not applicable"
    assert ("columns.email", None, "email") in tags.diff
    for group in ("analysts", "finance"):  # from the contract, from the registry's grant
        iam = changes[("bigquery", "iam", f"{table} meshkit_reader_{group}")]
        assert iam.action == "not applicable"
        assert "no IAM API" in iam.reason
    assert first.capabilities["bigquery"]["iam"].startswith("not applicable here")
    assert first.capabilities["bigquery"]["policy_tags"].startswith("not applicable here")

    apply_plan(first, bq_backends)
    live = client.get_table(f"{bigquery_emulator.project}.{prefix}{domain}.member_v1")
    assert live.labels == {"meshkit": "managed"}
    assert client.get_dataset(f"{prefix}{domain}").labels == {"meshkit": "managed"}
    assert (live.time_partitioning.type_, live.time_partitioning.field) == ("DAY", "joined_at")
    assert live.clustering_fields == ["tier"]
    again = plan_of(domains_dir, bq_backends, [grant])
    assert again.pending == []
    assert by_key(again)[("bigquery", "table", table)].action == "no change"

    # what the writers expect: ensure finds nothing to change, and a change lands
    contract, _ = read_contract(repo)
    assert contract is not None
    writer = BigQueryWarehouseWriter(
        bigquery_emulator.client(), dataset_prefix=prefix, retry=RETRY,
        job_retry=emulator_job_retry(),
    )  # fmt: skip
    assert writer.ensure(contract).empty
    row = {"member_id": "m1", "tier": "gold", "joined_at": datetime(2026, 1, 2, tzinfo=UTC)}
    writer.write([Change.upsert(row, key=("m1",), position=1)])
    writer.close()
    query = f"SELECT member_id FROM `{live.full_table_id.replace(':', '.')}`"
    result = client.query(query, job_retry=emulator_job_retry()).result(retry=RETRY)
    assert [r.member_id for r in result] == ["m1"]
    assert plan_of(domains_dir, bq_backends, [grant]).pending == []


def test_out_of_band_drift_is_shown_and_repaired_where_bigquery_can(
    repo: Path, domain: str, prefix: str, domains_dir: Path, bq_backends: list[Backend],
    client: Any, bigquery_emulator: BigQueryEndpoint,
) -> None:  # fmt: skip
    del repo
    apply_plan(plan_of(domains_dir, bq_backends), bq_backends)
    name, key = f"{domain}.member_v1", ("bigquery", "table", f"{domain}.member_v1")
    table_id = f"{bigquery_emulator.project}.{prefix}{name}"

    # a column added and the clustering changed by hand (bq update, the console)
    live = client.get_table(table_id, retry=RETRY)
    live.schema = [*live.schema, bigquery.SchemaField("extra", "STRING")]
    live.clustering_fields = ["country"]
    client.update_table(live, ["schema", "clustering_fields"], retry=RETRY)
    drift = by_key(plan_of(domains_dir, bq_backends))[key]
    assert drift.action == "update"
    assert ("columns.extra", "STRING", None) in drift.diff
    assert ("clustering", ["country"], ["tier"]) in drift.diff
    apply_plan(plan_of(domains_dir, bq_backends), bq_backends)
    repaired = client.get_table(table_id, retry=RETRY)
    assert "extra" not in [f.name for f in repaired.schema]
    assert repaired.clustering_fields == ["tier"]
    assert plan_of(domains_dir, bq_backends).pending == []

    # partitioning changed by hand: BigQuery cannot change it back in place
    live = client.get_table(table_id, retry=RETRY)
    live.time_partitioning = bigquery.TimePartitioning(type_="MONTH", field="joined_at")
    live.clustering_fields = ["country"]
    client.update_table(live, ["time_partitioning", "clustering_fields"], retry=RETRY)
    both = by_key(plan_of(domains_dir, bq_backends))[key]
    assert both.action == "update"  # the clustering is restored, the partitioning left
    assert ("partitioning", "MONTH on joined_at", "DAY on joined_at") in both.diff
    assert "cannot change a table's partitioning in place" in both.reason
    apply_plan(plan_of(domains_dir, bq_backends), bq_backends)
    after = client.get_table(table_id, retry=RETRY)
    assert after.clustering_fields == ["tier"]
    assert after.time_partitioning.type_ == "MONTH"
    refused = plan_of(domains_dir, bq_backends)
    assert refused.pending == []
    assert by_key(refused)[key].action == "not applicable"
    assert "publish a new major" in by_key(refused)[key].reason


def test_a_table_meshkit_does_not_own_is_left_alone(
    repo: Path, domain: str, prefix: str, domains_dir: Path, bq_backends: list[Backend],
    client: Any, bigquery_emulator: BigQueryEndpoint,
) -> None:  # fmt: skip
    del repo
    dataset = f"{bigquery_emulator.project}.{prefix}{domain}"
    client.create_dataset(dataset, retry=RETRY)
    theirs = bigquery.Table(f"{dataset}.member_v1", schema=[bigquery.SchemaField("x", "INT64")])
    theirs.labels = {"team": "finance"}
    client.create_table(theirs, retry=RETRY)
    plan = plan_of(domains_dir, bq_backends)
    changes = by_key(plan)
    table = changes[("bigquery", "table", f"{domain}.member_v1")]
    assert table.action == "not applicable"
    assert "not owned, left alone" in table.reason
    assert changes[("bigquery", "dataset", domain)].action == "not applicable"
    assert plan.pending == []
    apply_plan(plan, bq_backends)
    left = client.get_table(f"{dataset}.member_v1", retry=RETRY)
    assert [f.name for f in left.schema] == ["x"]
    assert left.labels == {"team": "finance"}


def test_a_new_major_is_a_table_beside_the_old_and_a_table_deleted_by_hand_comes_back(
    repo: Path, domain: str, prefix: str, domains_dir: Path, bq_backends: list[Backend],
    client: Any, bigquery_emulator: BigQueryEndpoint,
) -> None:  # fmt: skip
    apply_plan(plan_of(domains_dir, bq_backends), bq_backends)
    v2 = repo.with_name("member_v2.yaml")
    v2.write_text(repo.read_text().replace("version: 1.0.0", "version: 2.0.0"))
    beside = plan_of(domains_dir, bq_backends)
    assert pending(beside) == {("bigquery", "table", f"{domain}.member_v2"): "create"}
    apply_plan(beside, bq_backends)
    dataset = f"{bigquery_emulator.project}.{prefix}{domain}"
    tables = sorted(t.table_id for t in client.list_tables(dataset, retry=RETRY))
    assert tables == ["member_v1", "member_v2"]

    client.delete_table(f"{dataset}.member_v1", retry=RETRY)
    again = plan_of(domains_dir, bq_backends)
    assert pending(again) == {("bigquery", "table", f"{domain}.member_v1"): "create"}
    apply_plan(again, bq_backends)
    assert plan_of(domains_dir, bq_backends).pending == []
