"""The domain's Dagster code, one module per topic (assets, schedules, sensors...)."""

from types import ModuleType


def modules() -> list[ModuleType]:
    """The modules whose assets `definitions.py` collects."""
    from orders.defs import assets

    return [assets]
