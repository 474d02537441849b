"""A domain's settings: which backend each part of meshkit talks to, locally and in production.

One flat set of ``MESHKIT_*`` settings, read from environment variables and an optional
YAML file (``meshkit.yaml`` in the working directory, or the file ``MESHKIT_SETTINGS_FILE``
names), selects every backend. Streaming (``meshkit.streaming.flows``), CDC, batch and
provisioning read the same names; the variables batch and the key store read already
(``MESHKIT_BIGQUERY_PROJECT``, ``MESHKIT_MASTER_KEY``, ``MESHKIT_REGISTRY_URL``, ...) are
fields here under the same names, and ``MESHKIT_ENV`` (``local`` or ``prod``) chooses
the warehouse for both (DuckDB or BigQuery) unless ``warehouse_kind`` says otherwise. A
file holds the same keys without the prefix, in lower case::

    env: prod
    kafka_brokers: kafka-0.kafka:9093,kafka-1.kafka:9093
    kafka_security_protocol: SASL_SSL
    kafka_sasl_mechanism: SCRAM-SHA-512
    kafka_sasl_username: orders-flow
    kafka_ssl_ca_location: /etc/kafka/ca.pem
    warehouse_kind: bigquery
    bigquery_project: acme-data
    bigquery_location: EU
    gcp_credentials_file: /var/run/secrets/gcp/key.json
    search_url: https://search.internal:9200
    registry_url: https://registry.internal

Secrets (``kafka_sasl_password``, ``kafka_ssl_key_password``, ``search_api_key``,
``search_password``, ``view_dsn``, ``gcp_credentials``, ``master_key``,
``registry_token``) are ``SecretStr``:
their repr, ``str``, ``model_dump_json`` and every error message show ``**********``.
Give them as environment variables (from a Kubernetes Secret), not in the file.

Precedence: keyword arguments of :func:`load_settings`, then environment variables (an
empty one counts as unset), then the file, then the defaults (the local stack's). A
problem is a ``ConfigError`` naming where the setting came from
(``meshkit.yaml:LINE:COLUMN``, or the variable) and
what is expected, never the value.

The client configurations are built from these settings in one place each:
:meth:`MeshkitSettings.kafka_config` (confluent-kafka/librdkafka properties) and
:mod:`meshkit.clients` (search, BigQuery).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshkit.contracts.yamlpos import YamlError, read_yaml
from meshkit.errors import ConfigError
from meshkit.files import MIB, UnreadableFileError, read_limited

ENV_PREFIX = "MESHKIT_"
FILE_ENV = "MESHKIT_SETTINGS_FILE"
DEFAULT_FILE = Path("meshkit.yaml")
DEFAULT_DUCKDB_PATH = Path(".state") / "local" / "warehouse" / "warehouse.duckdb"
DEFAULT_PRIVACY_DIR = Path(".state") / "privacy"

Environment = Literal["local", "prod"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
_ENV_ALIASES = {"production": "prod", "dev": "local", "development": "local"}


class MeshkitSettings(BaseSettings):
    """Every backend of a domain (see the module docstring); ``MESHKIT_<FIELD>`` variables.

    Example::

        settings = load_settings()  # meshkit.yaml + MESHKIT_* variables
        Producer(settings.kafka_config())
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", populate_by_name=True
    )

    env: Environment = Field(
        default="local", description="local (embedded stand-ins) or prod; MESHKIT_ENV"
    )

    # -- Kafka ------------------------------------------------------------------------------
    kafka_brokers: str = Field(default="127.0.0.1:9092", min_length=1, pattern=r"^\S+$")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = None
    kafka_ssl_certificate_location: Path | None = None
    kafka_ssl_key_location: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None

    # -- warehouse --------------------------------------------------------------------------
    warehouse_kind: Literal["duckdb", "bigquery"] = Field(
        default="duckdb", description="default: duckdb for env local, bigquery for env prod"
    )
    duckdb_path: Path = DEFAULT_DUCKDB_PATH
    bigquery_project: str | None = None
    bigquery_location: str | None = None
    gcp_credentials_file: Path | None = None
    gcp_credentials: SecretStr | None = Field(
        default=None, description="base64 service-account JSON (what batch reads)"
    )
    bigquery_dataset_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_]*$")
    bigquery_policy_taxonomy: str | None = Field(
        default=None,
        pattern=r"^projects/[^/]+/locations/[^/]+/taxonomies/[^/]+$",
        description="the taxonomy whose policy tags provisioning puts on personal columns",
    )
    bigquery_reader_domain: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="e-mail domain of the reader groups' Google groups (table bindings)",
    )
    bigquery_emulator_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("bigquery_emulator_host", "meshkit_bigquery_emulator_host"),
        description="the BigQuery emulator (local only); BIGQUERY_EMULATOR_HOST as Google's "
        "libraries read it, or MESHKIT_BIGQUERY_EMULATOR_HOST",
    )
    bigquery_storage_emulator_host: str | None = Field(
        default=None,
        description="the BigQuery emulator's Storage Read API, its gRPC host:port (local "
        "only; meshkit local env exports it); unset, the production endpoint",
    )

    # -- search -----------------------------------------------------------------------------
    search_url: str | None = None
    search_api_key: SecretStr | None = None
    search_username: str | None = None
    search_password: SecretStr | None = None
    search_ca_certs: Path | None = None
    search_stand_in: bool | None = Field(
        default=None,
        description="the local search stand-in (plain JSON media types); default: env=local",
    )

    # -- serving view, key store, registry ---------------------------------------------------
    view_dsn: SecretStr | None = None
    privacy_state_dir: Path = DEFAULT_PRIVACY_DIR
    master_key: SecretStr | None = None
    registry_url: str | None = None
    registry_token: SecretStr | None = None

    @field_validator("env", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        if isinstance(value, str):
            raw = value.strip().lower()
            return _ENV_ALIASES.get(raw, raw) or "local"
        return value

    @_model_validator(mode="before")
    @classmethod
    def _warehouse_from_env(cls, data: Any) -> Any:
        """``warehouse_kind`` follows ``env`` unless given, as batch's resources do."""
        if isinstance(data, dict) and data.get("warehouse_kind") is None:
            env = str(data.get("env") or "local").strip().lower()
            if _ENV_ALIASES.get(env, env) == "prod":
                data = {**data, "warehouse_kind": "bigquery"}
        return data

    @_model_validator(mode="after")
    def _consistent(self) -> MeshkitSettings:
        problems = self._kafka_problems() + self._other_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _kafka_problems(self) -> list[str]:
        problems = []
        sasl = self.kafka_security_protocol.startswith("SASL")
        ssl = self.kafka_security_protocol in {"SSL", "SASL_SSL"}
        if sasl and self.kafka_sasl_mechanism is None:
            problems.append(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)"
            )
        if not sasl and self.kafka_sasl_mechanism is not None:
            problems.append(
                "kafka_sasl_mechanism is set but kafka_security_protocol is not SASL_SSL or "
                "SASL_PLAINTEXT"
            )
        if sasl and self.kafka_sasl_mechanism in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
            missing = [
                n
                for n in ("kafka_sasl_username", "kafka_sasl_password")
                if getattr(self, n) is None
            ]
            if missing:
                problems.append(f"SASL {self.kafka_sasl_mechanism} needs {' and '.join(missing)}")
        ssl_files = [
            n
            for n in (
                "kafka_ssl_ca_location",
                "kafka_ssl_certificate_location",
                "kafka_ssl_key_location",
                "kafka_ssl_key_password",
            )
            if getattr(self, n) is not None
        ]
        if ssl_files and not ssl:
            problems.append(
                f"{', '.join(ssl_files)} set but kafka_security_protocol is "
                f"{self.kafka_security_protocol} (SSL or SASL_SSL uses them)"
            )
        if (self.kafka_ssl_certificate_location is None) != (self.kafka_ssl_key_location is None):
            problems.append(
                "a client certificate needs both kafka_ssl_certificate_location and "
                "kafka_ssl_key_location"
            )
        return problems

    def _other_problems(self) -> list[str]:
        problems = []
        if (
            self.warehouse_kind == "bigquery"
            and not self.bigquery_project
            and not self.bigquery_emulator_host
        ):
            problems.append("warehouse_kind bigquery needs bigquery_project")
        if self.gcp_credentials is not None and self.gcp_credentials_file is not None:
            problems.append("BigQuery takes gcp_credentials or gcp_credentials_file, not both")
        if self.search_api_key is not None and self.search_username is not None:
            problems.append("search takes search_api_key or search_username, not both")
        if (self.search_username is None) != (self.search_password is None):
            problems.append("basic auth to search needs both search_username and search_password")
        if self.env == "prod" and (
            self.bigquery_emulator_host or self.bigquery_storage_emulator_host
        ):
            problems.append("the BigQuery emulator is for env local only (unset it in prod)")
        return problems

    # -- derived ----------------------------------------------------------------------------

    @property
    def search_is_stand_in(self) -> bool:
        """Whether the search server is the local stand-in (``search_stand_in``, else env)."""
        return self.env == "local" if self.search_stand_in is None else self.search_stand_in

    def kafka_security_config(self) -> dict[str, Any]:
        """The librdkafka security properties (no ``bootstrap.servers``); secrets revealed.

        For clients only: never log the result.
        """
        config: dict[str, Any] = {"security.protocol": self.kafka_security_protocol}
        pairs: dict[str, Any] = {
            "sasl.mechanisms": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": _reveal(self.kafka_sasl_password),
            "ssl.ca.location": self.kafka_ssl_ca_location,
            "ssl.certificate.location": self.kafka_ssl_certificate_location,
            "ssl.key.location": self.kafka_ssl_key_location,
            "ssl.key.password": _reveal(self.kafka_ssl_key_password),
        }
        config.update({k: str(v) for k, v in pairs.items() if v is not None})
        return config

    def kafka_config(self, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka configuration: brokers plus security, then ``overrides``."""
        return {"bootstrap.servers": self.kafka_brokers, **self.kafka_security_config(),
                **overrides}  # fmt: skip

    def view_dsn_value(self) -> str | None:
        """The serving view's DSN, revealed for the driver (never log it)."""
        return _reveal(self.view_dsn)

    def keystore_environ(self) -> dict[str, str]:
        """The ``environ`` the key store reads its master key from (see ``LocalKeyStore``)."""
        value = _reveal(self.master_key)
        if value is None:
            return dict(os.environ)
        return {**os.environ, "MESHKIT_MASTER_KEY": value}


_CONNECTION_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.id")


def kafka_connection(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a producer's or consumer's configuration every Kafka client needs
    (brokers, security, client id): what an ``AdminClient`` beside it is given."""
    return {k: v for k, v in config.items() if k.startswith(_CONNECTION_PREFIXES)}


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _env_names(name: str) -> list[str]:
    field = MeshkitSettings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(c).upper() for c in alias.choices]
    return [ENV_PREFIX + name.upper()]


def settings_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The settings file: ``MESHKIT_SETTINGS_FILE``, else ``meshkit.yaml`` when it exists."""
    env = os.environ if environ is None else environ
    named = env.get(FILE_ENV)
    if named:
        return Path(named)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, **overrides: Any
) -> MeshkitSettings:
    """The domain's settings: ``overrides``, then the environment, then the file ``path``
    (default: :func:`settings_file`), then the defaults.

    ``ConfigError`` lists each problem with where it was set and what is expected.
    """
    # an empty variable is unset (as batch's resources read them)
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if v != ""}
    upper = {k.upper() for k in env}
    path = path if path is not None else settings_file(env)
    data, doc = read_yaml_mapping(path, "meshkit settings") if path is not None else ({}, None)
    from_env = {
        name for name in MeshkitSettings.model_fields if any(n in upper for n in _env_names(name))
    }
    values = {k: v for k, v in data.items() if k not in from_env}
    values.update(overrides)
    try:
        return _build(env, values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            name = str(loc[0]) if loc else ""
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "not a meshkit setting (see docs/settings.md)"
            if not name:
                where = "meshkit settings"
            elif name in overrides:
                where = f"argument {name}"
            elif name in from_env:
                given = [n for n in _env_names(name) if n in upper]
                where = f"environment variable {given[0]}"
            elif name in data and path is not None and doc is not None:
                line, column = doc.position(loc, key=error["type"] == "extra_forbidden")
                where = f"{path}:{line}:{column}: {name}"
            else:
                where = name
            problems.append(f"{where}: {message}")
        # not chained: the validation error holds the input values
        raise ConfigError("\n".join(problems)) from None


def _build(environ: Mapping[str, str], values: dict[str, Any]) -> MeshkitSettings:
    """Settings from ``values`` (highest) and ``environ`` (read here, not from os.environ)."""
    from pydantic_settings import EnvSettingsSource

    source = EnvSettingsSource(MeshkitSettings, case_sensitive=False)
    source.env_vars = {k.lower(): v for k, v in environ.items()}
    from_env = source()
    return MeshkitSettings.model_validate({**from_env, **values})


def read_yaml_mapping(path: Path, what: str) -> tuple[dict[str, Any], Any]:
    """A settings file's mapping and its YAML document (for the positions of its keys).

    Every way the file can be wrong is a ``ConfigError`` naming ``what`` and where:
    unreadable or over 1 MiB, not UTF-8, bad YAML (``file:line:column`` with a fix when
    one is known), or not a mapping. An empty file is an empty mapping.
    """
    try:
        raw = read_limited(path, limit=MIB)
    except UnreadableFileError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.reason}") from None
    try:
        doc = read_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the {what} are not UTF-8 text") from None
    except YamlError as exc:
        hint = f"\n  fix: {exc.hint}" if exc.hint else ""
        raise ConfigError(f"{path}:{exc.line}:{exc.column}: {exc.message}{hint}") from None
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1:1: expected a mapping of {what} (key: value)")
    return data, doc
