"""Render a domain's deployment: the Dockerfile, Kubernetes manifests, Dagster Helm values.

``render(repo, out)`` writes::

    out/Dockerfile                     (and Dockerfile.dockerignore beside it)
    out/k8s/cdc-<database>.yaml        PersistentVolumeClaim + Deployment, per service database
    out/k8s/flow-<product>.yaml        headless Service + StatefulSet, per Bytewax flow
    out/helm/dagster-values.yaml       the code location, for the Dagster Helm chart

and removes the files an earlier render wrote there that this one does not (a flow that
was removed must not stay deployable). Nothing is read from the environment: what the
processes need at run time comes from the Secrets the manifests reference.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshkit.deploy.dagster import helm_values
from meshkit.deploy.docker import DOCKERIGNORE, dockerfile
from meshkit.deploy.domain import Domain, read_domain
from meshkit.deploy.manifests import Manifest, cdc_manifests, flow_manifests, k8s_name
from meshkit.deploy.settings import FILE_NAME, DeploySettings, load_settings
from meshkit.errors import ConfigError

RECORD = ".meshkit-deploy"
HEADER = "# Written by `meshkit deploy render` from the domain's contracts and {settings}.\n"


@dataclass
class Rendered:
    """What a render produced: files by path relative to the output directory."""

    domain: Domain
    settings: DeploySettings
    files: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, list[Manifest]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order written, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True


def _yaml(documents: list[Any], header: str) -> str:
    body = "---\n".join(
        yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for d in documents
    )
    return header + body


def build(repo: Path, settings_path: Path | None = None) -> Rendered:
    """Everything a render writes, in memory (no file is written)."""
    domain = read_domain(repo)
    path = settings_path if settings_path is not None else repo / FILE_NAME
    if settings_path is not None and not settings_path.is_file():
        raise ConfigError(f"{settings_path}: no such settings file")
    settings = load_settings(
        path, products=domain.products, flows={f.product for f in domain.flows}
    )
    rendered = Rendered(domain, settings)
    header = HEADER.format(settings=path.name if path.exists() else "the default settings")
    for capture in domain.captures:
        rel = f"k8s/{k8s_name('cdc', capture.database)}.yaml"
        rendered.manifests[rel] = cdc_manifests(domain, settings, capture)
    for flow in domain.flows:
        rel = f"k8s/{k8s_name('flow', flow.product)}.yaml"
        rendered.manifests[rel] = flow_manifests(domain, settings, flow)
    for rel, documents in rendered.manifests.items():
        rendered.files[rel] = _yaml(documents, header)
    if domain.dagster_module is not None and settings.dagster.enabled:
        rendered.files["helm/dagster-values.yaml"] = _yaml([helm_values(domain, settings)], header)
        if "dagster-postgres" not in domain.locked:
            rendered.notes.append(
                "uv.lock holds no dagster-postgres: Dagster's runs cannot write to its "
                "PostgreSQL storage from this image; depend on meshkit[production]"
            )
    dagster_yaml = (repo / "deploy" / "dagster.yaml").is_file()
    rendered.files["Dockerfile"] = dockerfile(
        domain, settings, list(domain.indexes), dagster_yaml=dagster_yaml
    )
    rendered.files["Dockerfile.dockerignore"] = DOCKERIGNORE
    if not domain.has_lock:
        rendered.notes.append(
            "no uv.lock in the repository: the image installs the locked dependencies "
            "(uv sync --frozen), so run 'uv lock' and commit uv.lock before building it"
        )
    return rendered


def render(repo: Path, out: Path, settings_path: Path | None = None) -> Rendered:
    """Render the domain at ``repo`` into ``out`` (see the module docstring)."""
    rendered = build(repo, settings_path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    record = out / RECORD
    previous: list[str] = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        previous = record.read_text(encoding="utf-8").split()
    for rel in previous:
        if rel not in rendered.files and "/.." not in f"/{rel}" and not rel.startswith("/"):
            (out / rel).unlink(missing_ok=True)
    for rel, text in rendered.files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    record.write_text("\n".join(sorted(rendered.files)) + "\n", encoding="utf-8")
    return rendered
