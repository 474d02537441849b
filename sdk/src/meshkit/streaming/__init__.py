"""meshkit.streaming: Bytewax building blocks for a domain's dataflows.

CDC in (``sources``, ``records``), the record logic as plain functions over batches
(``steps``, ``pipeline``, ``aggregate``), Bytewax wiring (``operators``), the dead-letter
port (``deadletter``), the sink that writes the output ports through ``meshkit.ports``
(``sinks``), and declarative flows from a contract's mapping (``flows``,
``declarative``). See ``docs/streaming.md``.
"""

from meshkit.streaming.aggregate import TopN, TopNState
from meshkit.streaming.cast import CastError, caster
from meshkit.streaming.deadletter import (
    DeadLetter,
    DeadLetters,
    KafkaDeadLetterPort,
    PayloadMasker,
    dead_letter_topic,
)
from meshkit.streaming.flows import StreamingSettings, build_flow, port_writers
from meshkit.streaming.operators import (
    OksErrs,
    map_changes,
    mask,
    parse,
    pii_guard,
    process,
    top_n,
    validate,
    write_ports,
)
from meshkit.streaming.pipeline import Pipeline, PortBatch
from meshkit.streaming.records import (
    ChangeRecord,
    Failure,
    ProductChange,
    ProductKey,
    RawMessage,
    SourcePosition,
    parse_envelope,
    parse_envelopes,
    parse_product_message,
)
from meshkit.streaming.sinks import PortSet, PortSink, read_stats
from meshkit.streaming.sources import KafkaBatchSource, cdc_source, product_source
from meshkit.streaming.steps import GuardStep, MapStep, MaskStep, StepResult, ValidateStep

__all__ = [
    "CastError",
    "ChangeRecord",
    "DeadLetter",
    "DeadLetters",
    "Failure",
    "GuardStep",
    "KafkaBatchSource",
    "KafkaDeadLetterPort",
    "MapStep",
    "MaskStep",
    "OksErrs",
    "PayloadMasker",
    "Pipeline",
    "PortBatch",
    "PortSet",
    "PortSink",
    "ProductChange",
    "ProductKey",
    "RawMessage",
    "SourcePosition",
    "StepResult",
    "StreamingSettings",
    "TopN",
    "TopNState",
    "ValidateStep",
    "build_flow",
    "caster",
    "cdc_source",
    "dead_letter_topic",
    "map_changes",
    "mask",
    "parse",
    "parse_envelope",
    "parse_envelopes",
    "parse_product_message",
    "pii_guard",
    "port_writers",
    "process",
    "product_source",
    "read_stats",
    "top_n",
    "validate",
    "write_ports",
]
