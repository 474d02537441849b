"""Kafka ACLs of reader groups (a contract's readers, the registry's approved topic
grants): in the desired state, shown as not applicable on the embedded broker (which
advertises the ACL APIs without implementing them), never sent."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from meshkit_platform.provisioning import Plan, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import AccessGrant
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.plan import Backend
from meshkit_platform.provisioning.resources import Change

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_reader_acls_are_planned_as_not_applicable_on_the_embedded_broker(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    group = f"g{uuid.uuid4().hex[:8]}"
    write_contract(domain, "item", readers=(group,))
    plan = make_plan(load_domains(domains_dir), backends)
    acls = [c for c in plan.changes if c.kind == "acl"]
    assert [(c.backend, c.name, c.action) for c in acls] == [
        ("kafka", f"{domain}.item.v1 User:meshkit_reader_{group}", "not applicable")
    ]
    assert "embedded broker" in acls[0].reason
    assert ("operations", None, ["DESCRIBE", "READ"]) in acls[0].diff
    assert ("consumer_group_prefix", None, f"{group}.") in acls[0].diff
    assert plan.capabilities["kafka"]["acls"].startswith("not applicable here")

    apply_plan(plan, backends)  # the topics, tables, index and view grants; no ACL
    again = make_plan(load_domains(domains_dir), backends)
    assert again.pending == []
    assert [c.action for c in again.changes if c.kind == "acl"] == ["not applicable"]


def test_an_acl_change_forced_at_the_embedded_broker_is_an_error_not_a_call(
    domain: str, backends: list[Backend]
) -> None:
    kafka = next(b for b in backends if isinstance(b, KafkaBackend))
    kafka.read(frozenset({domain}))
    name = f"{domain}.item.v1 User:meshkit_reader_x"
    forged = Change("create", "kafka", "acl", name, "forced by the test")
    [error] = kafka.apply_batch([forged], {})
    assert isinstance(error, ProvisioningError)
    assert "not applicable here" in str(error)
    assert kafka.capabilities()["topics"] == "supported"  # the client process is still here


def test_an_approved_topic_grant_becomes_its_reader_groups_acl_shown_not_applicable(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    write_contract(domain, "item")  # no readers in the contract: the registry grants one
    topic = f"{domain}.item.v1"
    grants = [
        AccessGrant(11, topic, "billing", "kafka_topic", (), True),
        AccessGrant(12, topic, "former", "kafka_topic", (), False),  # revoked or expired
        AccessGrant(13, topic, "support", "serving_view", ("id",), True),  # another port
    ]
    kafka = [b for b in backends if isinstance(b, KafkaBackend)]
    plan = make_plan(load_domains(domains_dir), kafka, grants)
    acls = [c for c in plan.changes if c.kind == "acl"]
    assert [(c.name, c.action) for c in acls] == [
        (f"{topic} User:meshkit_reader_billing", "not applicable")
    ]
    assert "embedded broker" in acls[0].reason
    assert ("operations", None, ["DESCRIBE", "READ"]) in acls[0].diff
    assert ("consumer_group_prefix", None, "billing.") in acls[0].diff

    # the plan file carries the grant, so apply needs no registry; no ACL call is made
    apply_plan(Plan.from_json(plan.to_json()), kafka)
    again = make_plan(load_domains(domains_dir), kafka, grants)
    assert again.pending == []
    assert [c.name for c in again.changes if c.kind == "acl"] == [acls[0].name]
    without = make_plan(load_domains(domains_dir), kafka, grants[1:])
    assert [c for c in without.changes if c.kind == "acl"] == []
