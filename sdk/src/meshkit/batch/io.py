"""meshkit's I/O manager: validate → mask → write, and read tables back as inputs.

For the output of a product asset (one made by ``product_asset``) it

1. turns the returned value into an Arrow table (``pyarrow.Table``, anything with
   ``to_arrow()`` or the Arrow stream protocol, a pandas ``DataFrame``, a list of dicts);
2. validates it against the contract (:func:`meshkit.batch.validate.conform`); a table
   that breaks the contract is not written and the step fails with a message naming
   every column and the first rows at fault;
3. evaluates, on that table, the quality rules no port can evaluate after the privacy
   transform (:func:`meshkit.batch.checks.pre_transform_outcomes`: a rule on a redacted,
   masked, generalized, encrypted or dropped field), for the asset checks to report;
4. applies the contract's privacy transforms to the whole table (``meshkit.privacy``'s
   vectorised batch path);
5. creates or evolves the warehouse table from the contract, then replaces the rows of
   the partition being materialised (a time-partitioned asset) or of the whole table;
6. adds ``dagster/row_count``, ``dagster/table_name``, the partition and the outcomes of
   step 3 (``meshkit/pre_transform_checks``) to the materialisation, and reports the run
   to the registry as OpenLineage events when one is configured
   (:mod:`meshkit.batch.reporting`).

Inputs (a product of the same domain, another domain's product, a raw CDC table) are
read from the warehouse table named by the upstream asset's ``dagster/table_name``
metadata or, failing that, by meshkit's key convention (:mod:`meshkit.batch.inputs`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import dagster as dg
import pyarrow as pa

from meshkit.batch.assets import contract_from_metadata, warehouse_table
from meshkit.batch.checks import PRE_TRANSFORM, pre_transform_outcomes
from meshkit.batch.inputs import TABLE_NAME, table_of
from meshkit.batch.reporting import RegistryReporter
from meshkit.batch.resources import KEYS_KEY, REGISTRY_KEY, WAREHOUSE_KEY, KeyStoreResource
from meshkit.batch.schema import arrow_schema
from meshkit.batch.validate import ContractViolationError, PartitionWindow, conform
from meshkit.contracts import Contract, Tokenize, WarehouseTable
from meshkit.errors import ConfigError
from meshkit.lineage import LineageJob
from meshkit.lineage import dataset as lineage_dataset
from meshkit.privacy import KeyNotFoundError, Masker


def to_arrow(obj: Any, contract: Contract) -> pa.Table:
    """The value an asset returned, as an Arrow table (``ConfigError`` if it cannot be)."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, list):
        try:
            return pa.Table.from_pylist(obj, schema=arrow_schema(contract))
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, TypeError):
            return pa.Table.from_pylist(obj)  # conform() then names what does not fit
    if hasattr(obj, "to_arrow"):
        return pa.table(obj.to_arrow())
    if hasattr(obj, "__arrow_c_stream__"):
        return pa.table(obj)
    module = type(obj).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(obj, preserve_index=False)
    raise ConfigError(
        f"{contract.address}: the asset returned a {type(obj).__name__}; return a "
        "pyarrow.Table, a pandas or polars DataFrame, or a list of dicts"
    )


def partition_window(context: dg.OutputContext, contract: Contract) -> PartitionWindow | None:
    """The rows a partitioned materialisation replaces (None: the whole table)."""
    if not context.has_asset_partitions:
        return None
    port = next((p for p in contract.ports.outputs if isinstance(p, WarehouseTable)), None)
    if port is None or port.partitioning is None:
        raise ConfigError(
            f"{contract.address}: the asset is partitioned but the contract's warehouse_table "
            "port declares no partitioning (ports.outputs[kind=warehouse_table].partitioning)"
        )
    try:
        window = context.asset_partitions_time_window
    except Exception as exc:
        raise ConfigError(
            f"{contract.address}: meshkit replaces partitions by time window; use time "
            f"partitions (meshkit.batch.partitions_for) for this asset ({exc})"
        ) from None
    return PartitionWindow(port.partitioning.field, window.start, window.end)


def _ensure_keys(contract: Contract, keys: KeyStoreResource, store: Any) -> None:
    if not keys.create_missing_keys:
        return
    for spec in contract.field_index.values():
        if isinstance(spec.transform, Tokenize):
            try:
                store.token_key(spec.transform.key)
            except KeyNotFoundError:
                store.create_token_key(spec.transform.key)


def _needs_keys(contract: Contract) -> bool:
    return any(
        s.transform is not None and s.transform.kind in {"tokenize", "encrypt"}
        for s in contract.field_index.values()
    )


class MeshkitIOManager(dg.IOManager):
    """See the module docstring. Built by the ``meshkit_io_manager`` resource definition."""

    def __init__(self, warehouse: Any, keys: KeyStoreResource, registry: RegistryReporter) -> None:
        self.warehouse = warehouse
        self.keys = keys
        self.registry = registry

    def mask(self, contract: Contract, table: pa.Table) -> pa.Table:
        """The table with the contract's privacy transforms applied."""
        if not _needs_keys(contract):
            return Masker.from_contract(contract).mask_table(table)
        with self.keys.open() as store:
            _ensure_keys(contract, self.keys, store)
            return Masker.from_contract(contract, store=store).mask_table(table)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        contract = contract_from_metadata(context.definition_metadata or {})
        if contract is None:
            raise ConfigError(
                f"asset {context.asset_key.to_user_string()} uses meshkit's I/O manager but "
                "is not bound to a contract; declare it with @product_asset(contract)"
            )
        started = time.perf_counter()
        window = partition_window(context, contract)
        try:
            table = conform(contract, to_arrow(obj, contract), partition=window)
        except ContractViolationError as exc:
            raise dg.Failure(
                description=str(exc),
                metadata={
                    "columns": ", ".join(exc.columns),
                    "violations": dg.MetadataValue.md("\n".join(f"- {v}" for v in exc.violations)),
                },
                allow_retries=False,
            ) from exc
        before_transform = pre_transform_outcomes(contract, table)
        masked = self.mask(contract, table)
        with self.warehouse.session() as session:
            session.ensure(contract)
            rows = session.replace(contract, masked, window)
        dataset, name = warehouse_table(contract)
        seconds = time.perf_counter() - started
        partition = context.asset_partition_key if context.has_asset_partitions else None
        metadata: dict[str, Any] = {
            "dagster/row_count": rows,
            TABLE_NAME: f"{dataset}.{name}",
            "meshkit/contract_version": contract.version,
            "meshkit/write_seconds": round(seconds, 3),
        }
        if partition is not None:
            metadata["meshkit/partition"] = partition
        if before_transform is not None:
            metadata[PRE_TRANSFORM] = dg.MetadataValue.json(before_transform)
        context.add_output_metadata(metadata)
        asset = context.asset_key.to_user_string()
        personal = [f.name for f in contract.fields if f.pii is not None]
        self.registry.run_events(
            LineageJob(
                asset,
                namespace=contract.domain,
                integration="DAGSTER",
                outputs=[lineage_dataset("meshkit", contract.address, personal_fields=personal)],
                # one run per asset of a Dagster run (the registry keys runs by run id)
                run_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{context.run_id}/{asset}")),
            ),
            rows=rows,
        )

    def load_input(self, context: dg.InputContext) -> pa.Table:
        key = context.asset_key
        name = None
        if context.upstream_output is not None:
            name = (context.upstream_output.definition_metadata or {}).get(TABLE_NAME)
        if isinstance(name, dg.MetadataValue):
            name = name.value
        dataset, table = str(name).split(".", 1) if name else table_of(key)
        with self.warehouse.session() as session:
            if not session.columns(dataset, table):
                raise ConfigError(
                    f"input {key.to_user_string()}: table {dataset}.{table} does not exist in "
                    "the warehouse yet; materialise (or land) it first"
                )
            result: pa.Table = session.read(dataset, table, _input_window(context))
            return result


def _input_window(context: dg.InputContext) -> PartitionWindow | None:
    """The rows of the upstream product a partitioned run needs: the input's time window
    on the upstream contract's partition field (None: the whole table)."""
    if not context.has_asset_partitions or context.upstream_output is None:
        return None
    upstream = contract_from_metadata(context.upstream_output.definition_metadata or {})
    port = (
        None
        if upstream is None
        else next((p for p in upstream.ports.outputs if isinstance(p, WarehouseTable)), None)
    )
    if port is None or port.partitioning is None:
        return None
    try:
        window = context.asset_partitions_time_window
    except Exception:  # not time partitions: the whole table
        return None
    return PartitionWindow(port.partitioning.field, window.start, window.end)


@dg.io_manager(required_resource_keys={WAREHOUSE_KEY, KEYS_KEY, REGISTRY_KEY})
def meshkit_io_manager(init_context: dg.InitResourceContext) -> MeshkitIOManager:
    """meshkit's I/O manager on the warehouse, key store and registry resources."""
    resources = init_context.resources
    return MeshkitIOManager(
        getattr(resources, WAREHOUSE_KEY),
        getattr(resources, KEYS_KEY),
        getattr(resources, REGISTRY_KEY),
    )
