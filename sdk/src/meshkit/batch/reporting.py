"""Run results reported to the registry as OpenLineage run events, so the catalog shows
each product's run status and freshness.

The registry is a platform service; this is its client side. When a registry URL is
configured (``MESHKIT_REGISTRY_URL``, optionally ``MESHKIT_REGISTRY_TOKEN``), product
assets report to the registry's OpenLineage endpoint (:mod:`meshkit.lineage`, ``POST
{url}/api/v1/lineage``); without one, nothing is sent:

- each materialisation is a ``BATCH`` Dagster job named by the asset key in the domain's
  namespace: ``START`` and ``COMPLETE`` with the rows written, its output dataset named by
  the product's address with the personal fields tagged;
- each run of the generated checks is a job ``<asset key>/checks``: one ``COMPLETE``
  event reading the product's dataset, the evaluated checks as its
  ``dataQualityAssertions`` (name, passed, severity; never a value) and a
  ``meshkit_checks`` run facet counting passed, failed and skipped checks.

The events go through a bounded buffer on a background thread: dropped and counted,
never waited for, when the registry is down, so a registry that is down or refusing
never fails or slows a run.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterable

import dagster as dg

from meshkit.lineage import Check, Counts, LineageEmitter, LineageJob

_emitters: dict[tuple[str, str | None], LineageEmitter] = {}
"""One emitter (one thread, one buffer) per registry and token in a process."""

URL_ENV = "MESHKIT_REGISTRY_URL"
TOKEN_ENV = "MESHKIT_REGISTRY_TOKEN"  # noqa: S105 - a variable name, not a secret


class RegistryReporter(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Sends run events to the registry; a no-op when ``url`` is empty."""

    url: str | None = None
    token: str | None = None
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def _emitter(self) -> LineageEmitter:
        key = (self.url or "", self.token)
        emitter = _emitters.get(key)
        if emitter is None:
            emitter = _emitters[key] = LineageEmitter(
                self.url, self.token, timeout=self.timeout_seconds
            )
            atexit.register(emitter.close)
        return emitter

    def run_events(self, job: LineageJob, *, rows: int) -> None:
        """Send ``job``'s ``START`` and ``COMPLETE`` (never waits, never raises)."""
        if not self.url:
            return
        emitter = self._emitter()
        emitter.emit(job.event("START"))
        emitter.emit(job.event("COMPLETE", counts=Counts(read=rows, written=rows)))

    def check_events(self, job: LineageJob, checks: Iterable[Check]) -> None:
        """Send the ``COMPLETE`` of a checks run of ``job`` with the checks' results
        (never waits, never raises)."""
        if not self.url:
            return
        self._emitter().emit(job.event("COMPLETE", checks=checks))
