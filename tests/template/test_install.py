"""A domain repo installs the way a domain team installs it: the SDK released into a real
package index, the template baked with its default answers (the index named in them),
``uv sync`` from that index (no workspace, no path source), then the domain's own tests,
and a plain ``git commit`` that runs the pre-commit hooks without an activated environment."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

import pytest

from tests.template.conftest import UV, Released, bake, git_commit, run, run_status


@pytest.fixture(scope="module")
def synced(released_index: Released, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baked with default answers but the index, synced, committed (as the guide says)."""
    base = tmp_path_factory.mktemp("install")
    repo = bake(base / "out", meshkit_path="", package_index=released_index.simple_url)
    run([str(UV), "sync", "--python", sys.executable], repo, timeout=600)
    git_commit(repo)
    return repo


def test_a_default_bake_resolves_meshkit_from_the_index_and_commits_the_lock(
    synced: Path, released_index: Released
) -> None:
    project = tomllib.loads((synced / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == ["meshkit~=0.1.0"]
    assert project["tool"]["uv"]["index"] == [
        {"name": "meshkit", "url": released_index.simple_url, "explicit": True}
    ]
    assert project["tool"]["uv"]["sources"] == {"meshkit": {"index": "meshkit"}}
    lock = (synced / "uv.lock").read_text()
    meshkit = lock[lock.index('[[package]]\nname = "meshkit"\n') :].split("\n\n")[0]
    assert f'source = {{ registry = "{released_index.simple_url}" }}' in meshkit, meshkit
    assert "editable" not in meshkit
    assert "path" not in meshkit
    # What the guide commits first: the lock file with the rest, so CI's --frozen has it.
    assert "uv.lock" in run(["git", "ls-files"], synced).split()
    version = run([str(UV), "run", "--frozen", "python", "-c",
                   "import importlib.metadata as m, meshkit; print(m.version('meshkit'), "
                   "meshkit.__file__)"], synced)  # fmt: skip
    assert version.split()[0] == "0.1.0"
    assert str(synced / ".venv") in version.split()[1]


def test_the_domain_tests_pass_in_the_synced_environment(synced: Path, tmp_path: Path) -> None:
    out = run([str(UV), "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider",
               "--basetemp", str(tmp_path / "t")], synced, timeout=600)  # fmt: skip
    assert re.search(r"^\d+ passed\b", out, re.MULTILINE), out[-3000:]


def test_a_plain_git_commit_runs_the_hooks_without_an_activated_environment(
    synced: Path, tmp_path: Path
) -> None:
    home = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    run([str(UV), "run", "--frozen", "pre-commit", "install"], synced, **home)

    # Only the system's directories and uv's: no meshkit, ruff or pre-commit on PATH.
    bare = os.pathsep.join([str(UV.parent), "/usr/bin", "/bin"])
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    contract = synced / "contracts" / "account.yaml"
    contract.write_text(contract.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    run(["git", "add", "-A"], synced)
    code, out = run_status(["git", *identity, "commit", "-m", "minor bump"], synced,
                           PATH=bare, VIRTUAL_ENV="", **home)  # fmt: skip
    assert code == 0, out
    assert re.search(r"meshkit contract lint\.+Passed", out), out
    assert re.search(r"breaking-change gate\)\.+Passed", out), out
    assert "not found" not in out, out

    # And the gate stops a breaking change at commit time.
    text = contract.read_text()
    contract.write_text("".join(line for line in text.splitlines(keepends=True)
                                if "name: country" not in line))  # fmt: skip
    run(["git", "add", "-A"], synced)
    code, out = run_status(["git", *identity, "commit", "-m", "drop country"], synced,
                           PATH=bare, VIRTUAL_ENV="", **home)  # fmt: skip
    assert code == 1, out
    assert re.search(r"breaking-change gate\)\.+Failed", out), out
