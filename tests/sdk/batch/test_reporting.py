"""Run results reach a registry over HTTP when one is configured; a dead registry fails nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from meshkit.batch import RegistryReporter, local_resources, product_asset, product_checks
from meshkit.batch.reporting import URL_ENV
from meshkit.contracts import Contract
from tests.sdk.batch.conftest import customers_table


class _Registry(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, str], dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Registry

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[_Registry]:
    server = _Registry(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _asset(contract: Contract) -> dg.AssetsDefinition:
    @product_asset(contract)
    def customer() -> pa.Table:
        return customers_table(3)

    return customer


def test_materialisation_and_checks_are_reported(
    registry: _Registry,
    customer_contract: Contract,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(URL_ENV, f"http://127.0.0.1:{registry.server_port}")
    monkeypatch.setenv("MESHKIT_REGISTRY_TOKEN", "t0ken")
    asset = _asset(customer_contract)
    result = dg.materialize(
        [asset, product_checks(asset)], resources=local_resources(duckdb_path=warehouse)
    )
    assert result.success
    # the run reports (OpenLineage events to /api/v1/lineage go in the background)
    reports = [r for r in registry.received if r[0].startswith("/v1/products/")]
    assert [(path, body["kind"]) for path, _, body in reports] == [
        ("/v1/products/customers.customer/runs", "materialization"),
        ("/v1/products/customers.customer/runs", "checks"),
    ]
    (_, headers, mat), (_, _, checks) = reports
    assert headers["Authorization"] == "Bearer t0ken"
    assert mat["rows"] == 3
    assert mat["address"] == "customers.customer.v1"
    assert mat["table"] == "customers.customer_v1"
    assert mat["run_id"] == result.run_id
    assert mat["duration_seconds"] >= 0
    assert len(checks["checks"]) == 10
    assert all(c["passed"] for c in checks["checks"])
    assert checks["freshness"]["slo_seconds"] == 86400
    assert checks["freshness"]["ok"] is True


def test_a_registry_that_is_down_fails_nothing(
    customer_contract: Contract, warehouse: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RegistryReporter(url="http://127.0.0.1:9", timeout_seconds=1)  # discard port
    resources = {**local_resources(duckdb_path=warehouse), "meshkit_registry": dead}
    assert dg.materialize([_asset(customer_contract)], resources=resources).success
    assert "registry report of customers.customer" in caplog.text


def test_without_a_registry_nothing_is_sent() -> None:
    assert RegistryReporter().report("a.b", {"kind": "checks"}) is False
