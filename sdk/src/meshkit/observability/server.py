"""One HTTP port per process: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz``.

Kubernetes probes and Prometheus scrape the same port (default 9464, the
``MESHKIT_METRICS_PORT`` variable; ``off`` serves nothing)::

    GET /metrics   the process's metrics in Prometheus' text format
    GET /healthz   200 {"status": "ok"} while no component has failed; 503 naming the
                   failed component and where to look otherwise (liveness)
    GET /readyz    200 once every component that registered is ready (a flow's ports
                   are open, a capture streams); 503 naming those that are not

Components report through :data:`health`: ``health.starting(name)``, ``health.ready(name)``
and ``health.failed(name, why)``; ``why`` names what failed and where to look, never a
record's value. ``serve()`` starts the server once per process, in a daemon thread;
later calls return the same server.
"""

from __future__ import annotations

import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from meshkit.errors import ConfigError

log = logging.getLogger("meshkit.observability")

PORT_ENV = "MESHKIT_METRICS_PORT"
DEFAULT_PORT = 9464


class Health:
    """What each component of the process says about itself (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[str, bool] = {}
        self._failed: dict[str, str] = {}

    def starting(self, name: str) -> None:
        """``name`` exists and is not ready yet (``/readyz`` waits for it)."""
        with self._lock:
            self._ready.setdefault(name, False)

    def ready(self, name: str, ready: bool = True) -> None:
        with self._lock:
            self._ready[name] = ready

    def failed(self, name: str, why: str) -> None:
        """``name`` cannot go on: ``/healthz`` answers 503 with ``why``."""
        with self._lock:
            self._failed[name] = why
            self._ready[name] = False

    def forget(self, name: str) -> None:
        """``name`` stopped cleanly (a closed sink partition)."""
        with self._lock:
            self._ready.pop(name, None)
            self._failed.pop(name, None)

    def live(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            if self._failed:
                return False, {"status": "failed", "failed": dict(self._failed)}
        return True, {"status": "ok"}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            waiting = sorted(n for n, ok in self._ready.items() if not ok)
            ok = bool(self._ready) and not waiting and not self._failed
            body: dict[str, Any] = {"status": "ready" if ok else "not ready"}
            if waiting:
                body["waiting"] = waiting
            if not self._ready:
                body["waiting"] = ["nothing has started yet"]
        return ok, body

    def reset(self) -> None:
        """Forget every component (tests)."""
        with self._lock:
            self._ready.clear()
            self._failed.clear()


health = Health()


class _Handler(BaseHTTPRequestHandler):
    server_version = "meshkit"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok, body = health.live()
            self._send(200 if ok else 503, orjson.dumps(body), "application/json")
        elif path == "/readyz":
            ok, body = health.readiness()
            self._send(200 if ok else 503, orjson.dumps(body), "application/json")
        else:
            error = {"error": "not found; try /metrics, /healthz or /readyz"}
            self._send(404, orjson.dumps(error), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds: not logged."""


_lock = threading.Lock()
_server: ThreadingHTTPServer | None = None


def port_from_env(environ: dict[str, str] | None = None) -> int | None:
    """The port ``MESHKIT_METRICS_PORT`` names (default 9464); ``None`` for ``off``."""
    text = (environ if environ is not None else os.environ).get(PORT_ENV, "").strip()
    if not text:
        return DEFAULT_PORT
    if text.lower() in ("off", "none", "false", "-"):
        return None
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ConfigError(
            f"{PORT_ENV}={text!r} is not a port: expected a number from 0 to 65535, or off"
        )
    return int(text)


def serve(port: int | None = None, host: str = "0.0.0.0") -> ThreadingHTTPServer | None:  # noqa: S104 - probes come from outside the pod
    """Start the process's metrics and health server (once; see the module docstring).

    ``port``: default from ``MESHKIT_METRICS_PORT`` (9464); 0 picks a free port (its
    number is ``server.server_address[1]``). ``None`` when the variable says ``off``. A
    port already in use is an error naming the variable to change.
    """
    global _server  # noqa: PLW0603 - one server per process
    with _lock:
        if _server is not None:
            return _server
        chosen = port if port is not None else port_from_env()
        if chosen is None:
            return None
        try:
            server = ThreadingHTTPServer((host, chosen), _Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on port {chosen}: {exc.strerror}; set {PORT_ENV} to a "
                "free port (or off)"
            ) from None
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="meshkit-metrics", daemon=True)
        thread.start()
        _server = server
        log.info(
            "metrics, /healthz and /readyz on port %d", server.server_address[1],
            extra={"step": "metrics"},
        )  # fmt: skip
        return server


def stop() -> None:
    """Stop the server (tests; a process's server otherwise lives as long as it does)."""
    global _server  # noqa: PLW0603 - one server per process
    with _lock:
        if _server is not None:
            _server.shutdown()
            _server.server_close()
            _server = None
