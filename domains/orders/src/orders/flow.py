"""The Bytewax dataflow of the order product, built from meshkit's operators.

    CDC topic orders.cdc.public.orders
      → parse (Debezium envelopes) → map (the contract's mapping) → validate → mask
      → PII guard → output ports (Kafka topic, warehouse table) + dead-letter topic
      → top 5 orders per customer → serving view customer_orders (when a view DSN is set)

Run it (settings from the MESHKIT_STREAMING_* variables, see meshkit's docs/streaming.md):

    python -m bytewax.run orders.flow:flow

Each step returns its good records and its failures; every failure reaches the
dead-letter port with its reason, so records in = records out + dead letters.
"""

from pathlib import Path
from typing import Any

import bytewax.operators as op
import meshkit.streaming as ms
from bytewax.dataflow import Dataflow
from meshkit.batch import load_contract
from meshkit.privacy import Masker
from meshkit.streaming.flows import open_store

from orders import recent

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "order.yaml"
VIEW_CONTRACT = CONTRACT.with_name("customer_orders.yaml")


def build(
    settings: ms.StreamingSettings | None = None,
    *,
    source: Any = None,
    open_ports: Any = None,
) -> Dataflow:
    """The dataflow; `source` and `open_ports` replace the Kafka input and the ports in tests."""
    settings = settings or ms.StreamingSettings()
    contract = load_contract(CONTRACT)
    masker = Masker.from_contract(contract, store=open_store(settings, contract))

    def default_ports() -> ms.PortSet:
        letters = ms.KafkaDeadLetterPort(settings.brokers, ms.dead_letter_topic(contract))
        letters.ensure()
        return ms.PortSet(
            ms.port_writers(contract, settings),
            letters,
            ms.DeadLetters(contract),
        )

    flow = Dataflow("orders_order")
    raw = op.input(
        "cdc",
        flow,
        source
        or ms.cdc_source(
            settings.brokers, contract, tail=settings.tail, batch_size=settings.batch_size
        ),
    )
    parsed = ms.parse("parse", raw)
    mapped = ms.map_changes("map", parsed.oks, contract)
    valid = ms.validate("validate", mapped.oks, contract)
    masked = ms.mask("mask", valid.oks, masker)
    guarded = ms.pii_guard("pii_guard", masked.oks, contract)
    failures = op.merge(
        "failures",
        parsed.errs,
        mapped.errs,
        valid.errs,
        masked.errs,
        guarded.errs,
    )
    sink = ms.PortSink(open_ports or default_ports, stats_dir=settings.stats_dir)
    ms.write_ports("ports", guarded.oks, failures, sink)
    if settings.view_dsn is not None:
        _recent_orders_view(settings, parsed.oks, guarded.oks)
    return flow


def _recent_orders_view(settings: ms.StreamingSettings, raw: Any, products: Any) -> None:
    """The customer_orders serving view, kept from the same changes (see orders.recent)."""
    view = load_contract(VIEW_CONTRACT)

    def view_ports() -> ms.PortSet:
        letters = ms.KafkaDeadLetterPort(settings.brokers, ms.dead_letter_topic(view))
        letters.ensure()
        return ms.PortSet(ms.port_writers(view, settings), letters, ms.DeadLetters(view))

    members = op.merge(
        "members",
        op.map("member_upserts", products, recent.members_from_products),
        op.map("member_deletes", raw, recent.members_from_deletes),
    )
    lists = ms.top_n("recent_orders", members, recent.TOP)
    no_failures = op.filter("no_failures", raw, lambda _batch: False)
    stats = settings.stats_dir / "customer_orders" if settings.stats_dir else None
    ms.write_ports("view", lists, no_failures, ms.PortSink(view_ports, stats_dir=stats))


def __getattr__(name: str) -> Dataflow:
    """`flow` is built when Bytewax asks for it, so importing this module starts nothing."""
    if name == "flow":
        return build()
    raise AttributeError(name)
