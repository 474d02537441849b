"""Provisioning: plan and apply every domain's output ports from the live state.

Desired state comes from the domains' contracts (``desired``), as resources
(``resources``) of six backends, one module each: Kafka topics and ACLs (``kafka``),
the DuckDB warehouse (``warehouse``) or BigQuery datasets, tables, policy tags and table
bindings (``bigquery``), search indices and aliases (``search``), PostgreSQL
serving-view tables (``views``), CDC publications and slots (``cdc``). ``plan``
compares them with what the systems hold now (no state file: meshkit's resources are
known by their markers) and ``apply`` carries out a saved plan. ``targets`` says where
to connect; ``terraform`` writes the cloud resources as Terraform JSON instead. Guide:
``docs/provisioning.md``.
"""

from meshkit_platform.provisioning.apply import ApplyReport, apply_plan
from meshkit_platform.provisioning.desired import DomainContract, desired_resources, load_domains
from meshkit_platform.provisioning.errors import (
    ApplyError,
    DestroyRefusedError,
    ProvisioningError,
    StalePlanError,
)
from meshkit_platform.provisioning.plan import Backend, Plan, make_plan, render
from meshkit_platform.provisioning.resources import Change, Resource
from meshkit_platform.provisioning.targets import Targets

__all__ = [
    "ApplyError",
    "ApplyReport",
    "Backend",
    "Change",
    "DestroyRefusedError",
    "DomainContract",
    "Plan",
    "ProvisioningError",
    "Resource",
    "StalePlanError",
    "Targets",
    "apply_plan",
    "desired_resources",
    "load_domains",
    "make_plan",
    "render",
]
