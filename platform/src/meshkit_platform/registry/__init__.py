"""The registry: the central catalog of data products.

Modules, one topic each: ``db`` (tables), ``migrate`` and ``migrations/`` (Alembic),
``schemas`` (API models), ``auth`` (tokens and roles), ``audit`` (hash-chained log),
``publish`` (the compatibility gate and registration), ``catalog`` (product, search,
domains), ``lineage`` (the product graph), ``runs`` (OpenLineage run events, freshness),
``exports`` (ODCS per port, Backstage), ``api`` (the FastAPI app), ``settings`` and
``cli`` (``meshkit-platform registry …``). See ``docs/registry.md``.
"""

from meshkit_platform.registry.api import create_app
from meshkit_platform.registry.settings import RegistrySettings

__all__ = ["RegistrySettings", "create_app"]
