"""Helpers to bake the domain template and work inside the baked repository.

A baked repo is installed (editable, without its dependencies) into a small virtual
environment that sees the workspace's packages through a ``.pth`` file, so nothing is
downloaded and the workspace's own environment is never modified.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
BIN = Path(sys.executable).parent
COMBOS = [(parts, wh) for parts in ("both", "batch", "streaming") for wh in ("duckdb", "bigquery")]


@dataclass
class Baked:
    repo: Path
    python: Path
    answers: dict[str, str]


def run_status(cmd: list[str], cwd: Path, timeout: float = 300, **env: str) -> tuple[int, str]:
    """Run ``cmd`` with the workspace's tools first on PATH: (exit code, stdout + stderr)."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
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
