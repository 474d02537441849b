"""The result of a diff: the changes, and the version gate over them.

The gate, which domain CI and pre-commit run:

- the version never goes backwards;
- when anything changed, the version increases;
- a breaking change needs a major bump (``1.4.0`` → ``2.0.0``); below 1.0.0, where
  semantic versioning promises no stability, a minor bump (``0.3.1`` → ``0.4.0``) is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from meshkit.contracts.diff.catalogue import KINDS

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """A semantic version, ordered as semver orders them (a pre-release sorts first)."""

    major: int
    minor: int
    patch: int
    release: bool = True  # False for a pre-release, which sorts before its release
    pre: tuple[tuple[int, int | str], ...] = ()

    @staticmethod
    def parse(text: str) -> Version:
        m = _SEMVER.match(text)
        if m is None:
            raise ValueError(f"{text!r} is not a semantic version MAJOR.MINOR.PATCH")
        pre = m.group(4)
        parts: tuple[tuple[int, int | str], ...] = ()
        if pre:
            # Numeric identifiers sort before alphanumeric ones, numerically among themselves.
            parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
        return Version(int(m[1]), int(m[2]), int(m[3]), pre is None, parts)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if not self.release:
            text += "-" + ".".join(str(v) for _, v in self.pre)
        return text

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


@dataclass(frozen=True, slots=True)
class Change:
    """One change between two contracts: its kind, where, and the old and new values."""

    kind: str
    path: str
    detail: str
    old: str | None = None
    new: str | None = None

    @property
    def breaking(self) -> bool:
        return KINDS[self.kind].breaking

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "breaking": self.breaking,
            "detail": self.detail,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class Gate:
    """The verdict of the version gate and, when it fails, why and what to do."""

    passed: bool
    reason: str
    suggested_version: str | None = None


@dataclass(frozen=True)
class DiffReport:
    """Every change from ``old_version`` to ``new_version``, and the gate's verdict."""

    old_version: str
    new_version: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking)

    @property
    def gate(self) -> Gate:
        return version_gate(self.old_version, self.new_version, self.changes)

    def as_dict(self) -> dict[str, Any]:
        gate = self.gate
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "changes": [c.as_dict() for c in self.changes],
            "breaking": len(self.breaking),
            "compatible": len(self.changes) - len(self.breaking),
            "gate": {
                "passed": gate.passed,
                "reason": gate.reason,
                "suggested_version": gate.suggested_version,
            },
        }


def _next(old: Version, breaking: bool, docs_only: bool) -> Version:
    if breaking:
        if old.major == 0:
            return Version(0, old.minor + 1, 0)
        return Version(old.major + 1, 0, 0)
    if docs_only:
        return Version(old.major, old.minor, old.patch + 1)
    return Version(old.major, old.minor + 1, 0)


_DOC_KINDS = frozenset(
    {
        "description_changed",
        "field_description_changed",
        "owner_changed",
        "quality_rule_documented",
        "output_port_documented",
        "fields_reordered",
    }
)


def version_gate(old_version: str, new_version: str, changes: tuple[Change, ...]) -> Gate:
    """Whether ``new_version`` is an acceptable successor of ``old_version`` given ``changes``."""
    old, new = Version.parse(old_version), Version.parse(new_version)
    breaking = [c for c in changes if c.breaking]
    docs_only = all(c.kind in _DOC_KINDS for c in changes)
    suggested = str(_next(old, bool(breaking), docs_only))
    if new < old:
        return Gate(
            False, f"the version went backwards, from {old} to {new}", suggested_version=suggested
        )
    if breaking:
        bumped = new.major > old.major or (old.major == 0 == new.major and new.minor > old.minor)
        if not bumped:
            what = "a major" if old.major > 0 else "a minor (below 1.0.0) or major"
            n = len(breaking)
            return Gate(
                False,
                f"{n} breaking change{'s' if n > 1 else ''} need{'' if n > 1 else 's'} {what} "
                f"version bump, but the version went from {old} to {new}",
                suggested_version=suggested,
            )
        return Gate(True, f"breaking changes come with a major version bump ({old} → {new})")
    if changes and new == old:
        return Gate(
            False,
            f"the contract changed but its version did not (still {old})",
            suggested_version=suggested,
        )
    if not changes:
        return Gate(True, "no changes" if new == old else f"no changes; version {old} → {new}")
    return Gate(True, f"compatible changes with a version increase ({old} → {new})")
