"""The domain's Dagster code, one module per topic (assets, schedules, sensors...)."""

from types import ModuleType


def modules() -> list[ModuleType]:
    """The modules whose assets `definitions.py` collects."""
    # No batch assets yet: the streamed product appears in Dagster as an external asset.
    return []
