"""The Kubernetes objects of a domain: CDC Deployments and one StatefulSet per Bytewax flow.

- **CDC**: per service database a Deployment of one replica (a replication slot has one
  reader; ``Recreate`` never runs two) running ``meshkit cdc run`` for the tables the
  contracts read from it, with a PersistentVolumeClaim for the capture's state (so a
  restart does not snapshot again). The connection comes from libpq's ``PG*`` variables
  in the Secrets, never from the command line: ``--dsn dbname=<database>`` names only the
  database.
- **Flows**: per flow a headless Service and a StatefulSet whose replicas are the flow's
  processes; each pod runs ``python -m meshkit.deploy.flow <module>:flow`` (the metrics
  and health port from the start, then ``python -m bytewax.run``) with the cluster's
  addresses in ``BYTEWAX_ADDRESSES`` (``<pod>.<service>:<port>``, one per process) and its
  process id from its pod name (``BYTEWAX_POD_NAME`` / ``BYTEWAX_STATEFULSET_NAME``), and
  keeps its recovery partition on a volume of its own (``volumeClaimTemplates``), made by
  the init container ``python -m meshkit.deploy.recovery``.

Every pod: the image's non-root user, a read-only root file system, secrets only through
``envFrom.secretRef`` / ``secretKeyRef``, JSON logs (``MESHKIT_LOG_FORMAT=json``), probes
on ``/healthz`` and ``/readyz`` of the metrics port (``MESHKIT_METRICS_PORT``), and
Prometheus scrape annotations for ``/metrics`` on that port.
"""

from __future__ import annotations

import re
from typing import Any

from meshkit.deploy.domain import Capture, Domain, Flow
from meshkit.deploy.settings import DeploySettings, Resources
from meshkit.errors import ConfigError

UID = 10001
APP_DIR = "/app"
STATE_DIR = "/var/lib/meshkit"
RECOVERY_DIR = f"{STATE_DIR}/recovery"
CDC_STATE_DIR = f"{STATE_DIR}/cdc"
# StatefulSet pods are labelled with a controller revision hash: 63 - 11 characters.
MAX_NAME = 52

Manifest = dict[str, Any]


def k8s_name(*parts: str) -> str:
    """A Kubernetes object name from ``parts``: lowercase, ``-`` for anything else."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if not name or len(name) > MAX_NAME:
        raise ConfigError(
            f"the Kubernetes name {name!r} is {'empty' if not name else 'too long'} "
            f"(at most {MAX_NAME} characters): shorten the domain, product or database name"
        )
    return name


def image_ref(domain: Domain, settings: DeploySettings) -> tuple[str, str]:
    """(repository, tag) of the domain's image."""
    return settings.image or domain.project, settings.tag or domain.version


def labels(domain: Domain, settings: DeploySettings, name: str, component: str) -> dict[str, str]:
    """The recommended ``app.kubernetes.io`` labels of one workload."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": k8s_name(domain.name),
        "app.kubernetes.io/version": image_ref(domain, settings)[1],
        "app.kubernetes.io/managed-by": "meshkit",
    }


def _selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def _metadata(
    name: str, domain: Domain, settings: DeploySettings, component: str
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels(domain, settings, name, component)}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    return meta


def environment(
    domain: Domain, settings: DeploySettings, extra: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``env``, ``envFrom``) of a container: plain values, then secret references."""
    plain: dict[str, dict[str, Any]] = {
        "MESHKIT_ENV": {"name": "MESHKIT_ENV", "value": "prod"},
        "MESHKIT_METRICS_PORT": {
            "name": "MESHKIT_METRICS_PORT",
            "value": str(settings.metrics_port),
        },
        # JSON lines for the cluster's log collector
        "MESHKIT_LOG_FORMAT": {"name": "MESHKIT_LOG_FORMAT", "value": "json"},
    }
    if settings.kafka_brokers:  # the settings' name, and the one flows' settings read
        for name in ("MESHKIT_KAFKA_BROKERS", "MESHKIT_STREAMING_BROKERS"):
            plain[name] = {"name": name, "value": settings.kafka_brokers}
    for item in extra or []:
        plain[item["name"]] = item
    for name, value in settings.env.items():
        plain[name] = {"name": name, "value": value}
    for name, ref in settings.secret_env.items():
        plain[name] = {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}},
        }
    env_from: list[dict[str, Any]] = [
        {"configMapRef": {"name": k8s_name(domain.name, "config"), "optional": True}}
    ]
    env_from += [{"secretRef": {"name": s}} for s in settings.secret_names(domain.name)]
    return list(plain.values()), env_from


def _probes() -> dict[str, Any]:
    def get(path: str) -> dict[str, Any]:
        return {"path": path, "port": "metrics"}

    return {
        "startupProbe": {"httpGet": get("/healthz"), "periodSeconds": 5, "failureThreshold": 60},
        "livenessProbe": {"httpGet": get("/healthz"), "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {"httpGet": get("/readyz"), "periodSeconds": 10, "failureThreshold": 3},
    }


def _scrape(settings: DeploySettings) -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(settings.metrics_port),
        "prometheus.io/path": "/metrics",
    }


def _security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _scratch_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Writable scratch space on a read-only root: /tmp and the SDK's default ./.state."""
    volumes = [{"name": "tmp", "emptyDir": {}}, {"name": "scratch-state", "emptyDir": {}}]
    mounts = [
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir of the pod
        {"name": "scratch-state", "mountPath": f"{APP_DIR}/.state"},
    ]
    return volumes, mounts


def _pod_spec(
    settings: DeploySettings,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": _pod_security(),
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
    }
    if init:
        spec["initContainers"] = init
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    return spec


def _container(
    domain: Domain,
    settings: DeploySettings,
    name: str,
    command: list[str],
    resources: Resources,
    mounts: list[dict[str, Any]],
    env_extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    repository, tag = image_ref(domain, settings)
    env, env_from = environment(domain, settings, env_extra)
    return {
        "name": name,
        "image": f"{repository}:{tag}",
        "imagePullPolicy": "IfNotPresent",
        "command": command[:1],
        "args": command[1:],
        "workingDir": APP_DIR,
        "env": env,
        "envFrom": env_from,
        "ports": [{"name": "metrics", "containerPort": settings.metrics_port, "protocol": "TCP"}],
        "resources": resources.to_k8s(),
        "securityContext": _security(),
        "volumeMounts": mounts,
        **_probes(),
    }


def _claim(size: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return spec


def slot_name(domain: Domain, capture: Capture) -> str:
    """``meshkit_<domain>`` (the CLI's default) or ``meshkit_<domain>_<database>`` for several."""
    base = f"meshkit_{domain.name}"
    name = base if len(domain.captures) == 1 else f"{base}_{capture.database}"
    return re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]


def cdc_manifests(domain: Domain, settings: DeploySettings, capture: Capture) -> list[Manifest]:
    """The PersistentVolumeClaim and Deployment of the capture of one service database."""
    name = k8s_name(domain.name, "cdc", capture.database)
    slot = slot_name(domain, capture)
    args = ["cdc", "run", "--contracts", "contracts", "--dsn", f"dbname={capture.database}"]
    for table in capture.tables:
        args += ["--table", table]
    args += ["--slot", slot, "--publication", slot, "--state-dir", CDC_STATE_DIR, "--quiet"]
    # expanded by Kubernetes from the container's environment (kafka_brokers or the ConfigMap)
    args += ["--bootstrap-servers", "$(MESHKIT_KAFKA_BROKERS)"]
    volumes, mounts = _scratch_volumes()
    volumes.append({"name": "state", "persistentVolumeClaim": {"claimName": f"{name}-state"}})
    mounts.append({"name": "state", "mountPath": CDC_STATE_DIR})
    container = _container(
        domain,
        settings,
        "cdc",
        ["meshkit", *args],
        settings.cdc.resources or settings.resources,
        mounts,
    )
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(f"{name}-state", domain, settings, "cdc"),
        "spec": _claim(settings.cdc.storage, settings.cdc.storage_class),
    }
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, domain, settings, "cdc"),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": _selector(name)},
            "template": {
                "metadata": {
                    "labels": labels(domain, settings, name, "cdc"),
                    "annotations": _scrape(settings),
                },
                "spec": _pod_spec(settings, container, volumes),
            },
        },
    }
    return [claim, deployment]


def flow_addresses(name: str, processes: int, port: int, namespace: str | None) -> str:
    """``BYTEWAX_ADDRESSES``: each pod's stable DNS name in the headless Service, and port."""
    suffix = f".{namespace}.svc" if namespace else ""
    return ";".join(f"{name}-{i}.{name}{suffix}:{port}" for i in range(processes))


def flow_manifests(domain: Domain, settings: DeploySettings, flow: Flow) -> list[Manifest]:
    """The headless Service and StatefulSet of one Bytewax flow."""
    name = k8s_name(domain.name, flow.product, "flow")
    product = settings.product(flow.product)
    scale = product.flow
    bytewax_env: list[dict[str, Any]] = [
        {"name": "BYTEWAX_WORKERS_PER_PROCESS", "value": str(scale.workers)},
        {"name": "BYTEWAX_RECOVERY_DIRECTORY", "value": RECOVERY_DIR},
        {"name": "BYTEWAX_SNAPSHOT_INTERVAL", "value": str(scale.snapshot_interval)},
        {"name": "BYTEWAX_RECOVERY_BACKUP_INTERVAL", "value": str(scale.backup_interval)},
        {"name": "BYTEWAX_STATEFULSET_NAME", "value": name},
        {"name": "BYTEWAX_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    if scale.processes > 1:
        addresses = flow_addresses(name, scale.processes, scale.port, settings.namespace)
        bytewax_env.append({"name": "BYTEWAX_ADDRESSES", "value": addresses})
    else:  # one process: no cluster, process id 0 is implied
        bytewax_env = [e for e in bytewax_env if not e["name"].startswith("BYTEWAX_POD")]
        bytewax_env = [e for e in bytewax_env if e["name"] != "BYTEWAX_STATEFULSET_NAME"]
    volumes, mounts = _scratch_volumes()
    mounts.append({"name": "recovery", "mountPath": RECOVERY_DIR})
    resources = product.resources or settings.resources
    container = _container(
        domain,
        settings,
        "flow",
        ["python", "-m", "meshkit.deploy.flow", f"{flow.module}:flow"],
        resources,
        mounts,
        bytewax_env,
    )
    container["ports"].append({"name": "bytewax", "containerPort": scale.port, "protocol": "TCP"})
    repository, tag = image_ref(domain, settings)
    init = {
        "name": "recovery-partition",
        "image": f"{repository}:{tag}",
        "imagePullPolicy": "IfNotPresent",
        "command": ["python"],
        "args": [
            "-m",
            "meshkit.deploy.recovery",
            RECOVERY_DIR,
            "--count",
            str(scale.processes),
            *(["--index", "0"] if scale.processes == 1 else []),
        ],
        "env": [e for e in bytewax_env if e["name"].startswith("BYTEWAX_")],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": _security(),
        "volumeMounts": [{"name": "recovery", "mountPath": RECOVERY_DIR}],
    }
    meta = _metadata(name, domain, settings, "flow")
    service: Manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "clusterIP": "None",
            # pods find each other before they are ready: the cluster forms first
            "publishNotReadyAddresses": True,
            "selector": _selector(name),
            "ports": [
                {"name": "bytewax", "port": scale.port, "targetPort": "bytewax"},
                {"name": "metrics", "port": settings.metrics_port, "targetPort": "metrics"},
            ],
        },
    }
    template = {
        "metadata": {
            "labels": labels(domain, settings, name, "flow"),
            "annotations": _scrape(settings),
        },
        "spec": _pod_spec(settings, container, volumes, [init]),
    }
    statefulset: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(name, domain, settings, "flow"),
        "spec": {
            "serviceName": name,
            "replicas": scale.processes,
            # every process of a Bytewax cluster starts together and connects to the others
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": _selector(name)},
            "template": template,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "recovery"},
                    "spec": _claim(scale.storage, scale.storage_class),
                }
            ],
        },
    }
    return [service, statefulset]
