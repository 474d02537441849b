"""A publish is one transaction: kill -9 of the server in the middle of one leaves the old
version, whole, and the next publish goes through.

The publish is held mid-transaction deterministically: the test holds the audit chain's
advisory lock, so the server blocks in its first audit append, after it has written the
new version, its ports and edges (uncommitted). Then the server is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import psycopg2
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit_platform.registry import audit
from meshkit_platform.registry.auth import create_token
from tests.platform.registry.conftest import bearer
from tests.platform.registry.contracts import contract, publish_body

ID = "  - {name: id, type: string, required: true}\n"
NOTE = "  - {name: note, type: string}\n"


def _wait(condition: object, what: str, tries: int = 400) -> None:
    pause = threading.Event()
    for _ in range(tries):
        if condition():  # type: ignore[operator]
            return
        pause.wait(0.05)
    pytest.fail(f"timed out waiting until {what}")


@contextlib.contextmanager
def serving(url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["registry", "serve", "--database-url", url, "--port", str(port)]
    with subprocess.Popen(
        [sys.executable, "-c", "from meshkit_platform.cli import main; main()", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            _wait(up, "the registry answers")
            yield proc, base
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=20)


def test_kill_9_during_a_publish_leaves_the_old_version_whole(
    engine: Engine, registry_url: str, registry_dsn: str
) -> None:
    with Session(engine) as s:
        _, token = create_token(s, name="admin", role="platform-admin")
        s.commit()
    headers = bearer(token)
    path = "/v1/domains/orders/contracts"
    with serving(registry_url) as (proc, base):
        first = httpx.post(base + path, json=publish_body(contract("orders", "k")), headers=headers)
        assert first.status_code == 200, first.text

        blocker = psycopg2.connect(registry_dsn)
        blocker.autocommit = True
        try:
            with blocker.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", (audit._LOCK,))

            def send() -> None:
                with contextlib.suppress(httpx.TransportError):
                    httpx.post(
                        base + path,
                        json=publish_body(contract("orders", "k", "1.1.0", fields=ID + NOTE)),
                        headers=headers,
                        timeout=60,
                    )

            sender = threading.Thread(target=send)
            sender.start()

            def blocked() -> bool:
                with blocker.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'"
                    )
                    row = cur.fetchone()
                    return bool(row and row[0] == 1)

            _wait(blocked, "the publish waits inside its transaction")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
            sender.join(timeout=60)
            with blocker.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (audit._LOCK,))

            def gone() -> bool:
                with blocker.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND state <> 'idle'"
                    )
                    row = cur.fetchone()
                    return bool(row and row[0] == 0)

            _wait(gone, "the killed server's transaction ended")
        finally:
            blocker.close()

    with serving(registry_url) as (_, base):
        line = httpx.get(base + "/v1/products/orders.k.v1", headers=headers).json()
        assert line["version"] == "1.0.0"
        assert [v["version"] for v in line["versions"]] == ["1.0.0"]
        assert [p["kind"] for p in line["ports"]] == ["kafka_topic", "warehouse_table"]
        verified = httpx.get(base + "/v1/audit/verify", headers=headers).json()
        assert verified["ok"] is True

        again = httpx.post(
            base + path,
            json=publish_body(contract("orders", "k", "1.1.0", fields=ID + NOTE)),
            headers=headers,
        )
        assert again.status_code == 200, again.text
        assert again.json()["results"][0]["outcome"] == "published"
