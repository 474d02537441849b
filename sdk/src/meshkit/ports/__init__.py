"""meshkit.ports: the output-port writers shared by batch and streaming.

Each writer takes micro-batches of ``Change`` records (contract-validated, already
masked), checks them against the contract, and applies them idempotently by key and
source position. See ``docs/ports.md``.
"""

from meshkit.ports.base import (
    POSITION_COLUMN,
    Change,
    DeadLetter,
    DeliveryError,
    NotEnsuredError,
    PortError,
    PortWriter,
    RecordRefusedError,
    SchemaChangeError,
    WriteReport,
    changes_of,
)
from meshkit.ports.evolution import Column, Evolution
from meshkit.ports.intake import CheckedBatch, Intake
from meshkit.ports.kafka import KafkaTopicWriter, ValueDecoder, decode_value
from meshkit.ports.search import SearchIndexWriter
from meshkit.ports.view import ServingViewWriter, ViewReader
from meshkit.ports.warehouse_bigquery import BigQueryWarehouseWriter
from meshkit.ports.warehouse_duckdb import DuckDBWarehouseWriter

__all__ = [
    "POSITION_COLUMN",
    "BigQueryWarehouseWriter",
    "Change",
    "CheckedBatch",
    "Column",
    "DeadLetter",
    "DeliveryError",
    "DuckDBWarehouseWriter",
    "Evolution",
    "Intake",
    "KafkaTopicWriter",
    "NotEnsuredError",
    "PortError",
    "PortWriter",
    "RecordRefusedError",
    "SchemaChangeError",
    "SearchIndexWriter",
    "ServingViewWriter",
    "ValueDecoder",
    "ViewReader",
    "WriteReport",
    "changes_of",
    "decode_value",
]
