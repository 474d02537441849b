"""Plan: the desired state against the live state, one ``Change`` per resource.

``make_plan(contracts, backends)`` reads every backend's live state (only what meshkit
owns, for the planned domains), compares it with the desired resources and decides:

- **create**: desired, not live (a new product, a new major beside the old one, or a
  resource deleted out of band);
- **update**: desired and live differ (retention altered by hand, a column added or
  missing); the reason and the attribute diff say how;
- **delete**: owned and live, no longer desired (only data-holding resources need
  ``--allow-delete`` at apply);
- **no change**;
- **not applicable**: the backend cannot do it here (a capability it lacks, a table of
  that name it does not own, a breaking change that takes a new major).

The plan carries ``live_hash``, the SHA-256 of the live state it read, so apply can
refuse a plan that no longer matches the systems, and the contracts' text, so apply
needs nothing but the plan file. ``render`` prints one Rich table per backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from meshkit.contracts import Contract
from meshkit_platform.provisioning.desired import DomainContract, desired_resources
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import AccessGrant, reader_grants, view_grants
from meshkit_platform.provisioning.resources import (
    BACKENDS,
    NEVER_DELETED,
    NO_DATA,
    Change,
    Resource,
    attr_diff,
)

PLAN_FORMAT = 1
LiveState = dict[tuple[str, str], dict[str, Any]]


class Backend(Protocol):
    """What every backend module provides (``kafka``, ``warehouse``, ``bigquery``,
    ``search``, ``views``, ``cdc``)."""

    name: str

    def capabilities(self) -> dict[str, str]:
        """Feature → ``supported`` or ``not applicable here: <why>``."""

    def read(self, domains: frozenset[str]) -> LiveState:
        """The owned live resources of ``domains``: ``(kind, name)`` → attributes."""

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """An action and reason that overrule the plain diff, or ``None``."""

    def apply(self, change: Change, desired: Resource | None, contract: Contract | None) -> None:
        """Carry out one change."""

    def close(self) -> None:
        """Release connections."""


@dataclass
class Plan:
    """A plan (see the module docstring)."""

    domains: list[str]
    live_hash: str
    changes: list[Change]
    capabilities: dict[str, dict[str, str]]
    contracts: dict[str, dict[str, str]] = field(default_factory=dict)
    """address → ``{"file": ..., "text": ...}``."""
    grants: list[dict[str, Any]] = field(default_factory=list)
    """The registry's access grants the plan was made with (``AccessGrant.to_json``)."""

    @property
    def pending(self) -> list[Change]:
        """The changes apply carries out."""
        return [c for c in self.changes if c.pending]

    def to_json(self) -> dict[str, Any]:
        """The plan file's content."""
        return {
            "format": PLAN_FORMAT,
            "domains": self.domains,
            "live_hash": self.live_hash,
            "capabilities": self.capabilities,
            "summary": summary(self.changes),
            "changes": [c.to_json() for c in self.changes],
            "contracts": self.contracts,
            "grants": self.grants,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], file: str = "<plan>") -> Plan:
        """A plan from its file content; ``ProvisioningError`` naming what is wrong."""
        try:
            if data.get("format") != PLAN_FORMAT:
                raise ProvisioningError(
                    f"{file}: plan format {data.get('format')!r}; expected {PLAN_FORMAT}"
                )
            return cls(
                domains=list(data["domains"]),
                live_hash=str(data["live_hash"]),
                changes=[Change.from_json(c) for c in data["changes"]],
                capabilities=dict(data["capabilities"]),
                contracts=dict(data["contracts"]),
                grants=list(data.get("grants", [])),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProvisioningError(
                f"{file}: not a meshkit plan (missing or wrong field {exc}); expected the "
                "file `meshkit-platform plan --out` writes"
            ) from None


def summary(changes: Sequence[Change]) -> dict[str, int]:
    """How many changes of each action."""
    out: dict[str, int] = {}
    for c in changes:
        out[c.action] = out.get(c.action, 0) + 1
    return out


def read_live(
    backends: Sequence[Backend], domains: frozenset[str], desired: Sequence[Resource] = ()
) -> dict[str, LiveState]:
    """Every backend's owned live state (a backend with ``prepare`` first learns its
    desired resources: the CDC backend reads the databases they name)."""
    for b in backends:
        prepare = getattr(b, "prepare", None)
        if prepare is not None:
            prepare([r for r in desired if r.backend == b.name])
    return {b.name: b.read(domains) for b in backends}


def live_hash(live: Mapping[str, LiveState]) -> str:
    """SHA-256 of the live state, independent of the order it was read in."""
    canon = {
        backend: sorted([list(key), attrs] for key, attrs in state.items())
        for backend, state in live.items()
    }
    return hashlib.sha256(orjson.dumps(canon, option=orjson.OPT_SORT_KEYS)).hexdigest()


def make_plan(
    contracts: Sequence[DomainContract],
    backends: Sequence[Backend],
    grants: Sequence[AccessGrant] = (),
) -> Plan:
    """The plan for ``contracts`` and the registry's access ``grants`` against what
    ``backends`` hold now."""
    domains = frozenset(dc.contract.domain for dc in contracts)
    by_name = {b.name: b for b in backends}
    wanted_all = desired_resources(
        list(contracts), view_grants(grants, contracts), reader_grants(grants, contracts)
    )
    desired = [r for r in wanted_all if r.backend in by_name]
    live = read_live(backends, domains, desired)
    problems = [
        why for r in desired for why in getattr(by_name[r.backend], "problems", lambda _r: [])(r)
    ]
    if problems:
        raise ProvisioningError("invalid desired state:\n" + "\n".join(problems))
    changes: list[Change] = []
    wanted: set[tuple[str, str, str]] = set()
    for asked in desired:
        backend = by_name[asked.backend]
        normalise = getattr(backend, "normalise", None)
        resource = normalise(asked) if normalise is not None else asked
        wanted.add(resource.key)
        changes.append(_decide(backend, resource, live[backend.name].get(resource.key[1:])))
    for backend in backends:
        for (kind, name), attrs in live[backend.name].items():
            if (backend.name, kind, name) in wanted or kind in NEVER_DELETED:
                continue
            changes.append(
                Change("delete", backend.name, kind, name,
                       "owned by meshkit, no longer in any contract",
                       attr_diff(attrs, {}), None, kind not in NO_DATA)
            )  # fmt: skip
    changes.sort(key=lambda c: (BACKENDS.index(c.backend), c.kind, c.name))
    return Plan(
        domains=sorted(domains),
        live_hash=live_hash(live),
        changes=changes,
        capabilities={b.name: b.capabilities() for b in backends},
        contracts={dc.contract.address: {"file": dc.file, "text": dc.text} for dc in contracts},
        grants=[g.to_json() for g in grants],
    )


def _decide(backend: Backend, desired: Resource, live: dict[str, Any] | None) -> Change:
    def change(action: Any, reason: str, diff: tuple[tuple[str, Any, Any], ...]) -> Change:
        return Change(action, desired.backend, desired.kind, desired.name, reason, diff,
                      desired.address, desired.holds_data)  # fmt: skip

    unsupported = getattr(backend, "not_applicable", None)
    why = unsupported(desired) if unsupported is not None else None
    if why is not None:
        return change("not applicable", why, attr_diff(live or {}, desired.attrs))
    if live is None:
        if desired.key[1:] in getattr(backend, "foreign", set()):
            return change("not applicable", "exists without meshkit's marker: not owned, "
                          "left alone", ())  # fmt: skip
        return change("create", f"asked for by {desired.source}", attr_diff({}, desired.attrs))
    diff = attr_diff(live, desired.attrs)
    verdict = backend.judge(desired, live)
    if verdict is not None:
        return change(verdict[0], verdict[1], diff)
    if not diff:
        return change("no change", "matches the contract", ())
    return change("update", "differs from the contract (" + _drift(diff) + ")", diff)


def _drift(diff: tuple[tuple[str, Any, Any], ...]) -> str:
    parts = []
    for attr, old, new in diff:
        if old is None:
            parts.append(f"{attr} missing")
        elif new is None:
            parts.append(f"{attr} not in the contract")
        else:
            parts.append(f"{attr} altered")
    return ", ".join(parts)


_STYLE = {"create": "green", "update": "yellow", "delete": "red", "not applicable": "dim"}


def render(plan: Plan, console: Console) -> None:
    """One table per backend: action, resource, reason, attribute diff; then capabilities."""
    for backend in BACKENDS:
        rows = [c for c in plan.changes if c.backend == backend]
        if not rows and backend not in plan.capabilities:
            continue
        table = Table(title=f"{backend}", title_justify="left", show_lines=False)
        for column in ("action", "kind", "name", "reason", "diff"):
            table.add_column(column, overflow="fold")
        for c in rows:
            diff = "\n".join(f"{a}: {_shown(old)} -> {_shown(new)}" for a, old, new in c.diff[:8])
            if len(c.diff) > 8:
                diff += f"\n... {len(c.diff) - 8} more"
            cells = (c.action, c.kind, c.name, c.reason, diff)
            table.add_row(*(Text(cell) for cell in cells), style=_STYLE.get(c.action, ""))
        console.print(table)
        for feature, state in plan.capabilities.get(backend, {}).items():
            if state != "supported":
                console.print(f"  {backend} {feature}: {state}", markup=False, highlight=False)
    counts = summary(plan.changes)
    console.print(
        ", ".join(f"{counts.get(a, 0)} to {a}" for a in ("create", "update", "delete"))
        + f", {counts.get('no change', 0)} unchanged",
        markup=False,
        highlight=False,
    )


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
