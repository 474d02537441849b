"""Registry access grants in provisioning's desired state: only active serving-view grants
of planned products, only published columns; the plan file carries them; states after
an apply; a registry that cannot be used is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshkit.cli.failures import run
from meshkit_platform.cli import app
from meshkit_platform.provisioning import desired_resources, load_domains
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import (
    AccessGrant,
    grant_states,
    reader_grants,
    view_grants,
)
from meshkit_platform.provisioning.plan import Plan

DOMAINS = Path(__file__).parents[2] / "fixtures/access"
ADDRESS = "customers.profile.v1"
TABLE = f"public.{ADDRESS}"


def _grant(
    gid: int,
    *,
    active: bool = True,
    columns: tuple[str, ...] = ("id", "city"),
    kind: str = "serving_view",
    address: str = ADDRESS,
    grantee: str = "bi",
) -> AccessGrant:
    return AccessGrant(gid, address, grantee, kind, columns, active)


def test_only_active_serving_view_grants_of_planned_products_with_published_columns() -> None:
    contracts = load_domains(DOMAINS)
    grants = [
        _grant(1, columns=("id", "city", "full_name")),  # full_name is dropped: never granted
        _grant(2, columns=("phone",)),  # same group: columns add up
        _grant(3, active=False, columns=("email",)),
        _grant(4, kind="kafka_topic", columns=("email",)),
        _grant(5, address="orders.order.v1", grantee="other"),
    ]
    wanted = view_grants(grants, contracts)
    assert wanted == {ADDRESS: {"meshkit_reader_bi": ["city", "id", "phone"]}}
    [table] = [r for r in desired_resources(contracts, wanted) if r.backend == "view"]
    assert table.attrs["grants"] == {"meshkit_reader_bi": ["city", "id", "phone"]}


def test_states_after_an_apply_come_from_the_live_column_grants() -> None:
    contracts = load_domains(DOMAINS)
    grants = [_grant(1), _grant(2, active=False, grantee="gone"), _grant(3, grantee="late")]
    desired = desired_resources(contracts, view_grants(grants, contracts))
    live = {("table", TABLE): {"grants": {"meshkit_reader_bi": ["city", "id"]}}}
    assert grant_states(grants, desired, live) == [
        {"id": 1, "state": "applied"},
        {"id": 2, "state": "removed"},
        {"id": 3, "state": "pending"},
    ]
    live = {("table", TABLE): {"grants": {"meshkit_reader_gone": ["email"]}}}
    assert grant_states(grants[1:2], desired, live) == [{"id": 2, "state": "pending"}]


def test_the_plan_file_carries_the_grants() -> None:
    plan = Plan(["customers"], "h", [], {}, {}, [_grant(7).to_json()])
    again = Plan.from_json(plan.to_json())
    assert [AccessGrant.from_json(g) for g in again.grants] == [_grant(7)]
    older = plan.to_json()
    del older["grants"]
    assert Plan.from_json(older).grants == []


def test_registry_without_a_token_or_answer_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MESHKIT_REGISTRY_TOKEN", raising=False)
    args = ["plan", "--domains", str(DOMAINS), "--registry", "http://127.0.0.1:9"]
    assert run(app, args, prog_name="meshkit-platform") == 1
    err = capsys.readouterr().err
    assert (
        "--registry needs a platform-admin token of the registry in MESHKIT_REGISTRY_TOKEN" in err
    )
    assert "Traceback" not in err

    monkeypatch.setenv("MESHKIT_REGISTRY_TOKEN", "mkr_x_y")
    assert run(app, args, prog_name="meshkit-platform") == 1
    err = capsys.readouterr().err
    assert "the registry at http://127.0.0.1:9 did not answer GET /v1/grants" in err
    assert "Traceback" not in err


def test_active_topic_grants_add_their_groups_acl_and_a_bad_group_is_refused_by_id() -> None:
    contracts = load_domains(DOMAINS)
    grants = [
        _grant(1, kind="kafka_topic", grantee="billing"),
        _grant(2, kind="kafka_topic", grantee="billing"),  # twice: one ACL
        _grant(3, kind="kafka_topic", grantee="gone", active=False),
        _grant(4, kind="kafka_topic", address="orders.order.v1", grantee="other"),
    ]
    assert reader_grants(grants, contracts) == {"kafka_topic": {ADDRESS: ["billing"]}}
    wanted = desired_resources(contracts, None, reader_grants(grants, contracts))
    assert [r.name for r in wanted if r.kind == "acl"] == [f"{ADDRESS} User:meshkit_reader_billing"]
    with pytest.raises(ProvisioningError, match=r"registry grant 9 on customers\.profile\.v1"):
        reader_grants([_grant(9, kind="kafka_topic", grantee="Bad-Group")], contracts)
