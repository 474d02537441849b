"""The Dagster definitions load, the asset graph is the one we expect, and the erasure
sensor is wired in.

A change to the graph (a renamed product, a new input) shows up here as a diff.
"""

import dagster as dg

from catalog.definitions import defs


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == sorted(
        [
            "catalog/cdc/public/products",
            "catalog/product/v1",
        ]
    )


def test_product_metadata_comes_from_the_contract():
    spec = defs.resolve_asset_graph().get(
        dg.AssetKey(["catalog", "product", "v1"]),
    )
    assert spec.group_name == "catalog"
    assert spec.tags["meshkit/pii"] == "false"  # the catalogue holds no personal data


def test_the_erasure_sensor_is_wired_in():
    """The registry's erasure requests for this domain's products are carried out here."""
    assert [s.name for s in defs.sensors or []] == ["meshkit_erasure"]
