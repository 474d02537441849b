"""The real Debezium PostgreSQL connector configuration for the same capture.

From the same :class:`~meshkit.cdc.config.CaptureConfig` (so the same topics, slot,
publication, snapshot mode, key columns and value mapping) as

* Kafka Connect REST JSON (``POST /connectors``): :func:`connect_config`;
* Debezium Server ``application.properties``: :func:`server_properties`.

The password is never written out: Connect reads it through a config provider
(``${file:...}`` by default) and Debezium Server through an environment variable.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2.extensions import parse_dsn

from meshkit.cdc.config import CaptureConfig
from meshkit.errors import ConfigError
from meshkit.redaction import redact_dsn

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"


def _dsn_parts(dsn: str) -> dict[str, str]:
    if "://" in dsn:
        parts = urlsplit(dsn)
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(
                f"dsn {redact_dsn(dsn)}: the port is not a number\n  fix: correct the CDC 'dsn'"
            ) from None
        return {
            "host": parts.hostname or "localhost",
            "port": str(port or 5432),
            "user": unquote(parts.username or "postgres"),
            "dbname": parts.path.lstrip("/") or "postgres",
        }
    try:
        items = {k: str(v) for k, v in parse_dsn(dsn).items()}
    except psycopg2.Error:
        raise ConfigError(
            f"dsn {redact_dsn(dsn)}: not a valid libpq connection string\n"
            "  fix: correct the CDC 'dsn'"
        ) from None
    return {
        "host": items.get("host", "localhost"),
        "port": items.get("port", "5432"),
        "user": items.get("user", "postgres"),
        "dbname": items.get("dbname", "postgres"),
    }


#: Where Kafka Connect reads the password from (FileConfigProvider); not a secret itself.
CONNECT_PASSWORD_REF = "${file:/opt/kafka/secrets/cdc.properties:password}"  # noqa: S105
#: Where Debezium Server reads it from (an environment variable).
SERVER_PASSWORD_REF = "${MESHKIT_CDC_DB_PASSWORD}"  # noqa: S105


def connector_options(
    config: CaptureConfig, *, password_ref: str = CONNECT_PASSWORD_REF
) -> dict[str, str]:
    """The connector options (no converter settings), all values as strings."""
    config.require("tables", "topic_prefix")
    db = _dsn_parts(config.dsn)
    options = {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "database.hostname": db["host"],
        "database.port": db["port"],
        "database.user": db["user"],
        "database.password": password_ref,
        "database.dbname": db["dbname"],
        "topic.prefix": config.topic_prefix,
        "plugin.name": "pgoutput",
        "slot.name": config.slot,
        "publication.name": config.publication,
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join(config.tables),
        "snapshot.mode": config.snapshot_mode,
        "decimal.handling.mode": config.decimal_handling_mode,
        "time.precision.mode": "adaptive",
        "binary.handling.mode": "bytes",
        "interval.handling.mode": "numeric",
        "tombstones.on.delete": str(config.tombstones_on_delete).lower(),
        "skipped.operations": "none" if config.emit_truncate else "t",
        # Kafka Connect creates missing topics as 'meshkit cdc run' does (-1: the
        # cluster's default.replication.factor)
        "topic.creation.default.partitions": str(config.topic_partitions),
        "topic.creation.default.replication.factor": str(config.topic_replication_factor or -1),
    }
    if config.key_columns:
        options["message.key.columns"] = ";".join(
            f"{table}:{','.join(columns)}" for table, columns in sorted(config.key_columns.items())
        )
    return options


def connect_config(config: CaptureConfig, *, name: str | None = None) -> dict[str, Any]:
    """The body of ``POST /connectors`` for a Kafka Connect cluster."""
    options = connector_options(config)
    options.update(
        {
            "key.converter": JSON_CONVERTER,
            "key.converter.schemas.enable": "false",
            "value.converter": JSON_CONVERTER,
            "value.converter.schemas.enable": "false",
        }
    )
    return {"name": name or f"{config.topic_prefix.replace('.', '-')}-postgres", "config": options}


def server_properties(config: CaptureConfig) -> str:
    """Debezium Server ``application.properties`` with a Kafka sink."""
    config.require("tables", "topic_prefix", "bootstrap_servers")
    options = connector_options(config, password_ref=SERVER_PASSWORD_REF)
    lines = [
        "# Debezium Server: PostgreSQL -> Kafka, the same events as 'meshkit cdc run'",
        "debezium.sink.type=kafka",
        f"debezium.sink.kafka.producer.bootstrap.servers={config.bootstrap_servers}",
        "debezium.sink.kafka.producer.key.serializer="
        "org.apache.kafka.common.serialization.StringSerializer",
        "debezium.sink.kafka.producer.value.serializer="
        "org.apache.kafka.common.serialization.StringSerializer",
        "debezium.format.key=json",
        "debezium.format.value=json",
        "debezium.format.key.schemas.enable=false",
        "debezium.format.value.schemas.enable=false",
        "debezium.source.offset.storage.file.filename=data/offsets.dat",
        "debezium.source.offset.flush.interval.ms=0",
    ]
    lines += [f"debezium.source.{key}={value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"
