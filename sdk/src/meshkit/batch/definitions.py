"""One function that builds a domain's ``Definitions`` from its contracts and code.

A domain's ``definitions.py`` stays a few lines::

    from pathlib import Path

    from meshkit.batch import build_definitions
    from orders import defs

    defs = build_definitions(Path(__file__).parents[2] / "contracts", [defs.assets])

It loads every contract in the directory, collects the assets and checks of the given
modules (or takes asset definitions directly), and adds:

- the generated checks of every product asset (:mod:`meshkit.batch.checks`);
- an external asset for every product of the directory with a warehouse port but no
  asset (written by streaming), so batch assets can read it and the graph shows it;
- an external asset for every input port (CDC tables, other domains' products), keyed as
  the producer keys it, so several domains' code locations draw one lineage graph;
- the resources of the environment (:func:`meshkit.batch.resources.resources_for`),
  which ``resources`` entries override or extend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg

from meshkit.batch.assets import contract_of, load_contracts, product_spec_kwargs
from meshkit.batch.checks import product_checks
from meshkit.batch.environment import Environment
from meshkit.batch.inputs import IO_MANAGER_KEY, input_key, input_specs, product_key
from meshkit.batch.resources import resources_for
from meshkit.contracts import Contract, WarehouseTable

AssetLike = dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset


def _collect(
    items: Iterable[ModuleType | AssetLike | dg.AssetChecksDefinition],
) -> tuple[list[AssetLike], list[dg.AssetChecksDefinition]]:
    assets: list[AssetLike] = []
    checks: list[dg.AssetChecksDefinition] = []
    for item in items:
        if isinstance(item, ModuleType):
            assets.extend(dg.load_assets_from_modules([item]))  # type: ignore[arg-type]
            checks.extend(dg.load_asset_checks_from_modules([item]))
        elif isinstance(item, dg.AssetChecksDefinition):
            checks.append(item)
        else:
            assets.append(item)
    return assets, checks


def _keys(asset: AssetLike) -> set[dg.AssetKey]:
    if isinstance(asset, dg.AssetsDefinition):
        return set(asset.keys)
    return {asset.key}


def streamed_product_spec(contract: Contract) -> dg.AssetSpec:
    """The external asset of a product written by streaming (no Dagster asset computes it)."""
    kwargs = product_spec_kwargs(contract)
    description = kwargs.pop("description") or ""
    kwargs.pop("freshness_policy", None)
    return dg.AssetSpec(
        description=(description + " " if description else "")
        + "Written by the domain's streaming dataflow.",
        # the flow reads its input ports: the lineage from raw CDC table to product
        deps=[input_key(port, contract) for port in contract.ports.inputs],
        **kwargs,
    ).with_io_manager_key(IO_MANAGER_KEY)


def build_definitions(
    contracts_dir: str | Path,
    modules_or_assets: Iterable[ModuleType | AssetLike | dg.AssetChecksDefinition] = (),
    *,
    schedules: Iterable[Any] = (),
    sensors: Iterable[dg.SensorDefinition] = (),
    jobs: Iterable[Any] = (),
    resources: Mapping[str, Any] | None = None,
    environment: Environment | None = None,
) -> dg.Definitions:
    """A domain's ``Definitions`` (see the module docstring)."""
    contracts = load_contracts(contracts_dir)
    assets, checks = _collect(modules_or_assets)
    produced: set[dg.AssetKey] = set()
    for asset in assets:
        produced |= _keys(asset)
    bound: list[Contract] = []
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition):
            contract = contract_of(asset)
            if contract is not None:
                bound.append(contract)
                checks.append(product_checks(asset))
    streamed = [
        streamed_product_spec(c)
        for c in contracts.values()
        if product_key(c) not in produced
        and any(isinstance(p, WarehouseTable) for p in c.ports.outputs)
    ]
    produced |= {s.key for s in streamed}
    inputs = input_specs([*contracts.values(), *bound], produced=produced)
    return dg.Definitions(
        assets=[*assets, *streamed, *inputs],
        asset_checks=checks,
        schedules=list(schedules),
        sensors=list(sensors),
        jobs=list(jobs),
        resources=resources_for(environment, overrides=resources),
    )
