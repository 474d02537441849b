"""Declarative flows: a product whose contract maps one CDC input gets its dataflow for free.

``build_flow(contract, settings)`` returns a Bytewax ``Dataflow``::

    Kafka (the mapping's input port, batches per poll)
      → parse → map (projection, renames, casts, filter) → validate → mask → PII guard
      → the product's output ports (Kafka topic, warehouse, search index, serving view)
      + the dead-letter port, through ``PortSink``

Run it with Bytewax's own runner on the generic entry point, the contract named by an
environment variable (no code)::

    MESHKIT_STREAMING_CONTRACT=contracts/customer.yaml \\
    MESHKIT_STREAMING_BROKERS=127.0.0.1:9092 \\
    MESHKIT_STREAMING_WAREHOUSE=warehouse.duckdb \\
    python -m bytewax.run meshkit.streaming.declarative:flow -r rec -s 5

Settings (``StreamingSettings``, environment prefix ``MESHKIT_STREAMING_``) say where
each output port lives; a port the contract declares but no setting locates is an error
(``ConfigError``), so nothing is silently left unwritten. Custom code is needed only for
joins and aggregations (see ``meshkit.streaming.operators``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshkit.contracts import (
    CdcInput,
    Contract,
    KafkaTopic,
    ProductInput,
    SearchIndex,
    ServingView,
    WarehouseTable,
)
from meshkit.errors import ConfigError
from meshkit.ports import PortWriter
from meshkit.privacy import KeyNotFoundError, LocalKeyStore, Masker
from meshkit.streaming.deadletter import DeadLetters, KafkaDeadLetterPort, dead_letter_topic
from meshkit.streaming.operators import process
from meshkit.streaming.pipeline import Pipeline
from meshkit.streaming.sinks import PortSet, PortSink
from meshkit.streaming.sources import KafkaBatchSource


class StreamingSettings(BaseSettings):
    """Where a declarative flow reads and writes (``MESHKIT_STREAMING_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="MESHKIT_STREAMING_", extra="forbid")

    contract: Path | None = None
    brokers: str = "127.0.0.1:9092"
    warehouse: Path | None = None  # DuckDB file of the warehouse port
    view_dsn: str | None = None  # PostgreSQL of the serving view
    search_url: str | None = None  # search server of the search index
    keystore_dir: Path | None = None  # the privacy key store (default: .state/privacy)
    stats_dir: Path | None = None  # counts and latencies, one JSON file per sink partition
    tail: bool = True  # False: stop at the end of the input topics
    batch_size: int = 5000  # messages per poll (one batch through the steps)
    sink_partitions: int = 1
    guard: bool = True  # run the PII guard on free-text fields
    max_value_bytes: int = 1 << 20  # longer text/bytes values are dead-lettered as oversized
    ports: tuple[str, ...] | None = None  # output port kinds to write (default: all declared)


def input_topic(contract: Contract) -> tuple[str, str]:
    """(topic, kind) of the input port the contract's mapping reads."""
    inputs = list(contract.ports.inputs)
    wanted = contract.mapping.from_ if contract.mapping is not None else None
    if wanted is not None:
        inputs = [p for p in inputs if p.port_name == wanted]
    if len(inputs) != 1:
        raise ConfigError(
            f"{contract.id}: a declarative flow reads exactly one input port "
            f"(found {len(inputs)}); name it in mapping.from, or write a custom flow"
        )
    port = inputs[0]
    if isinstance(port, CdcInput):
        return port.name_in(contract), "cdc"
    assert isinstance(port, ProductInput)
    return port.address, "product"


def open_store(settings: StreamingSettings, contract: Contract) -> LocalKeyStore | None:
    """The key store, with the token keys the contract names created when missing."""
    kinds = {f.transform.kind for f in contract.field_index.values() if f.transform}
    if not kinds & {"tokenize", "encrypt"}:
        return None
    store = LocalKeyStore.open(settings.keystore_dir)
    for f in contract.field_index.values():
        if f.transform is not None and f.transform.kind == "tokenize":
            try:
                store.token_key(f.transform.key)
            except KeyNotFoundError:
                store.create_token_key(f.transform.key)
    return store


def port_writers(contract: Contract, settings: StreamingSettings) -> dict[str, PortWriter]:
    """The writers of the contract's output ports, ``ensure``-d, by port kind."""
    from meshkit.ports import (
        DuckDBWarehouseWriter,
        KafkaTopicWriter,
        SearchIndexWriter,
        ServingViewWriter,
    )

    writers: dict[str, PortWriter] = {}
    for port in contract.ports.outputs:
        if settings.ports is not None and port.kind not in settings.ports:
            continue
        writer: PortWriter
        if isinstance(port, KafkaTopic):
            writer = KafkaTopicWriter(settings.brokers, value_format=port.format)
        elif isinstance(port, WarehouseTable):
            writer = DuckDBWarehouseWriter(_need(settings.warehouse, "WAREHOUSE", port.kind))
        elif isinstance(port, ServingView):
            writer = ServingViewWriter(_need(settings.view_dsn, "VIEW_DSN", port.kind))
        elif isinstance(port, SearchIndex):
            from meshkit.local.search import local_search_client

            client = local_search_client(_need(settings.search_url, "SEARCH_URL", port.kind))
            writer = SearchIndexWriter(client, dead_letter=_keep_in_report)
        else:  # pragma: no cover - the contract model has no other kinds
            continue
        writer.ensure(contract)
        writers[port.kind] = writer
    return writers


def _keep_in_report(_letters: list[Any]) -> None:
    """Refused documents stay in the write report; the sink dead-letters them."""


def _need(value: Any, name: str, kind: str) -> Any:
    if value is None:
        raise ConfigError(
            f"the contract declares a {kind} port but MESHKIT_STREAMING_{name} is not set"
        )
    return value


def build_flow(
    contract: Contract,
    settings: StreamingSettings,
    *,
    open_ports: Callable[[], PortSet] | None = None,
    flow_id: str | None = None,
) -> Dataflow:
    """The whole dataflow of a contract with a mapping (see the module docstring)."""
    topic, kind = input_topic(contract)
    masker = Masker.from_contract(contract, store=open_store(settings, contract))
    pipeline = Pipeline(
        contract,
        masker,
        guard=settings.guard,
        source=kind,  # type: ignore[arg-type]
        max_value_bytes=settings.max_value_bytes,
    )

    def default_ports() -> PortSet:
        letters = KafkaDeadLetterPort(settings.brokers, dead_letter_topic(contract))
        letters.ensure()
        return PortSet(
            port_writers(contract, settings), letters, DeadLetters(contract, masker=masker)
        )

    flow = Dataflow(flow_id or contract.address.replace(".", "_"))
    source = KafkaBatchSource(
        settings.brokers, [topic], tail=settings.tail, batch_size=settings.batch_size
    )
    batches = op.input("input", flow, source)
    routed = process("process", batches, pipeline)
    sink = PortSink(
        open_ports or default_ports,
        partitions=settings.sink_partitions,
        stats_dir=settings.stats_dir,
    )
    op.output("ports", routed, sink)
    return flow
