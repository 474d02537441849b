"""The template's deploy workflow: its render and validate steps, run as CI runs them.

The steps' commands are taken from the generated ``.github/workflows/deploy.yaml`` and run
in a freshly baked domain, with the workspace's tools standing in for ``uv run`` and
``uvx`` (the same kubernetes-validate version the workflow pins). A manifest broken
after rendering makes the validate step fail.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.template.conftest import bake

BIN = Path(sys.executable).parent


def _steps(repo: Path) -> tuple[dict[str, str], dict[str, str]]:
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "deploy.yaml").read_text())
    steps = {s["name"]: s["run"] for s in workflow["jobs"]["manifests"]["steps"] if "name" in s}
    return steps, {k: str(v) for k, v in workflow["env"].items()}


def _local(command: str) -> str:
    """The command with the workspace's tools for ``uv run`` and a pinned ``uvx``."""
    command = command.replace("uv run ", "")
    return re.sub(r"uvx --from \S+ ", "", command)


def _run(command: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(BIN), os.environ["PATH"]])
    return subprocess.run(
        ["bash", "-e", "-c", _local(command)],
        cwd=repo,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_generated_workflow_renders_and_validates_the_manifests(tmp_path: Path) -> None:
    repo = bake(tmp_path, domain_name="Loyalty Points", product_name="member", parts="both")
    steps, env = _steps(repo)
    validate = steps["validate the manifests (strict, offline schemas)"]
    pinned = re.search(r"kubernetes-validate==(\S+)", validate)
    assert pinned is not None
    assert pinned.group(1) == importlib.metadata.version("kubernetes-validate")

    rendered = _run(steps["render the deployment artifacts"], repo, env)
    assert rendered.returncode == 0, rendered.stderr
    manifests = sorted((repo / "build" / "deploy" / "k8s").glob("*.yaml"))
    assert [p.name for p in manifests] == ["cdc-loyalty-points.yaml", "flow-member.yaml"]

    checked = _run(validate, repo, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(" passed for resource ") == 4  # 2 documents in each file
    assert "against version 1.33" in checked.stdout

    flow = repo / "build" / "deploy" / "k8s" / "flow-member.yaml"
    flow.write_text(flow.read_text().replace("replicas: 1", "replicas: one"))
    broken = _run(validate, repo, env)
    assert broken.returncode != 0
    assert "replicas" in broken.stdout + broken.stderr
