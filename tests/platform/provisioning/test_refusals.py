"""Reader groups that cannot name a PostgreSQL role are refused at plan time, naming the
contract file or the registry grant; the longest name that fits plans, applies and re-plans
to no change (PostgreSQL cuts longer role names, which would drift on every plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshkit.cli.failures import run
from meshkit_platform.cli import app
from meshkit_platform.provisioning import Targets, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import AccessGrant
from meshkit_platform.provisioning.plan import Backend

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_plan_refuses_a_contract_reader_group_that_cannot_name_a_role(
    domain: str, write_contract: Any, domains_dir: Path, targets: Targets,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = write_contract(domain, "item", readers=("Sales-Team",))
    args = [
        "plan", "--domains", str(domains_dir), "--kafka", str(targets.kafka),
        "--warehouse", str(targets.warehouse), "--search", str(targets.search),
        "--postgres", str(targets.postgres),
    ]  # fmt: skip
    code = run(app, args, prog_name="meshkit-platform")
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{path}: access.readers: reader group 'Sales-Team' cannot name a database role" in (
        out + err
    )
    assert "Traceback" not in out + err


def test_the_longest_reader_group_applies_and_replans_to_no_change_one_longer_is_refused(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    longest = "g" * 48  # role meshkit_reader_<48> is PostgreSQL's 63 characters
    write_contract(domain, "item", readers=(longest,))
    apply_plan(make_plan(load_domains(domains_dir), backends), backends)
    assert make_plan(load_domains(domains_dir), backends).pending == []

    path = write_contract(domain, "item", readers=(longest + "g",))
    with pytest.raises(ProvisioningError) as refused:
        load_domains(domains_dir)
    assert f"{path}: access.readers: reader group" in str(refused.value)
    assert "at most 48 characters" in str(refused.value)


def test_a_registry_grant_to_a_group_that_cannot_name_a_role_is_refused_with_its_id(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend]
) -> None:
    write_contract(domain, "item")
    bad = AccessGrant(
        id=41, address=f"{domain}.item.v1", grantee="x" * 49, port_kind="serving_view",
        columns=("id",), active=True,
    )  # fmt: skip
    with pytest.raises(ProvisioningError) as refused:
        make_plan(load_domains(domains_dir), backends, [bad])
    assert f"registry grant 41 on {domain}.item.v1: reader group" in str(refused.value)
    # a revoked grant is no longer desired, so it needs no role and plans as before
    revoked = AccessGrant(**{**bad.to_json(), "columns": ("id",), "active": False})
    assert make_plan(load_domains(domains_dir), backends, [revoked]).pending
