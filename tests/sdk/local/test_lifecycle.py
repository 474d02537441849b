"""Start, reuse, check and stop the local stack from Python and from ``meshkit local``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from meshkit.errors import ConfigError, ServiceError
from meshkit.local import KafkaBroker, LocalSettings, LocalStack
from meshkit.local._process import wait_for

pytestmark = pytest.mark.services

MESHKIT = str(Path(sys.executable).with_name("meshkit"))


def recorded_pids(state_dir: Path) -> dict[str, int]:
    pids = {}
    for run in state_dir.glob("*/run.json"):
        data = json.loads(run.read_text())
        if data["pid"] is not None:
            pids[data["service"]] = data["pid"]
    return pids


def running(pid: int) -> bool:
    """A live (non-zombie) process with this pid, or a live member of its process group."""
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if proc.pid == pid or os.getpgid(proc.pid) == pid:
                return True
        except ProcessLookupError:
            continue
    return False


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MESHKIT, "local", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_stack_up_is_idempotent_restarts_dead_services_and_down_stops_all(
    tmp_path: Path,
) -> None:
    stack = LocalStack(LocalSettings(state_dir=tmp_path), services=["kafka", "search"])
    with stack:
        first = recorded_pids(tmp_path)
        assert set(first) == {"kafka", "search"}
        assert all(row.healthy for row in stack.status())
        endpoints = stack.endpoints
        assert endpoints.kafka is not None
        assert endpoints.search is not None
        assert endpoints.search.startswith("http://127.0.0.1:")

        stack.up()  # a second up reuses the running services
        assert recorded_pids(tmp_path) == first

        os.kill(first["search"], signal.SIGKILL)  # a service dies behind our back
        assert wait_for(lambda: not running(first["search"]), 5)
        search_row = next(row for row in stack.status() if row.service == "search")
        assert not search_row.healthy
        assert "is gone" in search_row.detail

        stack.up()  # brings it back
        assert recorded_pids(tmp_path)["kafka"] == first["kafka"]
        assert recorded_pids(tmp_path)["search"] != first["search"]
        assert all(row.healthy for row in stack.status())
        last = recorded_pids(tmp_path)
    assert not any(running(pid) for pid in last.values())
    assert recorded_pids(tmp_path) == {}
    assert not any(row.healthy for row in stack.status())


def test_unknown_service_names_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown service"):
        LocalStack(services=["kafka", "redis"])


def test_cli_up_status_down_leaves_no_process_behind(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # The index's port is fixed by default (3141): a free one here, beside any user's stack.
    env = {"MESHKIT_LOCAL_STATE_DIR": str(state), "MESHKIT_LOCAL_INDEX_PORT": "0"}

    up = cli("up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    pids = recorded_pids(state)
    # the warehouse is a file, no process
    assert set(pids) == {"kafka", "postgres", "search", "index"}
    assert all(running(pid) for pid in pids.values())  # they outlive the `up` command

    status = cli("status", "--state-dir", str(state))
    assert status.returncode == 0, status.stdout + status.stderr
    for service in ("kafka", "postgres", "warehouse", "search", "index"):
        assert service in status.stdout
    assert "127.0.0.1:" in status.stdout
    assert "wal_level=logical" in status.stdout
    assert " no " not in status.stdout

    again = cli("up", env=env)  # idempotent
    assert again.returncode == 0, again.stdout + again.stderr
    assert recorded_pids(state) == pids

    down = cli("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped:" in down.stdout
    assert wait_for(lambda: not any(running(pid) for pid in pids.values()), 10)
    assert recorded_pids(state) == {}

    stopped = cli("status", "--state-dir", str(state))
    assert stopped.returncode == 1
    assert "not running" in stopped.stderr
    assert "meshkit local up" in stopped.stderr
    assert "Traceback" not in stopped.stderr


def test_cli_rejects_an_unknown_service_without_a_traceback(tmp_path: Path) -> None:
    result = cli("up", "--only", "kafka,redis", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert "unknown service(s) redis" in result.stderr
    assert "Traceback" not in result.stderr
    assert recorded_pids(tmp_path) == {}


def test_a_configured_port_already_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = KafkaBroker(LocalSettings(state_dir=tmp_path, kafka_port=port))
        with pytest.raises(ServiceError, match=f"port {port} is already in use.*KAFKA_PORT"):
            broker.start()
    assert broker.record() is None


def test_the_public_face_resolves() -> None:
    import meshkit.local

    assert len(set(meshkit.local.__all__)) == len(meshkit.local.__all__)
    for name in meshkit.local.__all__:
        assert getattr(meshkit.local, name) is not None
        assert not name.startswith("_")


def test_leaving_a_stack_context_keeps_services_it_did_not_start(tmp_path: Path) -> None:
    settings = LocalSettings(state_dir=tmp_path)
    outer = LocalStack(settings, services=["kafka"])
    outer.up()
    try:
        with LocalStack(settings, services=["kafka", "search"]) as inner:
            assert all(row.healthy for row in inner.status())
        rows = {row.service: row for row in outer.status()}
        assert rows["kafka"].healthy  # was running before: left alone
        assert "search" not in rows  # started by the context: stopped, record gone
    finally:
        outer.down()
    assert recorded_pids(tmp_path) == {}


def test_status_env_and_down_find_the_stack_from_another_directory(tmp_path: Path) -> None:
    here, elsewhere = tmp_path / "domain", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MESHKIT_LOCAL_STATE_DIR"}
    env |= {"XDG_STATE_HOME": str(tmp_path / "xdg"), "MESHKIT_LOCAL_INDEX_PORT": "0",
            "COLUMNS": "200"}  # fmt: skip

    def local(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MESHKIT, "local", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=180, check=False)  # fmt: skip

    up = local(here, "up", "--only", "index")
    assert up.returncode == 0, up.stdout + up.stderr
    pids = recorded_pids(here / ".state" / "local")
    assert set(pids) == {"index"}
    try:
        status = local(elsewhere, "status")  # exit 1: the other default services are not up
        assert "pypiserver" in status.stdout, status.stdout + status.stderr
        assert str(here / ".state" / "local") in status.stderr.replace("\n", "")
        exports = local(elsewhere, "env")
        assert exports.returncode == 0, exports.stderr
        assert "export MESHKIT_INDEX_URL=http://127.0.0.1:" in exports.stdout
        # the development master key: made once by `up`, owner-only, the same in every shell
        key_file = here / ".state" / "local" / "dev-master-key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert f"export MESHKIT_MASTER_KEY={key_file.read_text().strip()}" in exports.stdout
        assert local(here, "env").stdout == exports.stdout
        assert "MESHKIT_MASTER_KEY" not in status.stdout + status.stderr

        down = local(elsewhere, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert "stopped: index" in down.stdout
        assert wait_for(lambda: not any(running(pid) for pid in pids.values()), 10)
        again = local(elsewhere, "down")
        assert "nothing was running" in again.stdout
        assert not (elsewhere / ".state").exists()  # nothing was started or written there
    finally:  # whatever failed above, no index is left running
        LocalStack(LocalSettings(state_dir=here / ".state" / "local")).down()
