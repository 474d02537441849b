"""The command lines: ``meshkit-platform registry migrate|serve|token`` and the domain's
``meshkit publish`` against a running registry. Failures are one clear line, exit 1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

import meshkit.cli
import meshkit_platform.cli
from meshkit.contracts import load_contract
from meshkit_platform.registry import migrate
from tests.platform.registry.contracts import contract

DOMAINS = Path(__file__).parents[3] / "domains"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def call(
    argv: Sequence[str],
    env: dict[str, str | None] | None = None,
    main: Callable[[Sequence[str] | None], None] = meshkit.cli.main,
) -> Outcome:
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
        sys.stdout.flush()
        sys.stderr.flush()
        return Outcome(code, out.getvalue().decode(), err.getvalue().decode())


_SCRIPTS = ScriptDirectory(str(Path(migrate.__file__).with_name("migrations")))
HEAD = _SCRIPTS.get_current_head()
BEFORE_HEAD = _SCRIPTS.get_revision(HEAD).down_revision if HEAD else None


def platform(*argv: str) -> Outcome:
    return call(argv, main=meshkit_platform.cli.main)


def failed(result: Outcome, *needles: str) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert "unexpected" not in result.text
    for needle in needles:
        assert needle in result.text, result.text


@pytest.fixture(scope="module")
def migrated(registry_url: str) -> str:
    first = platform("registry", "migrate", "--database-url", registry_url)
    assert first.code == 0, first.text
    assert f"empty → {HEAD}" in first.out
    return registry_url


def _token(url: str, *args: str) -> tuple[str, str]:
    r = platform("registry", "token", "create", "--database-url", url, *args)
    assert r.code == 0, r.text
    head, token = r.out.strip().splitlines()
    return head.split()[1], token


def test_migrate_steps_back_and_forward(migrated: str) -> None:
    back = platform("registry", "migrate", "--database-url", migrated, "--revision", "-1")
    assert back.code == 0, back.text
    assert f"{HEAD} → {BEFORE_HEAD}" in back.out
    again = platform("registry", "migrate", "--database-url", migrated)
    assert f"{BEFORE_HEAD} → {HEAD}" in again.out


def test_token_create_and_revoke(migrated: str, server: str) -> None:
    token_id, token = _token(migrated, "--name", "ci", "--role", "consumer")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server}/v1/domains", headers=headers).status_code == 200
    assert platform("registry", "token", "revoke", token_id, "--database-url", migrated).code == 0
    assert httpx.get(f"{server}/v1/domains", headers=headers).status_code == 401
    failed(
        platform("registry", "token", "revoke", token_id, "--database-url", migrated),
        f"no active token with id '{token_id}'",
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--role", "root"], "unknown role 'root'"),
        (["--role", "domain-owner"], "needs --domain"),
        (["--role", "consumer", "--domain", "orders"], "has no domain"),
    ],
)
def test_token_create_refuses_bad_roles(migrated: str, args: list[str], needle: str) -> None:
    failed(
        platform("registry", "token", "create", "--database-url", migrated, "--name", "x", *args),
        needle,
    )


def test_a_database_url_that_is_not_postgresql_is_one_line() -> None:
    failed(platform("registry", "migrate", "--database-url", "sqlite:///x.db"), "postgresql://")


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    shutil.copytree(DOMAINS / "orders" / "contracts", tmp_path / "contracts")
    return tmp_path / "contracts"


def test_meshkit_publish_registers_a_domain_and_is_idempotent(
    migrated: str, server: str, orders: Path
) -> None:
    _, token = _token(
        migrated, "--name", "orders-ci", "--role", "domain-owner", "--domain", "orders"
    )
    env = {"MESHKIT_REGISTRY_URL": server, "MESHKIT_REGISTRY_TOKEN": token}
    first = call(["publish", str(orders)], env=env)
    assert first.code == 0, first.text
    assert "published  orders.order_daily.v1 1.0.0" in first.out
    again = call(["publish", str(orders)], env=env)
    assert again.out.count("unchanged") == 3

    # a breaking change without a major bump: refused, naming what it would break
    order = orders / "order.yaml"
    text = order.read_text()
    version = load_contract(order).version
    major, minor, _ = version.split(".")
    bumped = f"{major}.{int(minor) + 1}.0"
    assert f"version: {version}" in text
    kept = [
        line
        for line in text.splitlines()
        if "name: total" not in line and "field: total" not in line
    ]
    assert len(kept) == len(text.splitlines()) - 2, "the orders contract has a checked total"
    order.write_text("\n".join(kept).replace(f"version: {version}", f"version: {bumped}"))
    refused = call(["publish", str(orders)], env=env)
    failed(
        refused,
        "(409)",
        f"orders.order.v1 {bumped}",
        "field_removed",
        "would break: orders.customer_orders.v1, orders.order_daily.v1",
    )


def test_meshkit_publish_of_another_domain_is_refused_403(
    migrated: str, server: str, tmp_path: Path
) -> None:
    _, token = _token(migrated, "--name", "x", "--role", "domain-owner", "--domain", "orders")
    (tmp_path / "c.yaml").write_text(contract("customers", "c"))
    env = {"MESHKIT_REGISTRY_URL": server, "MESHKIT_REGISTRY_TOKEN": token}
    failed(call(["publish", str(tmp_path)], env=env), "(403)", "may not publish domain 'customers'")


def test_meshkit_publish_failures_are_one_clear_line(server: str, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(contract("orders", "c"))
    no_env: dict[str, str | None] = {"MESHKIT_REGISTRY_URL": None, "MESHKIT_REGISTRY_TOKEN": None}
    failed(call(["publish", str(tmp_path)], env=no_env), "MESHKIT_REGISTRY_URL")
    env: dict[str, str | None] = {"MESHKIT_REGISTRY_URL": server, "MESHKIT_REGISTRY_TOKEN": None}
    failed(call(["publish", str(tmp_path)], env=env), "MESHKIT_REGISTRY_TOKEN")
    env["MESHKIT_REGISTRY_TOKEN"] = "mkr_bad"
    failed(call(["publish", str(tmp_path)], env=env), "(401)", "valid API token")
    failed(call(["publish", str(tmp_path / "missing")], env=env), "not a directory")
    failed(
        call(["publish", str(tmp_path), "--url", "http://127.0.0.1:9"], env=env),
        "cannot reach the registry at http://127.0.0.1:9",
    )
    failed(call(["publish", str(tmp_path), "--url", "ftp://x"], env=env), "http:// or https://")
    (tmp_path / "bad.yaml").write_text(contract("orders", "bad").replace("string", "strnig"))
    failed(call(["publish", str(tmp_path)], env=env), "nothing was sent", "bad.yaml:8:22")


def test_serve_answers_health_then_stops(migrated: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["registry", "serve", "--database-url", migrated, "--port", str(port)]
    with subprocess.Popen(
        [sys.executable, "-c", "from meshkit_platform.cli import main; main()", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # printed once migrated, before uvicorn starts
            assert f"registry on http://127.0.0.1:{port}" in first
            pause = threading.Event()
            for _ in range(300):
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                except httpx.TransportError:
                    pause.wait(0.05)
                    continue
                assert r.json() == {"status": "ok", "schema_revision": HEAD}
                break
            else:
                pytest.fail("the registry never answered /healthz")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_serve_with_two_workers_adds_up_their_metrics(migrated: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["registry", "serve", "--database-url", migrated, "--port", str(port), "--workers", "2"]
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [sys.executable, "-c", "from meshkit_platform.cli import main; main()", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    ) as proc:
        try:
            assert proc.stdout is not None
            assert "2 workers" in proc.stdout.readline()
            answered = 0
            pause = threading.Event()
            for _ in range(600):
                try:
                    r = httpx.get(f"{base}/healthz", timeout=2)
                except httpx.TransportError:
                    pause.wait(0.05)
                    continue
                assert r.status_code == 200
                answered += 1
                if answered == 40:  # a new connection each: the workers share them out
                    break
            else:
                pytest.fail("the registry never answered /healthz 40 times")
            figures = httpx.get(f"{base}/metrics", timeout=5).text
            counted = sum(
                float(line.rsplit(" ", 1)[1])
                for line in figures.splitlines()
                if line.startswith("meshkit_registry_requests_total{")
                and 'route="/healthz"' in line
            )
            assert counted == answered
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
