"""The Bytewax dataflow of the catalog's product product: meshkit's whole flow for a contract.

    CDC topic catalog.cdc.public.products
      → parse (Debezium envelopes) → map (the contract's mapping) → validate → mask
      → PII guard → output ports (Kafka topic, warehouse table, search index: the shop's
        product search) + dead-letter topic

Run it (settings from the MESHKIT_STREAMING_* variables, see meshkit's docs/streaming.md):

    meshkit flow run catalog.flow:flow

Every failure reaches the dead-letter port with its reason, so records in = records out
+ dead letters. The contract's mapping (the id as text, the filter that leaves out
articles still in draft) is all this product needs.
"""

from pathlib import Path

import meshkit.streaming as ms
from bytewax.dataflow import Dataflow
from meshkit.batch import load_contract

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "product.yaml"


def build(settings: ms.StreamingSettings | None = None) -> Dataflow:
    """The dataflow, with settings from the environment unless given (tests give them)."""
    return ms.build_flow(load_contract(CONTRACT), settings or ms.StreamingSettings())


def __getattr__(name: str) -> Dataflow:
    """`flow` is built when Bytewax asks for it, so importing this module starts nothing."""
    if name == "flow":
        return build()
    raise AttributeError(name)
