"""The Dagster definitions load, the asset graph is the one we expect, and the erasure
sensor is wired in.

A change to the graph (a renamed product, a new input) shows up here as a diff.
"""

import dagster as dg

from {{ cookiecutter.__package_name }}.definitions import defs


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == sorted(
        [
            "{{ cookiecutter.__domain }}/cdc/public/{{ cookiecutter.source_table }}",
            "{{ cookiecutter.__domain }}/{{ cookiecutter.product_name }}/v1",
{%- if cookiecutter.parts == 'both' %}
            "{{ cookiecutter.__domain }}/{{ cookiecutter.product_name }}_daily/v1",
{%- endif %}
        ]
    )


def test_product_metadata_comes_from_the_contract():
    spec = defs.resolve_asset_graph().get(
        dg.AssetKey(["{{ cookiecutter.__domain }}", "{{ cookiecutter.product_name }}", "v1"]),
    )
    assert spec.group_name == "{{ cookiecutter.__domain }}"
    assert spec.tags["meshkit/pii"] == "true"


def test_the_erasure_sensor_is_wired_in():
    """The registry's erasure requests for this domain's products are carried out here."""
    assert [s.name for s in defs.sensors or []] == ["meshkit_erasure"]
