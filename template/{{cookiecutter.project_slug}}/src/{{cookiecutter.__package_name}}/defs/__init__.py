"""The domain's Dagster code, one module per topic (assets, schedules, sensors...)."""

from types import ModuleType


def modules() -> list[ModuleType]:
    """The modules whose assets `definitions.py` collects."""
{%- if cookiecutter.__batch == 'yes' %}
    from {{ cookiecutter.__package_name }}.defs import assets

    return [assets]
{%- else %}
    # No batch assets yet: the streamed product appears in Dagster as an external asset.
    return []
{%- endif %}
