"""Two domains as two code locations: both load, and the graph has the cross-domain edge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import instance_for_test
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from tests.sdk.batch.conftest import FIXTURES

CUSTOMER = dg.AssetKey(["customers", "customer", "v1"])
ORDER_FACTS = dg.AssetKey(["orders", "order_facts", "v1"])


@pytest.mark.slow
def test_workspace_of_two_domains_shows_the_cross_domain_edge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FIXTURES)
    with (
        instance_for_test() as instance,
        WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=["workspace.yaml"])) as ctx,
    ):
        request = ctx.create_request_context()
        for location in ("customers", "orders"):
            assert request.get_code_location_error(location) is None
        graph = request.asset_graph
        facts = graph.get(ORDER_FACTS)
        assert facts.parent_keys == {CUSTOMER, dg.AssetKey(["orders", "cdc", "public", "orders"])}
        customer = graph.get(CUSTOMER)
        # one node: the customers domain's materialisable asset, which orders reads
        assert customer.is_materializable
        assert ORDER_FACTS in customer.child_keys
        assert graph.get_repository_handle(CUSTOMER).location_name == "customers"
        assert customer.group_name == "customers"
        assert facts.group_name == "orders"


@pytest.mark.slow
def test_dagster_definitions_validate_passes_for_both_domains(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("MESHKIT_MASTER_KEY", None)  # loading definitions needs no secrets
    done = subprocess.run(
        [Path(sys.executable).parent / "dagster", "definitions", "validate", "-w",
         str(FIXTURES / "workspace.yaml")],
        capture_output=True, text=True, env=env, cwd=FIXTURES, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "Validation successful for code location customers" in output
    assert "Validation successful for code location orders" in output
