"""The example domains as two code locations (domains/workspace.yaml): both load, and the
asset graph has the cross-domain edge from the customers' product to the orders' batch
product."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.test_utils import instance_for_test
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from tests.template.conftest import ROOT

CUSTOMER = dg.AssetKey(["customers", "customer", "v1"])
ORDER = dg.AssetKey(["orders", "order", "v1"])
ORDER_DAILY = dg.AssetKey(["orders", "order_daily", "v1"])


@pytest.mark.slow
def test_workspace_of_the_example_domains_shows_the_cross_domain_edge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT / "domains")  # as `cd domains && dagster dev` does
    with (
        instance_for_test() as instance,
        WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=["workspace.yaml"])) as ctx,
    ):
        request = ctx.create_request_context()
        for location in ("catalog", "customers", "orders", "recommendations"):
            assert request.get_code_location_error(location) is None, location
        graph = request.asset_graph
        assert graph.get(ORDER_DAILY).parent_keys == {CUSTOMER, ORDER}
        # streamed products hang off the raw CDC tables their flows read
        assert graph.get(CUSTOMER).parent_keys == {
            dg.AssetKey(["customers", "cdc", "public", "customers"])
        }
        assert graph.get(ORDER).parent_keys == {dg.AssetKey(["orders", "cdc", "public", "orders"])}
        assert ORDER_DAILY in graph.get(CUSTOMER).child_keys
        assert graph.get(ORDER_DAILY).group_name == "orders"
        assert graph.get(CUSTOMER).group_name == "customers"
