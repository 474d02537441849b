"""The Dagster webserver starts in a freshly baked repo with zero configuration, lists the
example product through its GraphQL API, and stops cleanly (no process left behind)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.template.conftest import bake, git_commit, install

QUERY = "{ assetNodes { assetKey { path } groupName } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body = json.dumps({"query": QUERY}).encode()
    while True:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer: dict[str, object] = json.loads(response.read())
                data = answer.get("data")
                if isinstance(data, dict) and data.get("assetNodes"):
                    return answer
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no asset list from the webserver on port {port}")
        time.sleep(0.5)


def test_webserver_lists_the_example_product_and_stops_cleanly(tmp_path: Path) -> None:
    repo = bake(tmp_path / "out", domain_name="Customers", product_name="customer")
    git_commit(repo)
    python = install(repo, tmp_path / "venv")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        [str(python), "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port)],
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        answer = _graphql(port)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    nodes = answer["data"]["assetNodes"]  # type: ignore[index]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert "customers/customer/v1" in keys, keys
    assert "customers/customer_daily/v1" in keys, keys
    assert {n["groupName"] for n in nodes} == {"customers"}
    # the webserver and the code server it started are gone
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, (tmp_path / "webserver.log").read_text()[-3000:]
        time.sleep(0.2)
