"""The Dagster code location as values for the official Dagster Helm chart.

The ``dagster`` chart runs the webserver, the daemon and the instance (PostgreSQL storage,
the ``K8sRunLauncher``) from the platform team's values; each domain adds its code
location under ``dagster-user-deployments.deployments``: the domain's image, serving
``dagster api grpc -m <module>`` on the chart's port, the domain's Secrets through
``envSecrets`` (never values), and its resources. ``includeConfigInLaunchedRuns`` gives a
run's pod the same image, environment and Secrets.
"""

from __future__ import annotations

from typing import Any

from meshkit.deploy.domain import Domain
from meshkit.deploy.manifests import (
    UID,
    environment,
    image_ref,
    k8s_name,
    labels,
)
from meshkit.deploy.settings import DeploySettings


def user_deployment(domain: Domain, settings: DeploySettings) -> dict[str, Any]:
    """One entry of ``dagster-user-deployments.deployments``."""
    assert domain.dagster_module is not None
    repository, tag = image_ref(domain, settings)
    name = k8s_name(domain.name, "dagster")
    env, env_from = environment(domain, settings)
    secrets = [ref["secretRef"] for ref in env_from if "secretRef" in ref]
    config_maps = [ref["configMapRef"] for ref in env_from if "configMapRef" in ref]
    env = [e for e in env if e["name"] != "MESHKIT_METRICS_PORT"]  # the code server has none
    return {
        "name": name,
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "dagsterApiGrpcArgs": [
            "-m",
            domain.dagster_module,
            "--working-directory",
            "/app",
            "--location-name",
            domain.dagster_location or domain.name,
        ],
        "port": settings.dagster.port,
        "includeConfigInLaunchedRuns": {"enabled": True},
        "env": env,
        "envConfigMaps": config_maps,
        "envSecrets": secrets,
        "labels": {
            k: v for k, v in labels(domain, settings, name, "dagster").items() if "name" not in k
        },
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
        },
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": (settings.dagster.resources or settings.resources).to_k8s(),
    }


def helm_values(domain: Domain, settings: DeploySettings) -> dict[str, Any]:
    """Values for the ``dagster`` chart: this domain's user deployment."""
    return {
        "dagster-user-deployments": {
            "enabled": True,
            "enableSubchart": True,
            "deployments": [user_deployment(domain, settings)],
        }
    }
