"""Helpers to bake the domain template and work inside the baked repository.

Two ways to install a baked repo:

- ``install``: editable, without its dependencies, into a small virtual environment that
  sees the workspace's packages through a ``.pth`` file (nothing is downloaded; for the
  option-combination tests);
- ``released_index`` + ``uv sync``: the way a domain team installs, from a real package
  index into which this checkout's HEAD was released with ``meshkit-platform sdk release``.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
BIN = Path(sys.executable).parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "release test", "GIT_AUTHOR_EMAIL": "release@example.com",
    "GIT_COMMITTER_NAME": "release test", "GIT_COMMITTER_EMAIL": "release@example.com",
}  # fmt: skip
COMBOS = [(parts, wh) for parts in ("both", "batch", "streaming") for wh in ("duckdb", "bigquery")]


@dataclass
class Baked:
    repo: Path
    python: Path
    answers: dict[str, str]


def run_status(cmd: list[str], cwd: Path, timeout: float = 300, **env: str) -> tuple[int, str]:
    """Run ``cmd`` with the workspace's tools first on PATH: (exit code, stdout + stderr)."""
    path = os.pathsep.join([str(BIN), str(UV.parent), os.environ["PATH"]])
    full_env = {**os.environ, "PATH": path, **env}
    full_env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def run(cmd: list[str], cwd: Path, timeout: float = 300, **env: str) -> str:
    """Run ``cmd``; fail the test with its output when it fails."""
    code, out = run_status(cmd, cwd, timeout, **env)
    assert code == 0, f"{' '.join(map(str, cmd))} failed ({code}) in {cwd}:\n{out[-6000:]}"
    return out


def bake(output_dir: Path, template: Path = ROOT, **answers: Any) -> Path:
    """Generate a domain repo from the template (no prompts); returns its directory."""
    from cookiecutter.main import cookiecutter

    context = {"meshkit_path": str(ROOT / "sdk"), **answers}
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(template),
            directory="template",
            no_input=True,
            extra_context=context,
            output_dir=str(output_dir),
        )
    )


def git_commit(repo: Path, message: str = "generated from the meshkit template") -> None:
    if not (repo / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm",
         message, "--allow-empty"],
        repo,
    )  # fmt: skip


def install(repo: Path, venv: Path) -> Path:
    """Install ``repo`` editable, without dependencies, into a venv seeing the workspace."""
    run([str(UV), "venv", "-q", "-p", sys.executable, str(venv)], repo)
    (py,) = venv.glob("lib/python3.*/site-packages")
    workspace = site.getsitepackages()[0]
    (py / "_meshkit_workspace.pth").write_text(f"import site; site.addsitedir({workspace!r})\n")
    python = venv / "bin" / "python"
    run([str(UV), "pip", "install", "-q", "--offline", "--no-deps", "-p", str(python), "-e",
         str(repo)], repo)  # fmt: skip
    return python


@dataclass
class Released:
    """A running package index holding a release of this checkout's HEAD."""

    clone: Path
    state_dir: Path
    simple_url: str
    output: str


def release_head(base: Path, *extra: str) -> tuple[Path, Path, int, str]:
    """Clone HEAD, start a package index, run ``meshkit-platform sdk release --index local``.

    Returns (clone, state dir, exit code, output); the caller stops the index
    (``meshkit local down --state-dir``).
    """
    clone = base / "meshkit"
    run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], base)
    state = base / "state"
    run([str(BIN / "meshkit"), "local", "up", "--only", "index", "--state-dir", str(state)],
        base, MESHKIT_LOCAL_INDEX_PORT="0")  # fmt: skip
    code, out = release(clone, state, *extra)
    return clone, state, code, out


def release(clone: Path, state: Path, *extra: str) -> tuple[int, str]:
    """``meshkit-platform sdk release --index local`` of ``clone``: (exit code, output)."""
    cmd = [str(BIN / "meshkit-platform"), "sdk", "release", "--index", "local",
           "--state-dir", str(state), *extra]  # fmt: skip
    return run_status(cmd, clone, **GIT_IDENTITY)


def stop_index(state: Path) -> None:
    run([str(BIN / "meshkit"), "local", "down", "--state-dir", str(state)], state.parent)


@pytest.fixture(scope="session")
def released_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    """This checkout's HEAD released into a local package index (one per test session)."""
    base = tmp_path_factory.mktemp("released")
    clone, state, code, out = release_head(base)
    try:
        assert code == 0, out
        summary, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])  # stdout first
        url = summary["index"]
        yield Released(clone, state, url, out)
    finally:
        stop_index(state)
