"""The Bytewax dataflow of the orders domain: the order product and the customer_orders view.

    CDC topic orders.cdc.public.orders
      ├→ meshkit's whole flow for order.yaml: parse → map → validate → mask → PII guard
      │  → output ports (Kafka topic, warehouse table) + dead-letter topic
      └→ parse → map → validate → top 5 orders per customer → serving view
         customer_orders (when a view DSN is set)

Run it (settings from meshkit.yaml and the MESHKIT_* variables, see meshkit's docs/settings.md):

    meshkit flow run orders.flow:flow

Every failure reaches the order product's dead-letter port with its reason, so records
in = records out + dead letters.
"""

from pathlib import Path
from typing import Any

import bytewax.operators as op
import meshkit.streaming as ms
from bytewax.dataflow import Dataflow
from meshkit.batch import load_contract

from orders import recent

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "order.yaml"
VIEW_CONTRACT = CONTRACT.with_name("customer_orders.yaml")


def build(settings: ms.StreamingSettings | None = None) -> Dataflow:
    """The dataflow, with settings from the environment unless given (tests give them)."""
    settings = settings or ms.StreamingSettings()
    contract = load_contract(CONTRACT)
    domain = settings.backends()  # the domain's settings, with the flow's overrides
    flow = ms.build_flow(contract, settings, domain=domain)  # the order product: meshkit's flow
    if domain.view_dsn is not None:
        _recent_orders_view(flow, contract, settings, domain)
    return flow


def _recent_orders_view(
    flow: Dataflow, contract: Any, settings: ms.StreamingSettings, domain: Any
) -> None:
    """The customer_orders serving view: a second branch of the flow over the same CDC
    topic, built from meshkit's operators because it aggregates (see orders.recent).

    Orders the product refuses fail the same validation here and stay out of the view;
    their dead letters are the product branch's, so this branch reports none.
    """
    view = load_contract(VIEW_CONTRACT)

    def view_ports() -> ms.PortSet:
        letters = ms.KafkaDeadLetterPort(
            domain.kafka_brokers, ms.dead_letter_topic(view), **domain.kafka_security_config()
        )
        letters.ensure()
        writers = ms.port_writers(view, settings, domain=domain)
        return ms.PortSet(writers, letters, ms.DeadLetters(view))

    source = ms.cdc_source(
        domain.kafka_brokers,
        contract,
        tail=settings.tail,
        batch_size=settings.batch_size,
        config=domain.kafka_security_config(),
    )
    parsed = ms.parse("view_parse", op.input("view_cdc", flow, source))
    mapped = ms.map_changes("view_map", parsed.oks, contract)
    valid = ms.validate("view_validate", mapped.oks, contract)
    members = op.merge(
        "members",
        op.map("member_upserts", valid.oks, recent.members_from_products),
        op.map("member_deletes", parsed.oks, recent.members_from_deletes),
    )
    lists = ms.top_n("recent_orders", members, recent.TOP)
    no_failures = op.filter("no_failures", parsed.errs, lambda _batch: False)
    stats = settings.stats_dir / "customer_orders" if settings.stats_dir else None
    ms.write_ports("view", lists, no_failures, ms.PortSink(view_ports, stats_dir=stats))


def __getattr__(name: str) -> Dataflow:
    """`flow` is built when Bytewax asks for it, so importing this module starts nothing."""
    if name == "flow":
        return build()
    raise AttributeError(name)
