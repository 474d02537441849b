"""Debezium connector configs for companies that run Kafka Connect instead of ``meshkit cdc run``.

``connector_configs(desired, source)`` gives, for each CDC publication of the desired
state (``<database>.meshkit_<domain>``, see ``meshkit_platform.provisioning.cdc``), the
JSON body of Kafka Connect's ``POST /connectors`` for Debezium's PostgreSQL connector,
with the names meshkit's own capture uses, so the contracts' CDC input ports read the
same topics either way: slot and publication ``meshkit_<domain>`` (the publication
provisioned, not auto-created), ``pgoutput``, ``topic.prefix`` ``<domain>.cdc`` (topics
``<domain>.cdc.<schema>.<table>``), ``decimal.handling.mode`` ``string``. The server,
port and user come from ``source`` (a libpq URL); the password never does: the config
names it through Kafka Connect's file config provider
(``${file:/opt/kafka/secrets/<domain>.properties:password}``), to be set where Connect runs.

``write_configs(configs, directory)`` writes one ``<name>.json`` per connector.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from psycopg2.extensions import parse_dsn

from meshkit_platform.provisioning.resources import Resource

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
SECRETS_DIR = "/opt/kafka/secrets"


def connector_configs(desired: Iterable[Resource], source: str) -> dict[str, dict[str, Any]]:
    """Connector name → ``{"name": ..., "config": {...}}`` (see the module docstring)."""
    server = parse_dsn(source)
    out: dict[str, dict[str, Any]] = {}
    for r in desired:
        if r.backend != "cdc" or r.kind != "publication":
            continue
        database, _, pub = r.name.partition(".")
        domain = pub.removeprefix("meshkit_")
        name = f"meshkit-{domain}-{database}"
        out[name] = {
            "name": name,
            "config": {
                "connector.class": CONNECTOR_CLASS,
                "plugin.name": "pgoutput",
                "database.hostname": server.get("host", "localhost"),
                "database.port": server.get("port", "5432"),
                "database.user": server.get("user", ""),
                "database.password": f"${{file:{SECRETS_DIR}/{domain}.properties:password}}",
                "database.dbname": database,
                "slot.name": pub,
                "publication.name": pub,
                "publication.autocreate.mode": "disabled",
                "table.include.list": ",".join(r.attrs["tables"]),
                "topic.prefix": f"{domain}.cdc",
                "decimal.handling.mode": "string",
                "snapshot.mode": "initial",
                "tombstones.on.delete": "true",
            },
        }
    return out


def write_configs(configs: dict[str, dict[str, Any]], directory: Path) -> list[Path]:
    """One ``<name>.json`` per connector in ``directory`` (created); the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in sorted(configs.items()):
        path = directory / f"{name}.json"
        path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written
