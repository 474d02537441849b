"""The Bytewax dataflow of the recommendation product: an event-sourced view per customer.

    product topics orders.order.v1 + catalog.product.v1 (input ports, not raw CDC)
      → one stateful step (recommendations.recommend.Recommender) over both streams
      → the changed lists → serving view recommendations.recommendation.v1 (PostgreSQL)
      + dead-letter topic for messages that are not product records

Run it (settings from meshkit.yaml and the MESHKIT_* variables, see meshkit's
docs/settings.md); the view needs a serving database (MESHKIT_STREAMING_VIEW_DSN):

    meshkit flow run recommendations.flow:flow

The state is one key for the whole mesh: every list depends on what everyone bought (an
article's popularity), so this flow runs as one worker; it holds each article's category
and stock and each customer's purchases, a few hundred bytes per customer.
"""

from pathlib import Path

import bytewax.operators as op
import meshkit.streaming as ms
from bytewax.dataflow import Dataflow
from meshkit.batch import load_contract

from recommendations import recommend

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "recommendation.yaml"


def build(settings: ms.StreamingSettings | None = None) -> Dataflow:
    """The dataflow, with settings from the environment unless given (tests give them)."""
    settings = settings or ms.StreamingSettings()
    contract = load_contract(CONTRACT)
    domain = settings.backends()  # the domain's settings, with the flow's overrides

    def ports() -> ms.PortSet:
        letters = ms.KafkaDeadLetterPort(
            domain.kafka_brokers, ms.dead_letter_topic(contract), **domain.kafka_security_config()
        )
        letters.ensure()
        return ms.PortSet(
            ms.port_writers(contract, settings, domain=domain), letters, ms.DeadLetters(contract)
        )

    flow = Dataflow("recommendations")
    source = ms.product_source(
        domain.kafka_brokers,
        contract,
        tail=settings.tail,
        batch_size=settings.batch_size,
        config=domain.kafka_security_config(),
    )
    polls = op.input("products", flow, source)
    keyed = op.key_on("mesh", polls, lambda _batch: "mesh")
    results = op.map("value", op.stateful_map("recommend", keyed, recommend.step), lambda kv: kv[1])
    changes = op.filter_map("changes", results, lambda r: r[0] or None)
    failures = op.filter_map("failures", results, lambda r: r[1] or None)
    stats = settings.stats_dir
    ms.write_ports("view", changes, failures, ms.PortSink(ports, stats_dir=stats))
    return flow


def __getattr__(name: str) -> Dataflow:
    """`flow` is built when Bytewax asks for it, so importing this module starts nothing."""
    if name == "flow":
        return build()
    raise AttributeError(name)
