"""The metrics port's probes, its settings, and both log formats (no service needed)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from meshkit.errors import ConfigError
from meshkit.observability import configure_logging, health, port_from_env, serve
from meshkit.observability import server as server_module
from tests.sdk.observability.scrape import free_port, probe, scrape, total


@pytest.fixture
def served() -> Iterator[int]:
    health.reset()
    server = serve(0)
    assert server is not None
    yield int(server.server_address[1])
    server_module.stop()
    health.reset()


def test_probes_follow_the_components(served: int) -> None:
    assert probe(served, "/readyz") == (503, {"status": "not ready",
                                              "waiting": ["nothing has started yet"]})  # fmt: skip
    health.starting("flow a")
    health.starting("flow b")
    health.ready("flow a")
    assert probe(served, "/readyz") == (503, {"status": "not ready", "waiting": ["flow b"]})
    health.ready("flow b")
    assert probe(served, "/readyz") == (200, {"status": "ready"})
    assert probe(served, "/healthz") == (200, {"status": "ok"})
    health.failed("flow b", "port warehouse_table failed (PortError); see this process's log")
    code, body = probe(served, "/healthz")
    assert code == 503
    assert body["failed"] == {"flow b": "port warehouse_table failed (PortError); see this "
                              "process's log"}  # fmt: skip
    assert probe(served, "/readyz")[0] == 503
    assert probe(served, "/nothing")[0] == 404
    assert total(scrape(served), "process_cpu_seconds_total") >= 0


def test_the_port_setting() -> None:
    assert port_from_env({}) == 9464
    assert port_from_env({"MESHKIT_METRICS_PORT": "9100"}) == 9100
    assert port_from_env({"MESHKIT_METRICS_PORT": "off"}) is None
    with pytest.raises(ConfigError, match="MESHKIT_METRICS_PORT='nine' is not a port"):
        port_from_env({"MESHKIT_METRICS_PORT": "nine"})


def test_a_port_in_use_is_a_clear_error() -> None:
    port = free_port()
    server_module.stop()
    import socket

    with socket.socket() as s:
        s.bind(("0.0.0.0", port))
        s.listen()
        with pytest.raises(ConfigError, match=f"port {port}.*set MESHKIT_METRICS_PORT"):
            serve(port)


def test_json_lines_keep_context_names_only_and_no_exception_text() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure_logging("json", stream=out)
        log = logging.getLogger("meshkit.test")
        log.info("wrote", extra={"product": "shop.customer", "step": "port:warehouse_table",
                                 "source": "t[0]@4", "record": {"email": "zq@canary"}})  # fmt: skip
        try:
            int("zq@canary")
        except ValueError:
            log.exception("port failed", extra={"hint": "the port's server log"})
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    text = out.getvalue()
    assert "canary" not in text
    first, second = (orjson.loads(line) for line in text.splitlines())
    assert first["product"] == "shop.customer"
    assert first["step"] == "port:warehouse_table"
    assert first["source"] == "t[0]@4"
    assert "record" not in first
    assert second["error"] == "ValueError"
    assert second["hint"] == "the port's server log"
    assert second["where"][-1].startswith("test_server_and_logs.py:")


def test_console_lines_and_the_format_switch() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure_logging("console", stream=out)
        logging.getLogger("meshkit.test").warning(
            "2 record(s) refused", extra={"product": "shop.customer", "hint": "the topic"}
        )
        with pytest.raises(ConfigError, match=r"log format 'xml'.*console, json"):
            configure_logging("xml")
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    assert out.getvalue() == (
        "WARNING meshkit.test: 2 record(s) refused [product=shop.customer]\n  look at: the topic\n"
    )


def test_the_public_names_resolve() -> None:
    import meshkit.observability as obs

    assert obs.__all__ == sorted(obs.__all__, key=lambda n: (not n.isupper(), n))
    for name in obs.__all__:
        assert getattr(obs, name) is not None, name
