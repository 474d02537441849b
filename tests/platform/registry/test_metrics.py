"""The registry's /metrics and /readyz on the running server (real PostgreSQL catalog)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.platform.registry.conftest import Tokens, bearer
from tests.sdk.observability.scrape import free_port, total, wait_for

pytestmark = pytest.mark.services


def _samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(r.text)
        for s in f.samples
    }


def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.Client, tokens: Tokens
) -> None:
    name = "meshkit_registry_requests_total"
    before = _samples(client)
    for _ in range(3):
        assert client.get("/v1/products", headers=bearer(tokens.consumer)).status_code == 200
    assert client.get("/v1/products").status_code == 401
    secret_path = "/v1/products/zqcanary.product.v1"
    assert client.get(secret_path, headers=bearer(tokens.consumer)).status_code == 404
    assert client.get("/zqcanary/nothing").status_code == 404
    after = _samples(client)

    def grew(**labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew(method="GET", route="/v1/products", status="200") == 3
    assert grew(method="GET", route="/v1/products", status="401") == 1
    assert grew(method="GET", route="/v1/products/{address}", status="404") == 1
    assert grew(method="GET", route="unmatched", status="404") == 1
    assert total(after, "meshkit_registry_request_seconds_count", route="/v1/products") >= 4
    assert "zqcanary" not in client.get("/metrics").text


def test_readiness_and_the_api_description(client: httpx.Client) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/metrics" not in paths  # the OpenAPI describes the catalog's API only


def test_registry_serve_logs_json_lines_and_serves_metrics(
    registry_url: str, engine: object, tmp_path: Path
) -> None:
    del engine  # the module's database, migrated
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-c", "from meshkit_platform.cli import main; main()", "registry",
           "serve", "--database-url", registry_url, "--host", "127.0.0.1", "--port", str(port),
           "--log-format", "json"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out)
    try:

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200

        wait_for(ready, 60, log.read_text)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "meshkit_registry_requests_total" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    for line in log.read_text().splitlines():  # whatever uvicorn logged, as JSON
        assert orjson.loads(line)["level"] in ("warning", "error", "critical")
