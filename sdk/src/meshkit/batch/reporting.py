"""Run results reported to the registry, so the catalog shows each product's SLO status.

The registry is a platform service; this is its client side. When a registry URL is
configured (``MESHKIT_REGISTRY_URL``, optionally ``MESHKIT_REGISTRY_TOKEN``), product
assets report after each materialisation and each check run; without one, nothing is
sent. A registry that is down or answers with an error never fails a run: the report is
logged as a warning and dropped.

The HTTP interface (one endpoint, JSON, ``Authorization: Bearer <token>`` when a token
is set)::

    POST {url}/v1/products/{domain}.{product}/runs
    {
      "kind": "materialization" | "checks",
      "address": "customers.customer.v1",   "version": "1.4.0",
      "asset_key": "customers/customer/v1", "run_id": "…", "partition": "2024-01-01" | null,
      "at": "2024-01-02T03:04:05+00:00",
      # materialization
      "rows": 1000, "duration_seconds": 1.23, "table": "customers.customer_v1",
      # checks
      "checks": [{"name": "unique_customer_id", "passed": true, "severity": "error",
                  "description": "…"}],
      "freshness": {"slo_seconds": 900, "age_seconds": 12.5, "ok": true} | null
    }

Any 2xx answer is success.

Each materialisation is also an OpenLineage run (:mod:`meshkit.lineage`, ``POST
{url}/api/v1/lineage``): a ``BATCH`` Dagster job named by the asset key in the domain's
namespace, ``START`` and ``COMPLETE`` with the rows written, its output dataset named by
the product's address with the personal fields tagged. Those events go through a bounded
buffer on a background thread: dropped and counted, never waited for, when the registry
is down.
"""

from __future__ import annotations

import atexit
import json
import logging
import urllib.error
import urllib.request
from typing import Any

import dagster as dg

from meshkit.lineage import Counts, LineageEmitter, LineageJob

_emitters: dict[tuple[str, str | None], LineageEmitter] = {}

URL_ENV = "MESHKIT_REGISTRY_URL"
TOKEN_ENV = "MESHKIT_REGISTRY_TOKEN"  # noqa: S105 - a variable name, not a secret
_log = logging.getLogger(__name__)


class RegistryReporter(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Posts run results to the registry; a no-op when ``url`` is empty."""

    url: str | None = None
    token: str | None = None
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def report(self, product: str, payload: dict[str, Any]) -> bool:
        """Send one report; True when the registry accepted it (never raises)."""
        if not self.url:
            return False
        if not self.url.startswith(("http://", "https://")):
            _log.warning("meshkit: registry URL %r is not http(s); report dropped", self.url)
            return False
        endpoint = f"{self.url.rstrip('/')}/v1/products/{product}/runs"
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps(payload, default=str).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            endpoint, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, OSError, ValueError) as exc:
            _log.warning("meshkit: registry report of %s to %s failed: %s", product, endpoint, exc)
            return False

    def run_events(self, job: LineageJob, *, rows: int) -> None:
        """Send ``job``'s ``START`` and ``COMPLETE`` (never waits, never raises)."""
        if not self.url:
            return
        key = (self.url, self.token)
        emitter = _emitters.get(key)
        if emitter is None:
            emitter = _emitters[key] = LineageEmitter(self.url, self.token)
            atexit.register(emitter.close)
        emitter.emit(job.event("START"))
        emitter.emit(job.event("COMPLETE", counts=Counts(read=rows, written=rows)))
