"""Apply: carry out a saved plan, in dependency order, only if the live state still matches.

``apply_plan(plan, backends, allow_delete=...)``:

1. reloads the contracts and the access grants the plan carries (so no disk and no
   registry is needed);
2. refuses a delete of a data-holding resource (a topic, a table, an index) that
   ``allow_delete`` does not name (``DestroyRefusedError``, listing them all);
3. reads the live state again and refuses the plan when its hash differs from the one
   the plan was made from (``StalePlanError``): re-plan, review, apply that;
4. carries out the pending changes in ``apply_order`` (per backend: Kafka, warehouse,
   BigQuery, search, views; schemas and datasets before tables, indices before aliases;
   deletes last), with a Rich progress bar; Kafka changes of one action go in one admin request;
5. stops at the first failure with ``ApplyError`` saying what was applied and what was
   not; a new plan picks up from there (every step is idempotent, so re-planning and
   applying again finishes the job).

A second apply of the same plan is refused as stale (the first one changed the live
state); the plan made after a successful apply has nothing pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract
from meshkit_platform.provisioning.desired import DomainContract, desired_resources
from meshkit_platform.provisioning.errors import (
    ApplyError,
    DestroyRefusedError,
    ProvisioningError,
    StalePlanError,
)
from meshkit_platform.provisioning.grants import AccessGrant, reader_grants, view_grants
from meshkit_platform.provisioning.plan import Backend, Plan, live_hash, read_live
from meshkit_platform.provisioning.resources import Change, Resource, apply_order


@dataclass
class ApplyReport:
    """What an apply did."""

    applied: list[str] = field(default_factory=list)
    """``"<action> <backend> <kind> <name>"`` per change carried out, in order."""


def _label(change: Change) -> str:
    return f"{change.action} {change.backend} {change.kind} {change.name}"


def plan_contracts(plan: Plan) -> list[DomainContract]:
    """The contracts the plan was made from."""
    out = []
    for address, entry in sorted(plan.contracts.items()):
        contract, problems = parse_contract(entry["text"], entry["file"])
        if contract is None:
            detail = "; ".join(p.format() for p in problems)
            raise ProvisioningError(f"the plan's contract {address} does not load: {detail}")
        out.append(DomainContract(contract, entry["file"], entry["text"]))
    return out


def plan_grants(plan: Plan) -> list[AccessGrant]:
    """The access grants the plan was made with."""
    try:
        return [AccessGrant.from_json(g) for g in plan.grants]
    except (KeyError, TypeError, ValueError):
        raise ProvisioningError(
            "the plan's grants are not what `meshkit-platform plan --registry` writes"
        ) from None


def check_deletes(changes: Iterable[Change], allow_delete: Iterable[str]) -> None:
    """``DestroyRefusedError`` for every data-holding delete not named in ``allow_delete``."""
    allowed = set(allow_delete)
    refused = [
        f"{c.backend} {c.kind} {c.name}"
        for c in changes
        if c.action == "delete" and c.holds_data and c.name not in allowed
    ]
    if refused:
        flags = " ".join(f"--allow-delete {r.split(' ', 2)[2]}" for r in refused)
        raise DestroyRefusedError(
            "the plan deletes data-holding resources: "
            + ", ".join(refused)
            + f"; to delete them, apply with {flags}"
        )


def apply_plan(
    plan: Plan,
    backends: Sequence[Backend],
    *,
    allow_delete: Iterable[str] = (),
    console: Console | None = None,
) -> ApplyReport:
    """Carry out ``plan`` (see the module docstring)."""
    contracts = plan_contracts(plan)
    pending = sorted(plan.pending, key=apply_order)
    check_deletes(pending, allow_delete)
    by_name = {b.name: b for b in backends}
    missing = sorted({c.backend for c in pending} - set(by_name))
    if missing:
        raise ProvisioningError(
            f"the plan changes {', '.join(missing)} but no connection to it is configured"
        )
    grants = plan_grants(plan)
    desired: dict[tuple[str, str, str], Resource] = {
        r.key: r
        for r in desired_resources(
            contracts, view_grants(grants, contracts), reader_grants(grants, contracts)
        )
    }
    now = live_hash(read_live([b for b in backends if b.name in plan.capabilities],
                              frozenset(plan.domains), list(desired.values())))  # fmt: skip
    if now != plan.live_hash:
        raise StalePlanError(
            "the plan is stale: the live state changed since it was made (its hash "
            f"{plan.live_hash[:12]}, now {now[:12]}); run plan again and apply the new plan"
        )
    by_address: dict[str, Contract] = {dc.contract.address: dc.contract for dc in contracts}
    report = ApplyReport()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        console=console or Console(stderr=True), transient=False,
    )  # fmt: skip
    with progress:
        task = progress.add_task("apply", total=len(pending))
        i = 0
        while i < len(pending):
            group = _group(pending, i, by_name)
            progress.update(task, description=_label(group[0]))
            errors = _run(group, by_name[group[0].backend], desired, by_address)
            done = [_label(c) for c, e in zip(group, errors, strict=True) if e is None]
            report.applied.extend(done)
            progress.advance(task, len(done))
            failed = [(c, e) for c, e in zip(group, errors, strict=True) if e is not None]
            if failed:
                change, exc = failed[0]
                not_done = [_label(c) for c, _ in failed] + [
                    _label(c) for c in pending[i + len(group) :]
                ]
                raise ApplyError(
                    f"{_label(change)} failed: {type(exc).__name__}: {exc}\n"
                    f"applied ({len(report.applied)}): {', '.join(report.applied) or 'none'}\n"
                    f"not applied ({len(not_done)}): {', '.join(not_done)}"
                    "\nrun plan again: the new plan starts from what is live now",
                    list(report.applied),
                    not_done,
                ) from exc
            i += len(group)
    return report


def _group(pending: list[Change], start: int, by_name: dict[str, Backend]) -> list[Change]:
    """The changes from ``start`` that go in one request: consecutive changes of the same
    backend, kind and action when the backend batches (Kafka), else one."""
    first = pending[start]
    if getattr(by_name[first.backend], "apply_batch", None) is None:
        return [first]
    end = start + 1
    same = (first.backend, first.kind, first.action)
    while (
        end < len(pending)
        and (pending[end].backend, pending[end].kind, pending[end].action) == same
    ):
        end += 1
    return pending[start:end]


def _run(
    group: list[Change], backend: Backend, desired: dict[tuple[str, str, str], Resource],
    by_address: dict[str, Contract],
) -> list[Exception | None]:  # fmt: skip
    """An error (or ``None``) per change of the group; any exception is the change's failure,
    reported with what was and was not applied."""
    batch = getattr(backend, "apply_batch", None)
    try:
        if batch is not None:
            result: list[Exception | None] = batch(group, desired)
            return result
        change = group[0]
        contract = by_address.get(change.address) if change.address else None
        backend.apply(change, desired.get(change.key), contract)
    except Exception as exc:
        return [exc] * len(group)
    return [None]
