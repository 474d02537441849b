"""A domain repo installs the way a domain team installs it: the SDK released into a real
package index, the template baked with its default answers (the index named in them),
``uv sync`` from that index (no workspace, no path source), then the domain's own tests."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from tests.template.conftest import UV, Released, bake, git_commit, run


def test_a_default_bake_syncs_from_the_index_and_its_tests_pass(
    released_index: Released, tmp_path: Path
) -> None:
    repo = bake(tmp_path / "out", meshkit_path="", package_index=released_index.simple_url)
    project = tomllib.loads((repo / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == ["meshkit~=0.1.0"]
    assert project["tool"]["uv"]["index"] == [
        {"name": "meshkit", "url": released_index.simple_url, "explicit": True}
    ]
    assert project["tool"]["uv"]["sources"] == {"meshkit": {"index": "meshkit"}}

    run([str(UV), "sync", "--python", sys.executable], repo, timeout=600)
    lock = (repo / "uv.lock").read_text()
    meshkit = lock[lock.index('[[package]]\nname = "meshkit"\n') :].split("\n\n")[0]
    assert f'source = {{ registry = "{released_index.simple_url}" }}' in meshkit, meshkit
    assert "editable" not in meshkit
    assert "path" not in meshkit

    # What the guide commits first: the lock file with the rest, so CI's --frozen has it.
    git_commit(repo)
    tracked = run(["git", "ls-files"], repo).split()
    assert "uv.lock" in tracked

    out = run([str(UV), "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider",
               "--basetemp", str(tmp_path / "t")], repo, timeout=600)  # fmt: skip
    assert re.search(r"^\d+ passed\b", out, re.MULTILINE), out[-3000:]
    version = run([str(UV), "run", "--frozen", "python", "-c",
                   "import importlib.metadata as m, meshkit; print(m.version('meshkit'), "
                   "meshkit.__file__)"], repo)  # fmt: skip
    assert version.split()[0] == "0.1.0"
    assert str(repo / ".venv") in version.split()[1]
