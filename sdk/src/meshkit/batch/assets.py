"""Product assets: a Dagster asset bound to a data-product contract.

``@product_asset(contract)`` turns a function returning a table into a governed data
product::

    from meshkit.batch import product_asset

    @product_asset(CONTRACTS / "order_facts.yaml")
    def order_facts(orders: pa.Table, customers: pa.Table) -> pa.Table:
        ...

From the contract it takes the asset key (``[domain, product, "v<major>"]``), the group
(the domain), the owners (``team:<team>`` and the contact), the description, tags
(``meshkit/pii``, ``meshkit/classification``, one ``meshkit/pii-<category>`` per kind of
personal data), the column schema (``dagster/column_schema``, as published), the
warehouse table name and the freshness policy (from ``slo.freshness``). Parameters named
after an input port of the contract receive that port's table; the other input ports
become dependencies, so the lineage is complete either way. The function returns a
``pyarrow.Table``, a pandas ``DataFrame`` or a list of dicts; meshkit's I/O manager
validates, masks and writes it (see :mod:`meshkit.batch.io`).
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from meshkit.batch.environment import current_environment
from meshkit.batch.inputs import IO_MANAGER_KEY, TABLE_NAME, input_key, product_key
from meshkit.batch.schema import table_schema
from meshkit.contracts import Contract, WarehouseTable
from meshkit.contracts.loader import load_contract
from meshkit.errors import ContractError

CONTRACT_METADATA = "meshkit/contract"
_RANK = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
_GRANULARITY = {
    "hour": ("0 * * * *", "%Y-%m-%d-%H:%M"),
    "day": ("0 0 * * *", "%Y-%m-%d"),
    "month": ("0 0 1 * *", "%Y-%m-%d"),
    "year": ("0 0 1 1 *", "%Y-%m-%d"),
}


def load_contracts(directory: str | Path) -> dict[str, Contract]:
    """Every ``*.yaml``/``*.yml`` contract in ``directory``, by product name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError(f"{directory}: no such contracts directory")
    contracts: dict[str, Contract] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        contract = load_contract(path)
        if contract.name in contracts:
            raise ContractError(f"{path}: product {contract.name!r} is declared twice")
        contracts[contract.name] = contract
    return contracts


def _as_contract(contract: Contract | str | Path) -> Contract:
    return contract if isinstance(contract, Contract) else load_contract(contract)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Contract:
    return Contract.model_validate(json.loads(text))


def contract_metadata(contract: Contract) -> dict[str, Any]:
    """The contract as JSON-able metadata (what ``contract_from_metadata`` reads back)."""
    return contract.model_dump(mode="json", by_alias=True, exclude_none=True)


def contract_from_metadata(metadata: Mapping[str, Any]) -> Contract | None:
    """The contract a product asset carries in its metadata, or None."""
    value = metadata.get(CONTRACT_METADATA)
    if value is None:
        return None
    if isinstance(value, dg.MetadataValue):
        value = value.value
    return _parse(json.dumps(value, sort_keys=True))


def contract_of(assets_def: dg.AssetsDefinition) -> Contract | None:
    """The contract bound to an asset made by ``product_asset`` (None for other assets)."""
    for spec in assets_def.specs:
        found = contract_from_metadata(spec.metadata)
        if found is not None:
            return found
    return None


def warehouse_table(contract: Contract) -> tuple[str, str]:
    """``(dataset, table)`` of a product's warehouse port (by convention if none declared)."""
    port = next((p for p in contract.ports.outputs if isinstance(p, WarehouseTable)), None)
    port = port or WarehouseTable(kind="warehouse_table")
    return port.dataset(contract), port.table(contract)


def product_tags(contract: Contract) -> dict[str, str]:
    """Tags of a product asset: address parts, status, classification and personal data."""
    fields = list(contract.field_index.values())
    top = max((f.classification for f in fields), key=_RANK.__getitem__)
    categories = sorted({f.pii for f in fields if f.pii})
    tags = {
        "meshkit/product": f"{contract.domain}.{contract.name}",
        "meshkit/version": contract.version,
        "meshkit/status": contract.status,
        "meshkit/classification": top,
        "meshkit/pii": "true" if categories else "false",
    }
    tags.update({f"meshkit/pii-{c}": "" for c in categories})
    return tags


def product_spec_kwargs(contract: Contract) -> dict[str, Any]:
    """The ``dg.asset``/``dg.AssetSpec`` keyword arguments a contract determines."""
    dataset, table = warehouse_table(contract)
    warehouse = "duckdb" if current_environment() == "local" else "bigquery"
    kwargs: dict[str, Any] = {
        "key": product_key(contract),
        "group_name": contract.domain,
        "owners": [f"team:{contract.owner.team}", contract.owner.contact],
        "description": contract.description,
        "tags": product_tags(contract),
        "kinds": {"meshkit", warehouse},
        "metadata": {
            "dagster/column_schema": table_schema(contract),
            TABLE_NAME: f"{dataset}.{table}",
            "meshkit/address": contract.address,
            CONTRACT_METADATA: contract_metadata(contract),
        },
    }
    if contract.slo is not None and contract.slo.freshness is not None:
        kwargs["freshness_policy"] = dg.FreshnessPolicy.time_window(
            fail_window=contract.slo.freshness
        )
    return kwargs


def partitions_for(
    contract: Contract | str | Path, *, start: str, end: str | None = None
) -> dg.TimeWindowPartitionsDefinition:
    """Time partitions matching the contract's warehouse partitioning (hour/day/month/year)."""
    c = _as_contract(contract)
    port = next((p for p in c.ports.outputs if isinstance(p, WarehouseTable)), None)
    if port is None or port.partitioning is None:
        raise ContractError(
            f"{c.address}: the contract declares no partitioned warehouse_table port; "
            "add ports.outputs[kind=warehouse_table].partitioning"
        )
    cron, fmt = _GRANULARITY[port.partitioning.granularity]
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=cron, start=start, end=end, fmt=fmt, timezone="UTC"
    )


def product_asset(
    contract: Contract | str | Path,
    *,
    ins: Mapping[str, dg.AssetIn] | None = None,
    deps: list[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    **asset_kwargs: Any,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Decorate a function as the asset of a data product (see the module docstring).

    ``contract`` is a ``Contract`` or the path of its YAML file. ``ins``, ``deps``,
    ``metadata`` and ``tags`` are merged with what the contract gives; every other keyword
    (``partitions_def``, ``automation_condition``, ``retry_policy``, ...) goes to
    ``dagster.asset`` unchanged.
    """
    c = _as_contract(contract)
    base = product_spec_kwargs(c)
    for reserved in ("key", "name", "key_prefix", "group_name", "io_manager_key"):
        if reserved in asset_kwargs:
            raise TypeError(
                f"product_asset: {reserved}= comes from the contract ({c.address}); "
                "change the contract instead"
            )

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        params = set(inspect.signature(fn).parameters)
        all_ins: dict[str, dg.AssetIn] = {}
        all_deps: list[Any] = list(deps or [])
        for port in c.ports.inputs:
            key = input_key(port, c)
            if port.port_name in params:
                all_ins[port.port_name] = dg.AssetIn(key=key, input_manager_key=IO_MANAGER_KEY)
            else:
                all_deps.append(key)
        all_ins.update(ins or {})
        return dg.asset(
            fn,
            **{
                **base,
                "metadata": {**base["metadata"], **(metadata or {})},
                "tags": {**base["tags"], **(tags or {})},
            },
            ins=all_ins or None,
            deps=all_deps or None,
            io_manager_key=IO_MANAGER_KEY,
            **asset_kwargs,
        )

    return decorate
