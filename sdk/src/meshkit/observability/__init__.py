"""Operating meshkit's long-running processes: metrics, health probes, structured logs.

- :mod:`~meshkit.observability.metrics`: the Prometheus metrics (names and labels);
- :mod:`~meshkit.observability.server`: ``/metrics``, ``/healthz`` and ``/readyz`` on one
  port per process (``MESHKIT_METRICS_PORT``, default 9464), and :data:`health`;
- :mod:`~meshkit.observability.logs`: JSON lines or console lines
  (``MESHKIT_LOG_FORMAT``), with product, step and source position, never values.

``observe_process()`` is what a long-running process calls once at start (the flows'
sink does it for ``python -m bytewax.run``; ``meshkit cdc run`` does it itself).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from meshkit.errors import ConfigError
from meshkit.observability.logs import FORMAT_ENV, configure_logging, log_format
from meshkit.observability.server import (
    DEFAULT_PORT,
    PORT_ENV,
    Health,
    health,
    port_from_env,
    serve,
)

__all__ = [
    "DEFAULT_PORT",
    "FORMAT_ENV",
    "PORT_ENV",
    "Health",
    "configure_logging",
    "health",
    "log_format",
    "observe_flow_process",
    "observe_process",
    "port_from_env",
    "serve",
]

_configured = threading.Event()


def observe_process(
    *,
    port: int | None = None,
    log_format: str | None = None,
    level: str | None = None,
    metrics: bool = True,
) -> None:
    """Logs in the chosen format (``log_format`` or ``MESHKIT_LOG_FORMAT``; ``level`` or
    ``MESHKIT_LOG_LEVEL``) and the metrics server (``port`` or ``MESHKIT_METRICS_PORT``;
    none with ``metrics=False``); once per process, later calls do nothing.

    A port named by ``port`` or the variable must be free (``ConfigError`` otherwise); the
    default port, when taken (another process on the same machine), is left out with a
    warning: the process runs on without metrics.
    """
    if _configured.is_set():
        return
    _configured.set()
    configure_logging(log_format, level)
    if not metrics:
        return
    if port is not None or PORT_ENV in os.environ:
        serve(port)
        return
    try:
        serve(DEFAULT_PORT)
    except ConfigError as exc:
        logging.getLogger("meshkit.observability").warning(
            "no metrics: %s", exc, extra={"hint": f"set {PORT_ENV} to a free port"}
        )


def observe_flow_process() -> None:
    """A flow's hook: ``observe_process()`` when the process is a running flow.

    That is ``python -m bytewax.run`` (a deployed flow), or any process where
    ``MESHKIT_METRICS_PORT`` or ``MESHKIT_LOG_FORMAT`` is set; a flow run inside another
    program (a test, a notebook) leaves that program's logging and ports alone.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    under_runner = getattr(spec, "name", None) == "bytewax.run"
    if under_runner or PORT_ENV in os.environ or FORMAT_ENV in os.environ:
        observe_process()
