"""Kafka topic configuration of a contract's streaming port.

``{"topic": "<domain>.<product>.v<major>", "partitions": 6, "config": {...}}`` where the
config holds ``cleanup.policy`` (``compact`` when the port asks for compaction, else
``delete``) and ``retention.ms`` (``-1`` when retention is null: keep forever).
"""

from __future__ import annotations

from typing import Any

from meshkit.contracts.model import Contract
from meshkit.contracts.ports import KafkaTopic


def kafka_port(contract: Contract) -> KafkaTopic:
    """The contract's Kafka topic port (the defaults when it declares none)."""
    return next(
        (p for p in contract.ports.outputs if isinstance(p, KafkaTopic)),
        KafkaTopic(kind="kafka_topic"),
    )


def kafka_topic_config(contract: Contract) -> dict[str, Any]:
    """Name, partition count and topic-level config of the contract's streaming port."""
    port = kafka_port(contract)
    retention = port.retention
    config = {
        "cleanup.policy": "compact" if port.compaction else "delete",
        "retention.ms": str(int(retention.total_seconds() * 1000)) if retention else "-1",
    }
    return {"topic": contract.address, "partitions": port.partitions, "config": config}


def kafka_key_fields(contract: Contract) -> tuple[str, ...]:
    """The message key fields: the port's ``key``, else the primary key."""
    port = kafka_port(contract)
    return tuple(port.key) if port.key else tuple(contract.primary_key)
