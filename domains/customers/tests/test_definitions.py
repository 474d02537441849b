"""The Dagster definitions load, the asset graph is the one we expect, and the erasure
sensor is wired in.

A change to the graph (a renamed product, a new input) shows up here as a diff.
"""

import dagster as dg

from customers.definitions import defs


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == sorted(
        [
            "customers/cdc/public/customers",
            "customers/customer/v1",
        ]
    )


def test_product_metadata_comes_from_the_contract():
    spec = defs.resolve_asset_graph().get(
        dg.AssetKey(["customers", "customer", "v1"]),
    )
    assert spec.group_name == "customers"
    assert spec.tags["meshkit/pii"] == "true"


def test_the_erasure_sensor_is_wired_in():
    """The registry's erasure requests for this domain's products are carried out here."""
    assert [s.name for s in defs.sensors or []] == ["meshkit_erasure"]
