"""Reading a YAML document while recording which parts were used.

The ODCS importer reads every value through a ``Node``; whatever it never read is, at
the end, reported by ``Tracker.leftovers`` as a warning with its line and column: a
key meshkit has no place for is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from meshkit.contracts.problem import Problem, display_path
from meshkit.contracts.yamlpos import Path, YamlDocument

# Why a key is not imported, by the key's name (the nearest named key of its path).
REASONS = {
    "authoritativeDefinitions": "meshkit keeps no links to definitions",
    "businessName": "meshkit has no business names",
    "businessImpact": "meshkit quality rules have no business impact",
    "contractCreatedTs": "meshkit keeps no creation time (git keeps the contract's history)",
    "criticalDataElement": "meshkit has no critical-data-element flag",
    "dataGranularityDescription": "meshkit has no granularity description",
    "dateIn": "meshkit keeps the owner team and its contact only",
    "dateOut": "meshkit keeps the owner team and its contact only",
    "defaultTimezone": "meshkit timestamps are time-zone aware (UTC)",
    "description": "meshkit keeps descriptions of the product, fields, rules and ports only",
    "dimension": "meshkit quality rules have no dimension",
    "driver": "meshkit SLOs have no driver",
    "element": "meshkit SLOs apply to the whole product",
    "examples": "meshkit keeps no example values",
    "exclusiveMaximum": "meshkit ranges are inclusive: write a range rule with max",
    "exclusiveMinimum": "meshkit ranges are inclusive: write a range rule with min",
    "firstLevelApprovers": "meshkit access requests are approved by the owning team",
    "format": "meshkit keeps no value format: write a regex rule for it",
    "id": "meshkit keeps no ids of parts of a contract",
    "invitationUrl": "meshkit keeps one owner contact",
    "logicalTypeOptions": "meshkit has no such type option",
    "maxItems": "meshkit has no array-size rule",
    "maxLength": "meshkit has no length rule: write a regex rule for it",
    "maxProperties": "meshkit has no rule on the number of keys",
    "method": "meshkit quality rules have no method",
    "minItems": "meshkit has no array-size rule",
    "minLength": "meshkit has no length rule: write a regex rule for it",
    "minProperties": "meshkit has no rule on the number of keys",
    "multipleOf": "meshkit has no multiple-of rule: write a custom_sql rule for it",
    "partitioned": "meshkit declares partitioning on its warehouse port",
    "partitionKeyPosition": "meshkit declares partitioning on its warehouse port",
    "physicalName": "meshkit derives physical names from the product's address",
    "price": "meshkit has no pricing",
    "relationships": "meshkit has no foreign keys: declare the other product as an input port",
    "replacedByUsername": "meshkit keeps the owner team and its contact only",
    "schedule": "meshkit runs quality rules with the product's checks",
    "scheduler": "meshkit runs quality rules with the product's checks",
    "scope": "meshkit keeps one owner contact",
    "secondLevelApprovers": "meshkit access requests are approved by the owning team",
    "servers": "meshkit derives where data lives from its output ports",
    "slaDefaultElement": "meshkit SLOs apply to the whole product",
    "slaProperties": "meshkit SLOs are freshness, completeness and availability",
    "support": "meshkit keeps one owner contact",
    "team": "meshkit keeps the owner team and its contact only",
    "tenant": "meshkit has no tenants",
    "tags": "meshkit has no free tags",
    "transformDescription": "meshkit declares lineage with input ports and a mapping",
    "transformLogic": "meshkit declares lineage with input ports and a mapping",
    "transformSourceObjects": "meshkit declares lineage with input ports and a mapping",
    "uniqueItems": "meshkit has no array-element uniqueness rule",
    "valueExt": "meshkit SLOs have one value",
    "customProperties": "not a property meshkit knows",
}


def _says_nothing(value: Any) -> bool:
    """A default value (null, false, -1, empty): ODCS writes them for illustration."""
    if value is None or value is False:
        return True
    if type(value) is int:
        return value == -1
    return isinstance(value, str | list | dict) and len(value) == 0


@dataclass
class Tracker:
    """The document, what was read of it, and the warnings and problems found."""

    doc: YamlDocument
    file: str
    used: set[Path] = field(default_factory=set)
    opened: set[Path] = field(default_factory=set)  # read part by part: report each part
    warnings: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def _problem(self, path: Path, message: str, **kw: Any) -> Problem:
        line, column = self.doc.position(path)
        return Problem(self.file, line, column, display_path(path), message, **kw)

    def warn(self, path: Path, message: str, hint: str | None = None) -> None:
        self.warnings.append(self._problem(path, message, hint=hint, severity="warning"))
        if path:  # a warning about the whole document leaves its parts to be reported
            self.used.add(path)

    def error(
        self, path: Path, message: str, expected: str | None = None, hint: str | None = None
    ) -> None:
        self.problems.append(self._problem(path, message, expected=expected, hint=hint))

    def leftovers(self) -> None:
        """Warn about every part of the document that was never read."""
        touched: set[Path] = set(self.opened)
        for path in self.used:
            for i in range(len(path) + 1):
                touched.add(path[:i])
        self._walk(self.doc.data, (), touched)
        self.warnings.sort(key=lambda p: (p.line, p.column))

    def _walk(self, value: Any, path: Path, touched: set[Path]) -> None:
        if path in self.used:
            return
        if path not in touched:
            if _says_nothing(value):
                return
            reason = next((REASONS[p] for p in reversed(path) if p in REASONS), None)
            label = _label(value)
            self.warn(path, f"not imported{label}: {reason or 'meshkit has no equivalent'}")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                self._walk(item, (*path, key), touched)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._walk(item, (*path, i), touched)


def _label(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("property", "name", "username", "role", "channel", "server"):
            if isinstance(value.get(key), str):
                return f" ({value[key]})"
    return ""


@dataclass
class Node:
    """A mapping of the document at ``path``; reading a key marks it used."""

    t: Tracker
    path: Path
    data: dict[str, Any]

    def peek(self, key: str) -> Any:
        """The value of ``key`` without marking it used."""
        return self.data.get(key)

    def get(self, key: str) -> Any:
        """The value of ``key`` (None when absent), marked used."""
        if key in self.data:
            self.t.used.add((*self.path, key))
        return self.data.get(key)

    def at(self, key: str) -> Path:
        return (*self.path, key)

    def node(self, key: str) -> Node | None:
        """The mapping under ``key`` (its keys are marked one by one as they are read)."""
        value = self.data.get(key)
        return Node(self.t, (*self.path, key), value) if isinstance(value, dict) else None

    def nodes(self, key: str) -> list[Node]:
        """The mappings of the list under ``key``."""
        value = self.data.get(key)
        if not isinstance(value, list):
            return []
        return [
            Node(self.t, (*self.path, key, i), v)
            for i, v in enumerate(value)
            if isinstance(v, dict)
        ]

    def custom(self, name: str) -> Any:
        """The value of the custom property ``name`` (``customProperties`` list), marked used."""
        for item in self.nodes("customProperties"):
            if item.peek("property") == name:
                item.get("property")
                return item.get("value")
        return None

    def custom_at(self, name: str) -> Path:
        """Where the custom property ``name`` is (its list when it is absent)."""
        for item in self.nodes("customProperties"):
            if item.peek("property") == name:
                return item.path
        return self.at("customProperties")

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)
