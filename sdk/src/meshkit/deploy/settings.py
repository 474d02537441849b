"""The deployment settings of a domain: ``deploy.yaml`` in the repository root (optional).

Every setting has a default, so a domain renders without the file. An example::

    image: registry.example.com/data/orders    # image repository (default: the project name)
    tag: 0.1.0                                 # default: the project's version
    namespace: orders                          # default: none (kubectl -n chooses)
    metrics_port: 9464                         # Prometheus metrics, /healthz and /readyz
    kafka_brokers: kafka-0.kafka:9092,kafka-1.kafka:9092   # default: from the ConfigMap
    secrets: [orders-secrets]                  # Secrets given whole to every process
    secret_env:                                # single keys of other Secrets
      MESHKIT_STREAMING_VIEW_DSN: {secret: orders-view, key: dsn}
    env: {MESHKIT_ENV: prod}                   # plain values, never secrets
    resources:                                 # every process without its own setting
      requests: {cpu: 250m, memory: 512Mi}
      limits: {memory: 1Gi}
    products:
      order:
        resources: {requests: {cpu: "1", memory: 1Gi}, limits: {memory: 2Gi}}
        flow: {processes: 2, workers: 2, storage: 5Gi}
    cdc:
      resources: {requests: {cpu: 100m, memory: 256Mi}}
      storage: 1Gi
    dagster:
      resources: {requests: {cpu: 250m, memory: 512Mi}}

Problems are reported as ``deploy.yaml:LINE:COLUMN: FIELD: what was expected``, without
the value written there (a value may be a secret pasted by mistake).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from meshkit.errors import ConfigError
from meshkit.settings import read_yaml_mapping

FILE_NAME = "deploy.yaml"
DEFAULT_METRICS_PORT = 9464

# Kubernetes' quantity syntax (the pattern of its OpenAPI schema, anchored).
_QUANTITY = re.compile(
    r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$",
)
# Names of environment variables whose value is a secret: these come from Secrets only.
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|DSN|CREDENTIAL|PRIVATE|API_?KEY|MASTER_KEY|SASL)",
    re.IGNORECASE,
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("expected a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi")
    return value


def _dns_name(value: str) -> str:
    if len(value) > 253 or not _DNS_NAME.match(value):
        raise ValueError(
            "expected a Kubernetes name: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("expected an environment variable name (letters, digits, '_')")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
KubeName = Annotated[str, AfterValidator(_dns_name)]
EnvName = Annotated[str, AfterValidator(_env_name)]
ResourceName = Annotated[str, Field(pattern=r"^(cpu|memory|ephemeral-storage)$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Model):
    """Container resource requests and limits (Kubernetes quantities)."""

    requests: dict[ResourceName, Quantity] = Field(default_factory=dict)
    limits: dict[ResourceName, Quantity] = Field(default_factory=dict)

    def to_k8s(self) -> dict[str, dict[str, str]]:
        """The ``resources`` of a container."""
        out: dict[str, dict[str, str]] = {}
        if self.requests:
            out["requests"] = dict(self.requests)
        if self.limits:
            out["limits"] = dict(self.limits)
        return out


class SecretKey(_Model):
    """One key of a Secret (``secretKeyRef``)."""

    secret: KubeName
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]


class FlowSettings(_Model):
    """How a product's Bytewax flow runs: a cluster of ``processes`` x ``workers``."""

    processes: int = Field(default=1, ge=1, le=256, description="pods of the StatefulSet")
    workers: int = Field(default=1, ge=1, le=64, description="workers per process")
    storage: Quantity = Field(default="1Gi", description="recovery volume of each process")
    storage_class: KubeName | None = None
    snapshot_interval: int = Field(default=30, ge=1, description="seconds")
    backup_interval: int = Field(default=0, ge=0, description="seconds")
    port: int = Field(default=2101, ge=1, le=65535, description="Bytewax cluster port")


class ProductSettings(_Model):
    """Per product: the resources of its flow's processes and how the flow scales."""

    resources: Resources | None = None
    flow: FlowSettings = FlowSettings()


class CdcSettings(_Model):
    """The CDC captures (one Deployment per service database)."""

    resources: Resources | None = None
    storage: Quantity = Field(default="1Gi", description="capture state volume")
    storage_class: KubeName | None = None


class DagsterSettings(_Model):
    """The Dagster code location (values for the Dagster Helm chart's user deployments)."""

    enabled: bool = True
    port: int = Field(default=3030, ge=1, le=65535)
    resources: Resources | None = None


DEFAULT_RESOURCES = Resources(
    requests={"cpu": "250m", "memory": "512Mi"},
    limits={"memory": "1Gi"},
)


class DeploySettings(_Model):
    """Everything ``meshkit deploy render`` reads besides the domain's code and contracts."""

    image: str | None = Field(default=None, min_length=1, pattern=r"^[^\s:@]+(:\d+)?[^\s:@]*$")
    tag: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    namespace: KubeName | None = None
    metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=1, le=65535)
    kafka_brokers: str | None = Field(default=None, pattern=r"^[^\s]+$")
    secrets: list[KubeName] | None = None
    secret_env: dict[EnvName, SecretKey] = Field(default_factory=dict)
    env: dict[EnvName, str] = Field(default_factory=dict)
    service_account: KubeName | None = None
    resources: Resources = DEFAULT_RESOURCES
    products: dict[str, ProductSettings] = Field(default_factory=dict)
    cdc: CdcSettings = CdcSettings()
    dagster: DagsterSettings = DagsterSettings()

    def product(self, name: str) -> ProductSettings:
        """The settings of one product (defaults when it has none)."""
        return self.products.get(name, ProductSettings())

    def secret_names(self, domain: str) -> list[str]:
        """The Secrets given whole (``envFrom``) to every process."""
        return list(self.secrets) if self.secrets is not None else [f"{domain}-secrets"]


def _where(path: Path, doc: Any, loc: tuple[Any, ...], *, key: bool = False) -> str:
    line, column = doc.position(tuple(loc), key=key)
    return f"{path}:{line}:{column}"


def load_settings(
    path: Path, *, products: Collection[str] = (), flows: Collection[str] = ()
) -> DeploySettings:
    """The settings in ``path``; the defaults when the file does not exist.

    ``products`` are the domain's products and ``flows`` those with a flow: a setting for
    another name is refused. ``ConfigError`` lists every problem as
    ``file:line:column: field: what was expected``.
    """
    if not path.exists():
        return DeploySettings()
    data, doc = read_yaml_mapping(path, "deployment settings")
    problems = []
    for name, value in data.get("env", {}).items() if isinstance(data.get("env"), dict) else []:
        if isinstance(name, str) and SECRET_NAME.search(name) and value not in (None, ""):
            where = _where(path, doc, ("env", name), key=True)
            problems.append(
                f"{where}: env.{name}: a secret is never written "
                f"here (the manifests would carry it); put it in a Secret and name it under "
                f"'secrets' (the whole Secret) or 'secret_env' ({name}: {{secret: NAME, key: "
                f"KEY}})"
            )
    try:
        settings = DeploySettings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            key = error["type"] == "extra_forbidden"
            if key:
                message = "not a deployment setting (see meshkit's docs/production.md)"
            problems.append(f"{_where(path, doc, loc, key=key)}: {field}: {message}")
        # not chained: the validation error holds the input values
        raise ConfigError("\n".join(problems)) from None
    for name, product in settings.products.items():
        if name not in products:
            known = ", ".join(sorted(products)) or "none"
            where = _where(path, doc, ("products", name), key=True)
            problems.append(
                f"{where}: products.{name}: no contract of "
                f"the domain is named {name!r} (products: {known})"
            )
        elif "flow" in product.model_fields_set and name not in flows:
            problems.append(
                f"{_where(path, doc, ('products', name, 'flow'))}: products.{name}.flow: "
                f"the product has no Bytewax flow (no flow module names its contract)"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return settings
