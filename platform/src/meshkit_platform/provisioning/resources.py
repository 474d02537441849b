"""The resources model: what exists (or should) in one backend, and a change to it.

A ``Resource`` is one thing meshkit provisions, keyed by ``(backend, kind, name)``:

==========  ==========  ====================================  ==========
backend     kind        name                                  holds data
==========  ==========  ====================================  ==========
kafka       topic       ``<domain>.<product>.v<major>``       yes
kafka       topic       ``<address>.deadletter``              yes
kafka       acl         ``<topic> User:meshkit_reader_<g>``   no
warehouse   schema      ``<domain>``                          no
warehouse   table       ``<domain>.<product>_v<major>``       yes
bigquery    dataset     ``<domain>``                          no
bigquery    table       ``<domain>.<product>_v<major>``       yes
bigquery    policy_tags ``<domain>.<product>_v<major>``       no
bigquery    iam         ``<table> meshkit_reader_<g>``        no
search      index       ``<domain>.<product>.v<major>``       yes
search      alias       ``<domain>.<product>``                no
search      role        ``meshkit_reader_<g>.<address>``      no
view        table       ``<schema>.<domain>.<product>.v<major>``  yes
cdc         publication ``<database>.meshkit_<domain>``       no
cdc         slot        ``<database>.meshkit_<domain>``       yes
==========  ==========  ====================================  ==========

``attrs`` holds the attributes compared between the desired and the live state (JSON
values only, so a plan file carries them as they are). A ``Change`` is what the plan
decided for one resource: ``create``, ``update``, ``delete``, ``no change`` or ``not
applicable`` (a backend that lacks the feature), with a reason and the attribute diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "delete", "no change", "not applicable"]
PENDING: frozenset[str] = frozenset({"create", "update", "delete"})
BACKENDS: tuple[str, ...] = ("kafka", "warehouse", "bigquery", "search", "view", "cdc")
"""Every backend, in the order apply visits them."""
_KIND_ORDER = {
    "schema": 0,
    "dataset": 0,
    "publication": 0,
    "slot": 1,
    "topic": 1,
    "table": 1,
    "index": 1,
    "alias": 2,
    "acl": 2,
    "role": 2,
    "policy_tags": 2,
    "iam": 2,
}
NO_DATA: frozenset[str] = frozenset(
    {"acl", "alias", "role", "schema", "dataset", "policy_tags", "iam"}
)
"""Kinds of resource that hold no data: deleting one needs no ``--allow-delete``."""
NEVER_DELETED: frozenset[str] = frozenset({"schema", "dataset"})
"""Kinds a plan never deletes (a schema or dataset may hold tables meshkit does not own)."""


@dataclass(frozen=True)
class Resource:
    """One provisioned resource (see the module docstring)."""

    backend: str
    kind: str
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    """The product address the resource serves (``None`` for a domain-wide one)."""
    source: str = ""
    """The contract file that asks for it (desired resources only)."""
    holds_data: bool = True

    @property
    def key(self) -> tuple[str, str, str]:
        """``(backend, kind, name)``."""
        return (self.backend, self.kind, self.name)


@dataclass(frozen=True)
class Change:
    """What the plan does to one resource."""

    action: Action
    backend: str
    kind: str
    name: str
    reason: str
    diff: tuple[tuple[str, Any, Any], ...] = ()
    """``(attribute, live value, desired value)``; ``None`` where a side has none."""
    address: str | None = None
    holds_data: bool = True

    @property
    def key(self) -> tuple[str, str, str]:
        """``(backend, kind, name)``."""
        return (self.backend, self.kind, self.name)

    @property
    def pending(self) -> bool:
        """Whether apply has something to do."""
        return self.action in PENDING

    def to_json(self) -> dict[str, Any]:
        """The change as plain JSON values."""
        return {
            "action": self.action,
            "backend": self.backend,
            "kind": self.kind,
            "name": self.name,
            "reason": self.reason,
            "diff": [{"attribute": a, "live": old, "desired": new} for a, old, new in self.diff],
            "address": self.address,
            "holds_data": self.holds_data,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """The inverse of ``to_json``."""
        return cls(
            action=data["action"],
            backend=data["backend"],
            kind=data["kind"],
            name=data["name"],
            reason=data["reason"],
            diff=tuple((d["attribute"], d["live"], d["desired"]) for d in data["diff"]),
            address=data["address"],
            holds_data=bool(data["holds_data"]),
        )


def attr_diff(live: dict[str, Any], desired: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    """The attributes whose values differ; mappings (columns, config, grants) member by
    member, also when one side has none (a create lists every column)."""
    out: list[tuple[str, Any, Any]] = []
    for name in sorted(set(live) | set(desired)):
        old, new = live.get(name), desired.get(name)
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = old or {}, new or {}
        if isinstance(old, dict) and isinstance(new, dict):
            out.extend(
                (f"{name}.{member}", old.get(member), new.get(member))
                for member in sorted(set(old) | set(new))
                if old.get(member) != new.get(member)
            )
        elif old != new:
            out.append((name, old, new))
    return tuple(out)


def apply_order(change: Change) -> tuple[int, int, int, str]:
    """Sort key of apply: creates and updates backend by backend (schemas before tables,
    indices before aliases), then deletes in the reverse order."""
    backend = BACKENDS.index(change.backend) if change.backend in BACKENDS else len(BACKENDS)
    rank = _KIND_ORDER.get(change.kind, 1)
    if change.action == "delete":
        return (1, -backend, -rank, change.name)
    return (0, backend, rank, change.name)
