"""The Dagster definitions load, the asset graph is the one we expect, and the erasure
sensor is wired in.

The recommendation product lives in a serving view, not in the warehouse, so it is no
Dagster asset; what Dagster shows of this domain is what it reads (the other domains'
products its input ports name). A change to the graph shows up here as a diff.
"""

from recommendations.definitions import defs


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == ["catalog/product/v1", "orders/order/v1"]


def test_the_erasure_sensor_is_wired_in():
    """The registry's erasure requests for this domain's products are carried out here."""
    assert [s.name for s in defs.sensors or []] == ["meshkit_erasure"]
