"""The registry as a service of the local stack: started by ``meshkit local up --with
registry``, checked by ``status``, exported by ``env``; skipped when the platform package
is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from meshkit.local import LocalSettings, LocalStack
from meshkit.local import registry as registry_module

pytestmark = pytest.mark.services

MESHKIT = str(Path(sys.executable).with_name("meshkit"))


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MESHKIT, "local", *args, "--state-dir", str(state_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_local_up_with_registry_serves_the_catalog_and_status_checks_it(tmp_path: Path) -> None:
    state = tmp_path / "stack"
    try:
        up = cli(state, "up", "--only", "registry")
        assert up.returncode == 0, up.stdout + up.stderr
        env = cli(state, "env", "--json")
        assert env.returncode == 0, env.stderr
        url = json.loads(env.stdout)["MESHKIT_REGISTRY_URL"]
        assert url.startswith("http://127.0.0.1:")
        # the registry answers with its catalog in the stack's own PostgreSQL
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            assert response.status == 200
        # status checks the registry (the default services were not asked for here)
        status = cli(state, "status")
        assert "not healthy: kafka, warehouse, search, index (" in status.stderr, status.stdout
        lines = {line.split()[1]: line for line in status.stdout.splitlines() if "│" in line}
        assert "registry ready" in lines["registry"]
        assert "postgres" in lines  # the registry's catalog database runs beside it
        # the registry dies: status says so and exits 1
        pid = LocalStack(LocalSettings(state_dir=state)).service("registry").record()
        assert pid is not None
        assert pid.pid is not None
        os.kill(pid.pid, 9)
        status = cli(state, "status")
        assert status.returncode == 1
        assert "index, registry (" in status.stderr
        assert f"process {pid.pid} is gone" in status.stdout
    finally:
        down = cli(state, "down")
    assert down.returncode == 0, down.stderr
    assert "registry" in down.stdout or "postgres" in down.stdout


def test_without_the_platform_package_the_registry_is_skipped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "platform_executable", lambda: None)
    stack = LocalStack(LocalSettings(state_dir=tmp_path), services=["registry"])
    try:
        endpoints = stack.up()
        assert endpoints.registry is None
        assert endpoints.postgres is not None
        rows = {row.service: row for row in stack.status()}
        assert rows["registry"].skipped
        assert "platform package is not installed" in rows["registry"].detail
        assert rows["postgres"].healthy
    finally:
        stack.down()
