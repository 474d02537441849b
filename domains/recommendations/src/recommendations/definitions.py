"""The Dagster definitions of the Recommendations domain, built from its contracts.

`dagster dev` (in the repository root) finds them through `[tool.dagster]` in pyproject.toml.
The erasure sensor carries out the registry's erasure requests for this domain's products
(it needs MESHKIT_REGISTRY_URL and MESHKIT_REGISTRY_TOKEN; see meshkit's docs/privacy.md).
"""

from pathlib import Path

import dagster as dg
from meshkit.batch import build_definitions, current_environment
from meshkit.batch.resources import DuckDBWarehouse
from meshkit.erasure.sensor import erasure_sensor

from recommendations import defs

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"

# This domain's production warehouse is DuckDB too: in production (MESHKIT_ENV=prod) the
# file comes from MESHKIT_DUCKDB_PATH instead of BigQuery settings.
RESOURCES = (
    {"meshkit_warehouse": DuckDBWarehouse(database=dg.EnvVar("MESHKIT_DUCKDB_PATH"))}
    if current_environment() == "prod"
    else None
)

defs = build_definitions(
    CONTRACTS,
    defs.modules(),
    resources=RESOURCES,
    sensors=[erasure_sensor("recommendations", CONTRACTS)],
)
