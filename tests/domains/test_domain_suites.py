"""Each example domain's own test suite passes, run the way the domain team runs it (from
the domain's directory, its package on the path) with the SDK of this checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template.conftest import ROOT

DOMAINS = sorted(p.parent.name for p in (ROOT / "domains").glob("*/.cruft.json"))


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_suite_passes(domain: str, tmp_path: Path) -> None:
    repo = ROOT / "domains" / domain
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "pytest")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=500, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"domains/{domain} tests failed:\n{proc.stdout[-4000:]}"
    assert " passed" in proc.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("domain", DOMAINS)
def test_dagster_definitions_validate(domain: str, tmp_path: Path) -> None:
    """`dagster definitions validate` in the domain's directory, found by [tool.dagster]."""
    repo = ROOT / "domains" / domain
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "DAGSTER_HOME": str(tmp_path)}
    env.pop("MESHKIT_MASTER_KEY", None)  # loading definitions needs no secrets
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert f"Validation successful for code location {domain}" in output
