"""Declarative flows: a product whose contract maps one CDC input gets its dataflow for free.

``build_flow(contract, settings)`` returns a Bytewax ``Dataflow``::

    Kafka (the mapping's input port, batches per poll)
      → parse → map (projection, renames, casts, filter) → validate → mask → PII guard
      → the product's output ports (Kafka topic, warehouse, search index, serving view)
      + the dead-letter port, through ``PortSink``

Run it with Bytewax's own runner on the generic entry point, the contract named by an
environment variable (no code)::

    MESHKIT_STREAMING_CONTRACT=contracts/customer.yaml \\
    MESHKIT_KAFKA_BROKERS=127.0.0.1:9092 \\
    MESHKIT_DUCKDB_PATH=warehouse.duckdb \\
    python -m bytewax.run meshkit.streaming.declarative:flow -r rec -s 5

Where each backend lives comes from the domain's settings (``meshkit.settings``:
``meshkit.yaml`` and ``MESHKIT_*`` variables, the same ones CDC and batch read): Kafka
with its security settings (every producer, consumer and admin client of the flow gets
them), the warehouse (DuckDB, or BigQuery through ``BigQueryWarehouseWriter``), the
search server (a production client, or the local stand-in's), the serving view's
PostgreSQL and the key store. ``StreamingSettings`` (prefix ``MESHKIT_STREAMING_``) holds
what is particular to a flow, and its ``brokers``, ``warehouse``, ``view_dsn``,
``search_url`` and ``keystore_dir``, when set, override the domain's settings for this
flow. A port the contract declares that no setting locates (no search URL, no serving
view DSN) is an error (``ConfigError``), so nothing is silently left unwritten. Custom
code is needed only for joins and aggregations (see ``meshkit.streaming.operators``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshkit.clients import bigquery_client, bigquery_retries, search_client
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
from meshkit.settings import MeshkitSettings, load_settings
from meshkit.streaming.deadletter import DeadLetters, KafkaDeadLetterPort, dead_letter_topic
from meshkit.streaming.operators import process
from meshkit.streaming.pipeline import Pipeline
from meshkit.streaming.sinks import PortSet, PortSink
from meshkit.streaming.sources import KafkaBatchSource


class StreamingSettings(BaseSettings):
    """What is particular to one flow (``MESHKIT_STREAMING_*`` variables).

    ``brokers``, ``warehouse`` (a DuckDB file), ``view_dsn``, ``search_url`` and
    ``keystore_dir`` override the domain's settings (:class:`MeshkitSettings`) when set.
    """

    model_config = SettingsConfigDict(env_prefix="MESHKIT_STREAMING_", extra="forbid")

    contract: Path | None = None
    brokers: str | None = None  # overrides kafka_brokers
    warehouse: Path | None = None  # overrides duckdb_path (and selects DuckDB)
    view_dsn: SecretStr | None = None  # overrides view_dsn
    search_url: str | None = None  # overrides search_url
    keystore_dir: Path | None = None  # overrides privacy_state_dir
    stats_dir: Path | None = None  # counts and latencies, one JSON file per sink partition
    tail: bool = True  # False: stop at the end of the input topics
    batch_size: int = 5000  # messages per poll (one batch through the steps)
    sink_partitions: int = 1
    guard: bool = True  # run the PII guard on free-text fields
    max_value_bytes: int = 1 << 20  # longer text/bytes values are dead-lettered as oversized
    ports: tuple[str, ...] | None = None  # output port kinds to write (default: all declared)

    def backends(self, domain: MeshkitSettings | None = None) -> MeshkitSettings:
        """The domain's settings (default: :func:`load_settings`) with this flow's overrides."""
        base = domain if domain is not None else load_settings()
        updates: dict[str, Any] = {
            "kafka_brokers": self.brokers,
            "view_dsn": self.view_dsn,
            "search_url": self.search_url,
            "privacy_state_dir": self.keystore_dir,
        }
        if self.warehouse is not None:
            updates.update(warehouse_kind="duckdb", duckdb_path=self.warehouse)
        updates = {k: v for k, v in updates.items() if v is not None}
        if not updates:
            return base
        try:
            return MeshkitSettings.model_validate({**base.model_dump(), **updates})
        except ValidationError as exc:
            problems = [e["msg"].removeprefix("Value error, ") for e in exc.errors()]
            # not chained: the validation error holds the input values
            raise ConfigError("MESHKIT_STREAMING_*: " + "; ".join(problems)) from None


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


def open_store(backends: MeshkitSettings, contract: Contract) -> LocalKeyStore | None:
    """The key store, with the token keys the contract names created when missing."""
    kinds = {f.transform.kind for f in contract.field_index.values() if f.transform}
    if not kinds & {"tokenize", "encrypt"}:
        return None
    store = LocalKeyStore.open(backends.privacy_state_dir, environ=backends.keystore_environ())
    for f in contract.field_index.values():
        if f.transform is not None and f.transform.kind == "tokenize":
            try:
                store.token_key(f.transform.key)
            except KeyNotFoundError:
                store.create_token_key(f.transform.key)
    return store


def warehouse_writer(backends: MeshkitSettings) -> PortWriter:
    """The warehouse port's writer: DuckDB, or BigQuery (``warehouse_kind``)."""
    from meshkit.ports import BigQueryWarehouseWriter, DuckDBWarehouseWriter

    if backends.warehouse_kind == "duckdb":
        return DuckDBWarehouseWriter(backends.duckdb_path)
    return BigQueryWarehouseWriter(
        bigquery_client(backends),
        dataset_prefix=backends.bigquery_dataset_prefix,
        location=backends.bigquery_location,
        **bigquery_retries(backends),
    )


def port_writers(
    contract: Contract, settings: StreamingSettings, *, domain: MeshkitSettings | None = None
) -> dict[str, PortWriter]:
    """The writers of the contract's output ports, ``ensure``-d, by port kind.

    ``domain`` is the domain's settings (default: :func:`meshkit.settings.load_settings`),
    with the overrides of ``settings``.
    """
    from meshkit.ports import KafkaTopicWriter, SearchIndexWriter, ServingViewWriter

    backends = settings.backends(domain)
    writers: dict[str, PortWriter] = {}
    for port in contract.ports.outputs:
        if settings.ports is not None and port.kind not in settings.ports:
            continue
        writer: PortWriter
        if isinstance(port, KafkaTopic):
            writer = KafkaTopicWriter(
                backends.kafka_brokers,
                config=backends.kafka_security_config(),
                value_format=port.format,
            )
        elif isinstance(port, WarehouseTable):
            writer = warehouse_writer(backends)
        elif isinstance(port, ServingView):
            writer = ServingViewWriter(_need(backends.view_dsn_value(), "VIEW_DSN", port.kind))
        elif isinstance(port, SearchIndex):
            _need(backends.search_url, "SEARCH_URL", port.kind)
            writer = SearchIndexWriter(search_client(backends), dead_letter=_keep_in_report)
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
            f"the contract declares a {kind} port but neither MESHKIT_{name} nor "
            f"MESHKIT_STREAMING_{name} is set"
        )
    return value


def build_flow(
    contract: Contract,
    settings: StreamingSettings,
    *,
    open_ports: Callable[[], PortSet] | None = None,
    flow_id: str | None = None,
    domain: MeshkitSettings | None = None,
) -> Dataflow:
    """The whole dataflow of a contract with a mapping (see the module docstring).

    ``domain`` is the domain's settings (default: :func:`meshkit.settings.load_settings`).
    """
    backends = settings.backends(domain)
    topic, kind = input_topic(contract)
    masker = Masker.from_contract(contract, store=open_store(backends, contract))
    pipeline = Pipeline(
        contract,
        masker,
        guard=settings.guard,
        source=kind,  # type: ignore[arg-type]
        max_value_bytes=settings.max_value_bytes,
    )

    def default_ports() -> PortSet:
        letters = KafkaDeadLetterPort(
            backends.kafka_brokers, dead_letter_topic(contract), **backends.kafka_security_config()
        )
        letters.ensure()
        return PortSet(
            port_writers(contract, settings, domain=backends),
            letters,
            DeadLetters(contract, masker=masker),
        )

    flow = Dataflow(flow_id or contract.address.replace(".", "_"))
    source = KafkaBatchSource(
        backends.kafka_brokers,
        [topic],
        tail=settings.tail,
        batch_size=settings.batch_size,
        config=backends.kafka_security_config(),
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
