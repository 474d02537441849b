"""Deployment artifacts of a domain: a Dockerfile, Kubernetes manifests, Dagster Helm values.

``meshkit deploy render -o DIR`` (:func:`render`) reads the domain repository (its
``pyproject.toml``, contracts and flow modules, never importing them) and the optional
``deploy.yaml`` (:class:`DeploySettings`), and writes what a platform team deploys. The
guide is meshkit's ``docs/production.md``.
"""

from meshkit.deploy.domain import Capture, Domain, Flow, read_domain
from meshkit.deploy.render import Rendered, build, render
from meshkit.deploy.settings import DeploySettings, load_settings

__all__ = [
    "Capture",
    "DeploySettings",
    "Domain",
    "Flow",
    "Rendered",
    "build",
    "load_settings",
    "read_domain",
    "render",
]
