"""Run status from OpenLineage run events: runs, freshness per product line, observed lineage.

``ingest(session, events, caller)`` records a batch of run events (``POST /api/v1/lineage``,
the OpenLineage HTTP transport's endpoint; one event or a JSON array of them):

- each run (``run.runId``) keeps its job, newest state, event count and newest run facets
  (where a streaming job's periodic ``RUNNING`` events carry their counts);
- an output dataset whose name is the address of a registered output port (a topic,
  ``<domain>.<product>_v<major>`` table, index or view) or of a line
  (``<domain>.<product>.v<major>``) marks that line as observed: the
  newest event and, for ``RUNNING`` and ``COMPLETE``, the newest success;
- each input dataset of such an event becomes an observed lineage edge to the line (the
  source named by its line's address when it is a registered port, else by its name).
- an input dataset that is a registered port and carries OpenLineage's
  ``dataQualityAssertions`` (a product's checks run) sets that line's last checks: the
  run, its time, each check's name, success (None: skipped) and severity, and the
  number skipped. The newest event wins.

``run_status(session, line)`` derives freshness from the newest success against the
contract's ``slo.freshness``: ``fresh``, ``stale`` once the age passes the SLO (runs
stopped), ``unknown`` without an SLO or before any success.

A domain owner may report runs and checks only for its own domain's lines (403 otherwise).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from meshkit.contracts import parse_duration
from meshkit_platform.registry import audit
from meshkit_platform.registry.auth import Principal
from meshkit_platform.registry.db import (
    Domain,
    ObservedEdge,
    OutputPort,
    Product,
    ProductCheck,
    ProductRun,
    Run,
)
from meshkit_platform.registry.schemas import Freshness, RunsAccepted, RunStatus

MAX_EVENTS = 1000
MAX_ASSERTIONS = 500
SUCCESS = frozenset({"RUNNING", "COMPLETE"})
_MAX_FACETS_CHARS = 16_384


class OlAssertion(BaseModel):
    """One entry of an input dataset's ``dataQualityAssertions`` facet."""

    model_config = ConfigDict(extra="allow")
    assertion: str = Field(min_length=1, max_length=300)
    success: bool | None = None
    column: str | None = Field(default=None, max_length=300)
    severity: str | None = Field(default=None, max_length=32)


class OlAssertions(BaseModel):
    """OpenLineage's ``dataQualityAssertions`` input dataset facet."""

    model_config = ConfigDict(extra="allow")
    assertions: list[OlAssertion] = Field(max_length=MAX_ASSERTIONS)


class OlDataset(BaseModel):
    """An OpenLineage dataset. Its facets are accepted and not interpreted, except
    ``dataQualityAssertions`` (an input's quality checks, in ``inputFacets`` as the spec
    places it, or in ``facets``), which must have the spec's shape."""

    model_config = ConfigDict(extra="allow")
    namespace: str = Field(min_length=1, max_length=1000)
    name: str = Field(min_length=1, max_length=1000)
    facets: dict[str, Any] = Field(default_factory=dict)
    inputFacets: dict[str, Any] = Field(default_factory=dict)  # noqa: N815 - the spec's name

    @field_validator("facets", "inputFacets")
    @classmethod
    def _assertions_shape(cls, facets: dict[str, Any]) -> dict[str, Any]:
        if "dataQualityAssertions" in facets:
            OlAssertions.model_validate(facets["dataQualityAssertions"])
        return facets

    def assertions(self) -> list[dict[str, Any]] | None:
        """The dataset's quality checks as the registry keeps them, or None without any."""
        facet = self.inputFacets.get("dataQualityAssertions")
        if facet is None:
            facet = self.facets.get("dataQualityAssertions")
        if facet is None:
            return None
        return [
            {"name": a.assertion, "success": a.success, "severity": a.severity}
            for a in OlAssertions.model_validate(facet).assertions
        ]


class OlJob(BaseModel):
    model_config = ConfigDict(extra="allow")
    namespace: str = Field(min_length=1, max_length=1000)
    name: str = Field(min_length=1, max_length=1000)
    facets: dict[str, Any] = Field(default_factory=dict)


class OlRun(BaseModel):
    model_config = ConfigDict(extra="allow")
    runId: str = Field(min_length=1, max_length=64)  # noqa: N815 - the OpenLineage name
    facets: dict[str, Any] = Field(default_factory=dict)


class RunEvent(BaseModel):
    """An OpenLineage run event (spec 2-0-2): the fields the registry reads."""

    model_config = ConfigDict(extra="allow")
    eventType: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None = (  # noqa: N815
        None
    )
    eventTime: datetime  # noqa: N815
    run: OlRun
    job: OlJob
    inputs: list[OlDataset] = Field(default_factory=list, max_length=1000)
    outputs: list[OlDataset] = Field(default_factory=list, max_length=1000)
    producer: str = Field(default="", max_length=2000)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class NotYourDomain(PermissionError):  # noqa: N818
    """A domain owner reported runs of another domain's product."""


def _lines_by_port(session: Session, names: set[str]) -> dict[str, tuple[int, str, str]]:
    """Address → (line id, line address, domain) for the names that are an output port's
    address or a line's own address (``<domain>.<product>.v<major>``, the dataset name
    meshkit.batch reports)."""
    if not names:
        return {}
    by_port = session.execute(
        select(OutputPort.address, Product.id, Product.address, Domain.name)
        .join(Product, Product.id == OutputPort.product_id)
        .join(Domain, Domain.id == Product.domain_id)
        .where(OutputPort.address.in_(names))
    ).all()
    by_line = session.execute(
        select(Product.address, Product.id, Product.address, Domain.name)
        .join(Domain, Domain.id == Product.domain_id)
        .where(Product.address.in_(names))
    ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in (*by_port, *by_line)}


def ingest(session: Session, events: list[RunEvent], caller: Principal) -> RunsAccepted:
    """Record ``events`` in the caller's transaction (the caller commits)."""
    names = {d.name for e in events for d in (*e.inputs, *e.outputs)}
    ports = _lines_by_port(session, names)
    if caller.role == "domain-owner":
        foreign = sorted(
            {
                ports[d.name][1]
                for e in events
                for d in (*e.outputs, *(i for i in e.inputs if i.assertions() is not None))
                if d.name in ports and ports[d.name][2] != caller.domain
            }
        )
        if foreign:
            raise NotYourDomain(
                f"this token reports runs of domain {caller.domain!r} only, "
                f"not of {', '.join(foreign[:5])}"
            )
    touched: set[str] = set()
    for e in sorted(events, key=lambda x: _utc(x.eventTime)):
        at = _utc(e.eventTime)
        state = e.eventType or "OTHER"
        facets = e.run.facets if len(str(e.run.facets)) <= _MAX_FACETS_CHARS else {}
        stmt = insert(Run).values(
            run_id=e.run.runId,
            job_namespace=e.job.namespace,
            job_name=e.job.name,
            state=state,
            started_at=at,
            updated_at=at,
            events=1,
            facets=facets,
        )
        newer = stmt.excluded.updated_at >= Run.updated_at
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Run.run_id],
                set_={
                    "state": _newer_or_old(newer, stmt.excluded.state, Run.state),
                    "facets": _newer_or_old(newer, stmt.excluded.facets, Run.facets),
                    "started_at": func.least(Run.started_at, stmt.excluded.started_at),
                    "updated_at": func.greatest(Run.updated_at, stmt.excluded.updated_at),
                    "events": Run.events + 1,
                },
            )
        )
        for out in e.outputs:
            if out.name not in ports:
                continue
            line_id, address, _ = ports[out.name]
            touched.add(address)
            success = at if state in SUCCESS else None
            pr = insert(ProductRun).values(
                product_id=line_id,
                last_run_id=e.run.runId,
                last_state=state,
                last_event_at=at,
                last_success_at=success,
            )
            newer_pr = pr.excluded.last_event_at >= ProductRun.last_event_at
            session.execute(
                pr.on_conflict_do_update(
                    index_elements=[ProductRun.product_id],
                    set_={
                        "last_run_id": _newer_or_old(
                            newer_pr, pr.excluded.last_run_id, ProductRun.last_run_id
                        ),
                        "last_state": _newer_or_old(
                            newer_pr, pr.excluded.last_state, ProductRun.last_state
                        ),
                        "last_event_at": func.greatest(
                            ProductRun.last_event_at, pr.excluded.last_event_at
                        ),
                        "last_success_at": func.greatest(
                            ProductRun.last_success_at, pr.excluded.last_success_at
                        ),
                    },
                )
            )
            for inp in e.inputs:
                source = ports[inp.name][1] if inp.name in ports else inp.name
                if source == address:
                    continue
                oe = insert(ObservedEdge).values(
                    source_address=source,
                    product_id=line_id,
                    job=f"{e.job.namespace}/{e.job.name}"[:1000],
                    last_seen_at=at,
                )
                session.execute(
                    oe.on_conflict_do_update(
                        index_elements=[ObservedEdge.source_address, ObservedEdge.product_id],
                        set_={
                            "job": oe.excluded.job,
                            "last_seen_at": func.greatest(
                                ObservedEdge.last_seen_at, oe.excluded.last_seen_at
                            ),
                        },
                    )
                )
        for inp in e.inputs:
            checks = inp.assertions()
            if checks is None or inp.name not in ports:
                continue
            line_id, address, _ = ports[inp.name]
            touched.add(address)
            pc = insert(ProductCheck).values(
                product_id=line_id,
                run_id=e.run.runId,
                job=f"{e.job.namespace}/{e.job.name}"[:1000],
                checked_at=at,
                assertions=checks,
                skipped=_skipped(e, checks),
            )
            newer_pc = pc.excluded.checked_at >= ProductCheck.checked_at
            session.execute(
                pc.on_conflict_do_update(
                    index_elements=[ProductCheck.product_id],
                    set_={
                        col: _newer_or_old(newer_pc, getattr(pc.excluded, col), old)
                        for col, old in (
                            ("run_id", ProductCheck.run_id),
                            ("job", ProductCheck.job),
                            ("checked_at", ProductCheck.checked_at),
                            ("assertions", ProductCheck.assertions),
                            ("skipped", ProductCheck.skipped),
                        )
                    },
                )
            )
    audit.append(
        session,
        actor=caller.name,
        action="runs.ingest",
        subject="runs",
        detail={"events": len(events), "products": sorted(touched)},
    )
    return RunsAccepted(accepted=len(events), products=sorted(touched))


def _skipped(event: RunEvent, checks: list[dict[str, Any]]) -> int:
    """Checks of the run without a result: those whose ``success`` is null, or the count
    of meshkit's ``meshkit_checks`` run facet (the spec's assertions need a result, so
    meshkit leaves skipped checks out of them)."""
    facet = event.run.facets.get("meshkit_checks")
    reported = facet.get("skipped") if isinstance(facet, dict) else None
    unknown = sum(c["success"] is None for c in checks)
    if isinstance(reported, int) and not isinstance(reported, bool) and reported >= 0:
        return max(unknown, min(reported, MAX_ASSERTIONS))
    return unknown


def _newer_or_old(newer: Any, new: Any, old: Any) -> Any:
    """SQL: ``new`` when the incoming event is the newer one, else ``old``."""
    return case((newer, new), else_=old)


def status_of(
    slo: dict[str, Any] | None,
    last_run_id: str,
    last_state: str,
    last_event_at: datetime,
    last_success_at: datetime | None,
    now: datetime | None = None,
) -> RunStatus:
    """A line's run status from its newest observation, and freshness against its SLO."""
    now = now or datetime.now(UTC)
    freshness = (slo or {}).get("freshness")
    slo_td = parse_duration(str(freshness)) if freshness else None
    age = (now - last_success_at).total_seconds() if last_success_at else None
    if slo_td is None or age is None:
        status: Literal["fresh", "stale", "unknown"] = "unknown"
    else:
        status = "fresh" if age <= slo_td.total_seconds() else "stale"
    return RunStatus(
        last_run_id=last_run_id,
        last_state=last_state,
        last_event_at=last_event_at,
        last_success_at=last_success_at,
        freshness=Freshness(
            status=status,
            slo_seconds=slo_td.total_seconds() if slo_td else None,
            age_seconds=age,
        ),
    )


def run_status(session: Session, line: Product, now: datetime | None = None) -> RunStatus | None:
    """The line's newest observation and its freshness against the SLO, or None."""
    row = session.get(ProductRun, line.id)
    if row is None:
        return None
    return status_of(
        line.slo, row.last_run_id, row.last_state, row.last_event_at, row.last_success_at, now
    )
