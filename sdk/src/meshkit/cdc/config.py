"""Configuration of one capture: source DSN, tables, names, broker, options.

A small YAML or TOML file (``cdc.yaml``)::

    dsn: postgresql://cdc@127.0.0.1:5432/shop
    topic_prefix: shop.cdc              # topics are <prefix>.<schema>.<table>
    tables: [public.orders, public.customers]
    slot: meshkit_shop                  # replication slot (lowercase, digits, _)
    publication: meshkit_shop
    bootstrap_servers: 127.0.0.1:9092
    snapshot_mode: initial              # or no_data
    decimal_handling_mode: string       # or double, precise (Debezium's names)

Command-line flags override the file; tables may also come from the contracts' CDC input
ports (:func:`meshkit.cdc.sources.load_sources`). What neither gives comes from the
domain's settings (``meshkit.settings``, docs/settings.md): the Kafka brokers
(``MESHKIT_KAFKA_BROKERS``) and the Kafka security settings (SASL, SSL), which go under
the file's ``producer`` options (an option the file sets wins).

Validating the configuration is the capture's lint, run by every ``meshkit cdc`` verb
before it connects anywhere: a DSN libpq cannot parse, or a table whose topic
``<topic_prefix>.<schema>.<table>`` Kafka cannot carry (only ``[a-zA-Z0-9._-]``, at most
249 characters), is refused there, naming the table. Topic names are not rewritten: the
contracts' CDC input ports read the same ``<domain>.cdc.<schema>.<table>`` name, and a
rewritten name could collide with another table's.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from meshkit.cdc.catalog import TableName
from meshkit.cdc.debezium import DecimalMode, ValueOptions
from meshkit.cdc.envelope import topic_problem
from meshkit.errors import ConfigError
from meshkit.files import MIB, UnreadableFileError, read_limited
from meshkit.redaction import redact_dsn
from meshkit.settings import MeshkitSettings

_IDENT = re.compile(r"^[a-z0-9_]{1,63}$")


class CaptureConfig(BaseModel):
    """Everything one ``meshkit cdc run`` needs; see the module docstring for a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dsn: str = Field(description="libpq URL or key=value string of the source database", repr=False)
    tables: list[str] = Field(
        default_factory=list, description="schema.table of each captured table"
    )
    topic_prefix: str = Field(default="", description="Debezium topic.prefix")
    bootstrap_servers: str = ""
    slot: str = "meshkit_cdc"
    publication: str = "meshkit_cdc"
    snapshot_mode: Literal["initial", "no_data"] = "initial"
    decimal_handling_mode: DecimalMode = "string"
    key_columns: dict[str, list[str]] = Field(
        default_factory=dict, description="schema.table -> key columns (message.key.columns)"
    )
    snapshot_chunk_rows: int = Field(default=10_000, ge=1)
    emit_truncate: bool = True
    tombstones_on_delete: bool = True
    topic_partitions: int = Field(default=1, ge=1)
    topic_replication_factor: int | None = Field(
        default=None, ge=1, description="default: the cluster's default.replication.factor"
    )
    state_dir: Path = Path(".state/cdc")
    wal_warn_bytes: int = Field(default=1 << 30, ge=0)
    producer: dict[str, Any] = Field(
        default_factory=dict,
        description="extra librdkafka options (may hold the SASL password: not in the repr)",
        repr=False,
    )

    @field_validator("slot", "publication")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError("use 1-63 lowercase letters, digits or '_' (a PostgreSQL slot name)")
        return value

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        try:
            psycopg2.extensions.parse_dsn(value)
        except psycopg2.Error:
            raise ValueError(
                f"{redact_dsn(value)}: not a valid libpq connection string or URL (e.g. "
                "postgresql://user:password@host:5432/dbname, or host=... dbname=... user=...)"
            ) from None
        return value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        names = [str(TableName.parse(t)) for t in value]
        if len(set(names)) != len(names):
            raise ValueError("a table is listed twice")
        return names

    @model_validator(mode="after")
    def _topics(self) -> CaptureConfig:
        prefix = self.topic_prefix
        if prefix and topic_problem(prefix) is not None:
            raise ValueError(
                f"topic_prefix {prefix!r} is not valid in a Kafka topic name (letters, digits, "
                "'.', '_' and '-' only)"
            )
        problems = [p for p in map(self._topic_problem, self.table_names()) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _topic_problem(self, table: TableName) -> str | None:
        topic = self.topic(table)
        # an empty prefix is reported by the verbs that need one (require)
        why = topic_problem(topic if self.topic_prefix else "p" + topic)
        if why is None:
            return None
        return (
            f"table {str(table)!r}: its topic {topic!r} is {why}; fix: rename the table (or "
            "its schema) in the source database, or leave it out of 'tables'"
        )

    def topic(self, table: TableName) -> str:
        """The table's topic, ``<topic_prefix>.<schema>.<table>`` (Debezium's)."""
        return f"{self.topic_prefix}.{table.schema}.{table.table}"

    def require(self, *names: str) -> None:
        """ConfigError naming the settings a command needs that are empty."""
        hints = {
            "tables": "list them under 'tables' (schema.table), pass --table, or --contracts DIR",
            "topic_prefix": "set 'topic_prefix' or --topic-prefix (e.g. <domain>.cdc)",
            "bootstrap_servers": "set 'bootstrap_servers' or --bootstrap-servers (host:port)",
        }
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(
                "CDC configuration is missing "
                + ", ".join(missing)
                + "\n"
                + "\n".join(f"  fix: {hints.get(n, 'set ' + n)}" for n in missing)
            )

    def table_names(self) -> list[TableName]:
        """The configured tables."""
        return [TableName.parse(t) for t in self.tables]

    def value_options(self) -> ValueOptions:
        """How column values are mapped."""
        return ValueOptions(decimal_handling_mode=self.decimal_handling_mode)

    def database(self) -> str:
        """The database name in the DSN (Debezium's ``source.db``)."""
        if "://" in self.dsn:
            return urlsplit(self.dsn).path.lstrip("/") or "postgres"
        return str(psycopg2.extensions.parse_dsn(self.dsn).get("dbname") or "postgres")

    def state_path(self) -> Path:
        """Where the capture records its progress (snapshot done, acknowledged LSN)."""
        return self.state_dir / f"{self.slot}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = read_limited(path, limit=MIB)
    except UnreadableFileError as exc:
        raise ConfigError(f"{path}: cannot read the CDC configuration: {exc.reason}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the CDC configuration is not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{path}: the CDC configuration is nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of CDC settings at the top level")
    return data


def build_config(
    path: Path | None = None, *, domain: MeshkitSettings | None = None, **overrides: Any
) -> CaptureConfig:
    """The file's settings (if any) with ``overrides`` (``None`` values ignored) on top.

    ``domain`` (the domain's settings, ``meshkit.settings``) gives what neither sets: the
    Kafka brokers, and the Kafka security settings under the file's ``producer`` options.
    """
    data = _read(path) if path is not None else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if domain is not None:
        data.setdefault("bootstrap_servers", domain.kafka_brokers)
        producer = data.get("producer")
        if producer is None or isinstance(producer, dict):
            data["producer"] = {**domain.kafka_security_config(), **(producer or {})}
    where = str(path) if path is not None else "CDC options"
    try:
        return CaptureConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "(top level)"
            problems.append(f"{where}: field {field!r}: {error['msg']}")
        # not chained: the validation error holds the input, DSN and password included
        raise ConfigError("\n".join(problems)) from None
