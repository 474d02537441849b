"""Input ports as upstream assets: raw CDC tables and other domains' products.

Every input port of a contract becomes an external ``AssetSpec`` whose key is the one the
*producing* side uses, so Dagster draws the edge even when producer and consumer live in
different code locations (or different repositories): the consumer declares the
producer's key, and a workspace loading both shows one graph.

Keys (the asset key convention of meshkit):

- a data product ``<domain>.<product>.v<major>`` → ``[domain, product, "v<major>"]``,
  table ``<domain>.<product>_v<major>`` (see ``meshkit.contracts.ports``);
- a CDC input (``<domain>.cdc.<schema>.<table>`` on Kafka) → ``[domain, "cdc", schema,
  table]``, landed by streaming as table ``<domain>.cdc_<schema>_<table>``.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from meshkit.contracts import CdcInput, Contract, InputPort, ProductInput

IO_MANAGER_KEY = "meshkit_io_manager"
"""The resource key of meshkit's I/O manager (product assets write and read through it)."""
TABLE_NAME = "dagster/table_name"


def product_key(contract: Contract) -> dg.AssetKey:
    """The asset key of a product: ``[domain, product, "v<major>"]``."""
    return dg.AssetKey([contract.domain, contract.name, f"v{contract.major}"])


def input_key(port: InputPort, contract: Contract) -> dg.AssetKey:
    """The asset key of what an input port reads (the producer's key)."""
    if isinstance(port, ProductInput):
        domain, product = port.product.split(".")
        return dg.AssetKey([domain, product, f"v{port.major}"])
    return dg.AssetKey([contract.domain, "cdc", port.db_schema, port.table])


def table_of(key: dg.AssetKey) -> tuple[str, str]:
    """``(dataset, table)`` of a meshkit asset key, by the convention above."""
    path = key.path
    if len(path) == 3 and path[2].startswith("v") and path[2][1:].isdigit():
        return path[0], f"{path[1]}_{path[2]}"
    if len(path) == 4 and path[1] == "cdc":
        return path[0], f"cdc_{path[2]}_{path[3]}"
    raise ValueError(
        f"asset key {key.to_user_string()!r} does not follow meshkit's convention "
        "(<domain>/<product>/v<major> or <domain>/cdc/<schema>/<table>)"
    )


def input_spec(port: InputPort, contract: Contract) -> dg.AssetSpec:
    """The external asset of one input port, keyed and grouped as its producer does."""
    key = input_key(port, contract)
    dataset, table = table_of(key)
    if isinstance(port, CdcInput):
        description = (
            f"Raw change events of {port.database}.{port.db_schema}.{port.table}, captured by "
            f"CDC (topic {port.name_in(contract)}) and landed by streaming."
        )
        kind = "cdc"
    else:
        description = f"Data product {port.address}, read through its warehouse port."
        kind = "product"
    return dg.AssetSpec(
        key,
        group_name=key.path[0],
        description=description,
        metadata={TABLE_NAME: f"{dataset}.{table}"},
        tags={"meshkit/input": kind},
        kinds={"meshkit"},
    ).with_io_manager_key(IO_MANAGER_KEY)


def input_specs(
    contracts: Iterable[Contract], *, produced: Iterable[dg.AssetKey] = ()
) -> list[dg.AssetSpec]:
    """External assets for every input port of ``contracts``, once per key.

    Keys in ``produced`` (assets defined in the same ``Definitions``) are left out: they are
    already nodes of the graph.
    """
    skip = set(produced)
    specs: dict[dg.AssetKey, dg.AssetSpec] = {}
    for contract in contracts:
        for port in contract.ports.inputs:
            key = input_key(port, contract)
            if key not in skip and key not in specs:
                specs[key] = input_spec(port, contract)
    return list(specs.values())
