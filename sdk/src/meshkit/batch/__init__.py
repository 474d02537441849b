"""meshkit.batch: Dagster assets as governed data products.

- ``product_asset`` binds an asset to its contract (key, group, owners, tags, column
  schema, freshness policy);
- ``build_definitions`` builds a domain's ``Definitions`` from its contracts and code;
- the I/O manager validates, masks and writes each product table (DuckDB locally,
  BigQuery in production), replacing only the materialised partition;
- ``product_checks`` generates asset checks from the contract's quality rules, schema
  and the PII scanner;
- input ports appear as external assets with the producer's keys (cross-domain lineage);
- ``resources_for`` picks the resources of ``MESHKIT_ENV`` (local or prod).

See docs/batch.md.
"""

from meshkit.batch.assets import contract_of, load_contracts, partitions_for, product_asset
from meshkit.batch.checks import product_checks
from meshkit.batch.definitions import build_definitions
from meshkit.batch.environment import ENV_VAR, Environment, current_environment
from meshkit.batch.inputs import IO_MANAGER_KEY, input_key, input_specs, product_key
from meshkit.batch.io import MeshkitIOManager, meshkit_io_manager
from meshkit.batch.reporting import RegistryReporter
from meshkit.batch.resources import (
    BigQueryWarehouse,
    DuckDBWarehouse,
    KeyStoreResource,
    local_resources,
    prod_resources,
    resources_for,
)
from meshkit.batch.validate import ContractViolationError, Violation, conform
from meshkit.contracts.loader import load_contract

__all__ = [
    "ENV_VAR",
    "IO_MANAGER_KEY",
    "BigQueryWarehouse",
    "ContractViolationError",
    "DuckDBWarehouse",
    "Environment",
    "KeyStoreResource",
    "MeshkitIOManager",
    "RegistryReporter",
    "Violation",
    "build_definitions",
    "conform",
    "contract_of",
    "current_environment",
    "input_key",
    "input_specs",
    "load_contract",
    "load_contracts",
    "local_resources",
    "meshkit_io_manager",
    "partitions_for",
    "prod_resources",
    "product_asset",
    "product_checks",
    "product_key",
    "resources_for",
]
