"""Both distributions build wheels, and the SDK wheel installs and imports in a clean venv."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def _uv() -> str:
    if UV.exists():
        return str(UV)
    pytest.fail("uv is missing: run ./dev sync (the README's commands install it)")


@pytest.mark.slow
def test_wheels_build_and_sdk_imports_in_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for package in ("meshkit", "meshkit-platform"):
        subprocess.run(
            [_uv(), "build", "--wheel", "--package", package, "--out-dir", str(dist)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    assert any(w.startswith("meshkit-0.") for w in wheels), wheels
    assert any(w.startswith("meshkit_platform-0.") for w in wheels), wheels

    sdk_wheel = next(dist.glob("meshkit-0.*.whl"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    # Install the wheel with its dependencies pinned by the workspace lock (no re-resolution).
    reqs = tmp_path / "requirements.txt"
    subprocess.run(
        [
            _uv(),
            "export",
            "--frozen",
            "--package",
            "meshkit",
            "--no-emit-workspace",
            "--no-hashes",
            "-o",
            str(reqs),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [_uv(), "pip", "install", "--python", str(python), "-r", str(reqs), str(sdk_wheel)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(python), "-c", "import meshkit, meshkit.cli; print(meshkit.__version__)"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "0.1.0"
    # The platform is not installed beside it: the SDK stands alone.
    probe = subprocess.run(
        [str(python), "-c", "import meshkit_platform"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0
    assert sys.version_info[:2] in {(3, 11), (3, 12)}
