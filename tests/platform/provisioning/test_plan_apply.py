"""Plan and apply against the embedded broker, DuckDB, the search server and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from meshkit.local import local_search_client
from meshkit_platform.provisioning import (
    ApplyError,
    DestroyRefusedError,
    Plan,
    ProvisioningError,
    StalePlanError,
    Targets,
    apply_plan,
    load_domains,
    make_plan,
)
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.plan import Backend

pytestmark = [pytest.mark.services, pytest.mark.slow]


def plan_of(root: Path, backends: list[Backend]) -> Plan:
    return make_plan(load_domains(root), backends)


def actions(plan: Plan) -> dict[tuple[str, str, str], str]:
    return {c.key: c.action for c in plan.changes}


def pending(plan: Plan) -> dict[tuple[str, str, str], str]:
    return {c.key: c.action for c in plan.pending}


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return {k: v.value for k, v in admin.describe_configs([res])[res].result(15).items()}


def set_retention(bootstrap: str, topic: str, ms: str) -> None:
    """Alter a topic's retention out of band, as a person with the admin tools would."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("retention.ms", ms, incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for f in admin.incremental_alter_configs([res]).values():
        f.result(15)


def duck_columns(path: str, schema: str, table: str) -> list[str]:
    con = duckdb.connect(path)
    try:
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
            "AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_fresh_apply_creates_every_port_then_replan_is_a_noop(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    write_contract(domain, "item")
    first = plan_of(domains_dir, backends)
    addr = f"{domain}.item.v1"
    assert pending(first) == {
        ("kafka", "topic", addr): "create",
        ("kafka", "topic", f"{addr}.deadletter"): "create",
        ("warehouse", "schema", domain): "create",
        ("warehouse", "table", f"{domain}.item_v1"): "create",
        ("search", "index", addr): "create",
        ("search", "alias", f"{domain}.item"): "create",
        ("view", "table", f"public.{addr}"): "create",
    }
    apply_plan(first, backends)

    assert targets.kafka is not None
    assert targets.warehouse is not None
    config = topic_config(targets.kafka, addr)
    assert config["cleanup.policy"] == "compact"
    assert config["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert duck_columns(targets.warehouse, domain, "item_v1") == [
        "id", "amount", "note", "_meshkit_pos"
    ]  # fmt: skip
    es = local_search_client(str(targets.search))
    assert es.indices.get_mapping(index=addr)[addr]["mappings"]["_meta"]["meshkit"] == {
        "product": addr
    }
    assert list(es.indices.get_alias(name=f"{domain}.item")) == [addr]
    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", [f'"{addr}"'])
        comment = cur.fetchone()
    conn.close()
    assert comment is not None
    assert comment[0].startswith(f"meshkit:managed {addr}")

    again = plan_of(domains_dir, backends)
    assert again.pending == []
    assert set(actions(again).values()) == {"no change"}


def test_additive_change_and_new_major_beside_the_old(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    write_contract(domain, "item")
    apply_plan(plan_of(domains_dir, backends), backends)

    write_contract(domain, "item", extra_fields=("colour",))
    additive = plan_of(domains_dir, backends)
    addr = f"{domain}.item.v1"
    assert pending(additive) == {
        ("warehouse", "table", f"{domain}.item_v1"): "update",
        ("search", "index", addr): "update",
        ("view", "table", f"public.{addr}"): "update",
    }
    table = next(
        c for c in additive.changes if c.key == ("warehouse", "table", f"{domain}.item_v1")
    )
    assert ("columns.colour", None, "VARCHAR") in table.diff
    apply_plan(additive, backends)
    assert targets.warehouse is not None
    assert "colour" in duck_columns(targets.warehouse, domain, "item_v1")
    assert plan_of(domains_dir, backends).pending == []

    write_contract(domain, "item", file="item_v2.yaml", major=2, partitions=4)
    breaking = plan_of(domains_dir, backends)
    v2 = f"{domain}.item.v2"
    assert pending(breaking) == {
        ("kafka", "topic", v2): "create",
        ("kafka", "topic", f"{v2}.deadletter"): "create",
        ("warehouse", "table", f"{domain}.item_v2"): "create",
        ("search", "index", v2): "create",
        ("search", "alias", f"{domain}.item"): "update",
        ("view", "table", f"public.{v2}"): "create",
    }
    apply_plan(breaking, backends)
    after = plan_of(domains_dir, backends)
    assert after.pending == []
    assert actions(after)[("kafka", "topic", addr)] == "no change"  # v1 stays beside v2
    es = local_search_client(str(targets.search))
    assert list(es.indices.get_alias(name=f"{domain}.item")) == [v2]


def test_drift_shows_in_the_plan_and_apply_repairs_it(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    write_contract(domain, "item")
    apply_plan(plan_of(domains_dir, backends), backends)
    addr = f"{domain}.item.v1"
    assert targets.kafka is not None
    assert targets.warehouse is not None
    # out of band: retention altered, a column added, an index deleted, a view column added
    set_retention(targets.kafka, addr, "1000")
    warehouse = next(b for b in backends if b.name == "warehouse")
    warehouse.con.execute(f'ALTER TABLE "{domain}"."item_v1" ADD COLUMN "by_hand" INTEGER')  # type: ignore[attr-defined]
    local_search_client(str(targets.search)).indices.delete(index=addr)
    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute(f'ALTER TABLE "{addr}" ADD COLUMN by_hand integer')
    conn.close()

    drift = plan_of(domains_dir, backends)
    assert pending(drift) == {
        ("kafka", "topic", addr): "update",
        ("warehouse", "table", f"{domain}.item_v1"): "update",
        ("search", "index", addr): "create",
        ("search", "alias", f"{domain}.item"): "create",
        ("view", "table", f"public.{addr}"): "update",
    }
    topic = next(c for c in drift.changes if c.key == ("kafka", "topic", addr))
    assert ("config.retention.ms", "1000", "604800000") in topic.diff
    assert "altered" in topic.reason

    apply_plan(drift, backends)
    assert plan_of(domains_dir, backends).pending == []
    assert topic_config(targets.kafka, addr)["retention.ms"] == "604800000"
    assert "by_hand" not in duck_columns(targets.warehouse, domain, "item_v1")


def test_destroy_protection_needs_the_resources_named(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    write_contract(domain, "keep")
    gone = write_contract(domain, "gone")
    apply_plan(plan_of(domains_dir, backends), backends)
    gone.unlink()

    plan = plan_of(domains_dir, backends)
    addr = f"{domain}.gone.v1"
    deletes = {c.name for c in plan.pending if c.action == "delete"}
    assert deletes == {
        addr, f"{addr}.deadletter", f"{domain}.gone_v1", f"public.{addr}", f"{domain}.gone"
    }  # fmt: skip
    with pytest.raises(DestroyRefusedError) as refused:
        apply_plan(plan, backends, allow_delete=[addr])
    message = str(refused.value)
    assert f"--allow-delete {domain}.gone_v1" in message
    assert f"kafka topic {addr}," not in message  # the one named is allowed
    assert plan_of(domains_dir, backends).pending != []  # nothing was deleted

    data = [c.name for c in plan.pending if c.holds_data]
    apply_plan(plan, backends, allow_delete=data)
    after = plan_of(domains_dir, backends)
    assert after.pending == []
    assert targets.kafka is not None
    topics = AdminClient({"bootstrap.servers": targets.kafka}).list_topics(timeout=15).topics
    assert addr not in topics
    assert f"{domain}.keep.v1" in topics


def test_a_stale_plan_is_refused(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    write_contract(domain, "item")
    apply_plan(plan_of(domains_dir, backends), backends)
    write_contract(domain, "item", retention="14d")
    plan = plan_of(domains_dir, backends)
    assert targets.kafka is not None
    set_retention(targets.kafka, f"{domain}.item.v1", "5000")
    with pytest.raises(StalePlanError, match="run plan again"):
        apply_plan(plan, backends)
    assert topic_config(targets.kafka, f"{domain}.item.v1")["retention.ms"] == "5000"
    # a plan file survives its JSON round trip and applies once; the same plan again is stale
    fresh = Plan.from_json(plan_of(domains_dir, backends).to_json())
    apply_plan(fresh, backends)
    assert topic_config(targets.kafka, f"{domain}.item.v1")["retention.ms"] == str(
        14 * 24 * 3600 * 1000
    )
    with pytest.raises(StalePlanError):
        apply_plan(fresh, backends)


def test_capabilities_of_the_embedded_broker_are_reported(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    write_contract(domain, "item", partitions=2)
    apply_plan(plan_of(domains_dir, backends), backends)
    write_contract(domain, "item", partitions=3)
    plan = plan_of(domains_dir, backends)
    kafka = plan.capabilities["kafka"]
    assert kafka["create_partitions"].startswith("not applicable here")
    assert kafka["acls"].startswith("not applicable here")
    change = next(c for c in plan.changes if c.key == ("kafka", "topic", f"{domain}.item.v1"))
    assert change.action == "not applicable"
    assert "partitions 2 -> 3" in change.reason
    assert plan.pending == []


def test_a_lowered_partition_count_is_refused_naming_both_sides(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    write_contract(domain, "item", partitions=3)
    apply_plan(plan_of(domains_dir, backends), backends)
    path = write_contract(domain, "item", partitions=1)
    with pytest.raises(ProvisioningError) as refused:
        plan_of(domains_dir, backends)
    message = str(refused.value)
    assert str(path) in message
    assert f"live topic {domain}.item.v1 has 3" in message
    assert "asks for 1 partitions" in message


def test_two_domains_claiming_the_same_topic_are_refused(
    domain: str, write_contract: Any, domains_dir: Path
) -> None:
    first = write_contract(domain, "item")
    second = write_contract(domain, "item", file="copy.yaml")
    with pytest.raises(ProvisioningError) as refused:
        load_domains(domains_dir)
    message = str(refused.value)
    assert str(first) in message
    assert str(second) in message
    assert f"topic {domain}.item.v1" in message

    other = domains_dir / "other" / "contracts" / "item.yaml"
    other.parent.mkdir(parents=True)
    second.rename(other)
    with pytest.raises(ProvisioningError, match=f"domain '{domain}' in the repo of domain 'other'"):
        load_domains(domains_dir)


def test_what_meshkit_does_not_own_is_left_alone(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    addr = f"{domain}.item.v1"
    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE TABLE "{addr}" (hand_made integer)')
        cur.execute(f'CREATE TABLE "{domain}.other.v1" (x integer)')
    conn.close()
    write_contract(domain, "item")
    plan = plan_of(domains_dir, backends)
    view = next(c for c in plan.changes if c.key == ("view", "table", f"public.{addr}"))
    assert view.action == "not applicable"
    assert "not owned" in view.reason
    assert not any(c.name == f"public.{domain}.other.v1" for c in plan.changes)
    apply_plan(plan, backends)
    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [f'"{addr}"'],
        )
        assert [r[0] for r in cur.fetchall()] == ["hand_made"]
    conn.close()


def test_a_failure_halfway_stops_with_a_report_and_replanning_recovers(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    addr = f"{domain}.item.v1"
    # a PostgreSQL view of the table's name: not a table meshkit reads, so the plan wants to
    # create the table, and the create fails when apply reaches the serving views
    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE VIEW "{addr}" AS SELECT 1 AS x')
    conn.close()
    write_contract(domain, "item")
    plan = plan_of(domains_dir, backends)
    with pytest.raises(ApplyError) as failed:
        apply_plan(plan, backends)
    assert failed.value.pending == [f"create view table public.{addr}"]
    assert f"create kafka topic {addr}" in failed.value.applied
    assert f"create search index {addr}" in failed.value.applied
    assert "run plan again" in str(failed.value)

    with psycopg2.connect(str(targets.postgres)) as conn, conn.cursor() as cur:
        cur.execute(f'DROP VIEW "{addr}"')
    conn.close()
    again = plan_of(domains_dir, backends)
    assert pending(again) == {("view", "table", f"public.{addr}"): "create"}
    apply_plan(again, backends)
    assert plan_of(domains_dir, backends).pending == []


def test_a_configured_replication_factor_is_compared_and_never_changed_in_place(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    assert targets.kafka is not None
    write_contract(domain, "item")
    one = [KafkaBackend(targets.kafka, replication_factor=1), *backends[1:]]
    apply_plan(plan_of(domains_dir, one), one)
    assert plan_of(domains_dir, one).pending == []

    three = [KafkaBackend(targets.kafka, replication_factor=3), *backends[1:]]
    plan = plan_of(domains_dir, three)
    topic = next(c for c in plan.changes if c.key == ("kafka", "topic", f"{domain}.item.v1"))
    assert topic.action == "not applicable"
    assert topic.reason.startswith("replication factor 1 -> 3")
    assert plan.pending == []
