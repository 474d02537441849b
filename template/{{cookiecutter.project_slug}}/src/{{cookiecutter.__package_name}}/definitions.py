"""The Dagster definitions of the {{ cookiecutter.domain_name }} domain, built from its contracts.

`dagster dev` (in the repository root) finds them through `[tool.dagster]` in pyproject.toml.
The erasure sensor carries out the registry's erasure requests for this domain's products
(it needs MESHKIT_REGISTRY_URL and MESHKIT_REGISTRY_TOKEN; see meshkit's docs/privacy.md).
"""

from pathlib import Path

{% if cookiecutter.warehouse == 'duckdb' -%}
import dagster as dg
{% endif -%}
from meshkit.batch import build_definitions{% if cookiecutter.warehouse == 'duckdb' %}, current_environment{% endif %}
{%- if cookiecutter.warehouse == 'duckdb' %}
from meshkit.batch.resources import DuckDBWarehouse
{%- endif %}
from meshkit.erasure.sensor import erasure_sensor

from {{ cookiecutter.__package_name }} import defs

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
{%- if cookiecutter.warehouse == 'duckdb' %}

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
    sensors=[erasure_sensor("{{ cookiecutter.__domain }}", CONTRACTS)],
)
{%- else %}

# Locally (MESHKIT_ENV=local, the default) the warehouse is a DuckDB file; in production
# (MESHKIT_ENV=prod) it is BigQuery, configured by MESHKIT_BIGQUERY_PROJECT and friends.
defs = build_definitions(
    CONTRACTS,
    defs.modules(),
    sensors=[erasure_sensor("{{ cookiecutter.__domain }}", CONTRACTS)],
)
{%- endif %}
