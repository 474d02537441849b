"""The registry's metrics and readiness: ``install_metrics(app, engine)``.

``GET /metrics`` answers Prometheus' text format (no token: the figures name routes and
statuses, never a caller, a token or a product's data); ``GET /readyz`` answers 200 when
the catalog database takes a query and 503 otherwise (``/healthz`` also reports the
schema revision). An ASGI middleware counts every answered request and times it, by
method, route *template* (``/v1/products/{address}``, never the path itself, so a
scanner's random paths add no series: an unmatched path counts as ``unmatched``) and
status (``meshkit_registry_requests_total``, ``meshkit_registry_request_seconds``; the
names are listed in :mod:`meshkit.observability.metrics`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from meshkit.observability.metrics import REGISTRY_REQUESTS, REGISTRY_SECONDS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestMetrics:
    """ASGI middleware: count and time each HTTP request by method, route and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            REGISTRY_REQUESTS.labels(method, route, str(status[0])).inc()
            REGISTRY_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def _database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _figures() -> CollectorRegistry:
    """This process's metrics, or, under ``serve --workers`` (``PROMETHEUS_MULTIPROC_DIR``
    set), every worker's added up from the files they count in."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    every = CollectorRegistry()
    MultiProcessCollector(every)  # type: ignore[no-untyped-call]
    return every


def install_metrics(app: FastAPI, engine: Engine) -> None:
    """Add ``/metrics``, ``/readyz`` and the request middleware to ``app``."""

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(_figures()), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> JSONResponse:
        if await run_in_threadpool(_database_answers, engine):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "waiting": ["the catalog database"]}, 503)

    app.add_middleware(RequestMetrics)
