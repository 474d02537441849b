"""The Bytewax dataflow of the {{ cookiecutter.product_name }} product: meshkit's whole flow for a contract.

    CDC topic {{ cookiecutter.__kafka_prefix }}.cdc.public.{{ cookiecutter.source_table }}
      → parse (Debezium envelopes) → map (the contract's mapping) → validate → mask
      → PII guard → output ports (Kafka topic, warehouse table) + dead-letter topic

Run it (settings from the MESHKIT_STREAMING_* variables, see meshkit's docs/streaming.md):

    meshkit flow run {{ cookiecutter.__package_name }}.flow:flow

Every failure reaches the dead-letter port with its reason, so records in = records out
+ dead letters. The contract's mapping (projection, renames, casts, filter) is all this
product needs; a product that joins or aggregates composes meshkit's operators itself
(docs/streaming.md shows how).
"""

from pathlib import Path

import meshkit.streaming as ms
from bytewax.dataflow import Dataflow
from meshkit.batch import load_contract

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "{{ cookiecutter.product_name }}.yaml"


def build(settings: ms.StreamingSettings | None = None) -> Dataflow:
    """The dataflow, with settings from the environment unless given (tests give them)."""
    return ms.build_flow(load_contract(CONTRACT), settings or ms.StreamingSettings())


def __getattr__(name: str) -> Dataflow:
    """`flow` is built when Bytewax asks for it, so importing this module starts nothing."""
    if name == "flow":
        return build()
    raise AttributeError(name)
