"""The local stack's package index: a real PyPI server that takes uploads with the stack's
password only, serves them to installers, and whose endpoints ``meshkit local env`` prints."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.local import LocalSettings, LocalStack, PackageIndex

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[3]
UV = ROOT / ".tools" / "bin" / "uv"
MESHKIT = str(Path(sys.executable).with_name("meshkit"))


def tiny_wheel(directory: Path, name: str = "tiny_pkg", version: str = "1.0.0") -> Path:
    """A minimal valid wheel (one module), made without any build backend."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def index(tmp_path: Path) -> Iterator[PackageIndex]:
    settings = LocalSettings(state_dir=tmp_path / "state", index_port=0)
    stack = LocalStack(settings, services=["index"])
    stack.up()
    service = stack.service("index")
    assert isinstance(service, PackageIndex)
    yield service
    stack.down()


def publish(wheel: Path, url: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PUBLISH_USERNAME": user, "UV_PUBLISH_PASSWORD": password}
    return subprocess.run(
        [str(UV), "publish", "--publish-url", url, str(wheel)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_uploads_need_the_stack_password_and_installers_see_them(
    index: PackageIndex, tmp_path: Path
) -> None:
    address = index.address()
    assert address is not None
    creds = index.credentials()
    assert stat.S_IMODE(index.credentials_path.stat().st_mode) == 0o600
    wheel = tiny_wheel(tmp_path)

    refused = publish(wheel, address + "/", creds.username, "wrong-password")
    assert refused.returncode != 0
    assert not list(index.packages_dir.iterdir())

    accepted = publish(wheel, address + "/", creds.username, creds.password)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert [p.name for p in index.packages_dir.iterdir()] == [wheel.name]

    with urllib.request.urlopen(f"{address}/simple/tiny-pkg/", timeout=5) as response:
        assert wheel.name in response.read().decode()
    status = index.status()
    assert status.healthy, status.detail
    assert "1 package(s)" in status.detail

    # No fallback to the public index for a name it does not hold.
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{address}/simple/requests/", timeout=5)
    missing.value.close()
    assert missing.value.code == 404


def test_local_env_prints_exports_and_json(index: PackageIndex) -> None:
    env = {**os.environ, "MESHKIT_LOCAL_STATE_DIR": str(index.settings.state_dir)}
    shell = subprocess.run(
        [MESHKIT, "local", "env"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert f"export MESHKIT_INDEX_URL={index.address()}/simple/" in shell.stdout.splitlines()
    as_json = subprocess.run(
        [MESHKIT, "local", "env", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(as_json.stdout) == {"MESHKIT_INDEX_URL": f"{index.address()}/simple/"}


def test_local_env_without_a_stack_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "MESHKIT_LOCAL_STATE_DIR": str(tmp_path / "none")}
    proc = subprocess.run(
        [MESHKIT, "local", "env"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert "not running" in proc.stderr
    assert "meshkit local up" in proc.stderr
    assert "Traceback" not in proc.stderr
