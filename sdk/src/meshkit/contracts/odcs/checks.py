"""ODCS data-quality checks → meshkit quality rules (part of ``from_odcs``).

meshkit rules demand that no value fails (a not-null, unique, accepted-values or regex
rule, a SQL query for failing rows) or bound the row count. An ODCS check is imported
when it says the same: a library metric (``nullValues``, ``missingValues``,
``duplicateValues``, ``invalidValues``) with a "none allowed" threshold (``mustBe: 0``,
``mustBeLessThan: 1``, ``mustBeLessOrEqualTo: 0`` in rows), ``rowCount`` with bounds, a
SQL check counting failing rows that must be 0, or a ``custom`` check of engine
``meshkit``. Every other check is warned with what it is and why it is not imported.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from meshkit.contracts.odcs.export import SEVERITY
from meshkit.contracts.odcs.tracker import Node, Tracker

METRICS = {"nullCheck": "nullValues", "duplicateCount": "duplicateValues",
           "validValues": "invalidValues", "countCheck": "rowCount"}  # fmt: skip
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
SQL_WRAPPED = re.compile(r"^\s*SELECT COUNT\(\*\) FROM \(\s*(.*?)\s*\) AS failing_rows\s*$", re.S)
# SELECT COUNT(*) FROM <the object> WHERE <condition>: the rows meeting the condition fail.
SQL_COUNT_WHERE = re.compile(
    r"^\s*select\s+count\s*\(\s*(?:\*|1)\s*\)\s+from\s+(\S+)\s+where\s+(.+?)\s*;?\s*$",
    re.S | re.I,
)
NONE_ALLOWED = ({"mustBe": 0}, {"mustBeLessThan": 1}, {"mustBeLessOrEqualTo": 0})
WHY = (
    "meshkit rules demand none of the failing values (mustBe: 0), bound the row count, "
    "or are meshkit rules"
)


class Checks:
    """Reads the quality checks of one schema object into ``rules``."""

    def __init__(self, t: Tracker, tables: set[str]) -> None:
        self.t = t
        self.tables = {name.lower() for name in tables} | {"{object}"}
        self.rules: list[dict[str, Any]] = []

    def add_unique(self, fields: list[str]) -> None:
        """A unique rule on ``fields`` (one rule per set of fields)."""
        self.rules[:] = [
            r for r in self.rules if not (r["kind"] == "unique" and r["fields"] == fields)
        ]
        self.rules.append({"kind": "unique", "fields": fields})

    def check(self, q: Node, path: str | None) -> None:
        """Import one ODCS check of the property at ``path`` (None: of the whole object)."""
        kind = q.get("type") or "library"
        common: dict[str, Any] = {}
        for key in ("name", "description"):
            if value := q.get(key):
                common[key] = value
        severity = q.peek("severity")
        if severity is not None:
            mapped = {v: k for k, v in SEVERITY.items()}.get(str(severity).lower())
            if mapped is None and str(severity).lower() in {"critical", "high", "blocker"}:
                mapped = "error"
            if mapped is None and str(severity).lower() in {"info", "low", "minor", "warn"}:
                mapped = "warn"
            if mapped is not None:
                q.get("severity")
                common["severity"] = mapped
        rule: dict[str, Any] | None = None
        if kind == "custom" and q.peek("engine") == "meshkit":
            rule = self.meshkit_rule(q)
        elif kind == "sql":
            rule = self.sql(q, path)
            if rule is not None:
                common.setdefault("name", f"sql_check_{len(self.rules) + 1}")
        elif kind == "library":
            rule = self.library(q, path)
        if rule is None:
            why = WHY if kind != "text" else "meshkit rules are checked by machine"
            self.t.warn(q.path, f"quality {self.what(q, kind)} not imported: {why}")
            return
        if rule["kind"] == "unique":
            self.add_unique(rule["fields"])
            self.rules[-1].update(common)
            return
        self.rules.append({**rule, **common})

    @staticmethod
    def meshkit_rule(q: Node) -> dict[str, Any] | None:
        """The meshkit rule a ``custom`` check of engine ``meshkit`` holds (None: not one)."""
        impl = q.peek("implementation")
        if isinstance(impl, str):
            try:
                impl = yaml.safe_load(impl)
            except yaml.YAMLError:
                return None
        if not isinstance(impl, dict) or not isinstance(impl.get("kind"), str):
            return None
        q.get("engine")
        q.get("implementation")
        return dict(impl)

    @staticmethod
    def what(q: Node, kind: str) -> str:
        if kind == "library":
            return f"metric {q.peek('metric') or q.peek('rule')!r}"
        if kind == "custom":
            return f"custom check of engine {q.peek('engine')!r}"
        if kind == "text":
            return "text (a check written for people)"
        return f"{kind} check"

    def sql(self, q: Node, path: str | None) -> dict[str, Any] | None:
        query = str(q.peek("query") or "")
        if q.peek("mustBe") != 0 or set(OPERATORS) & {k for k in q if k != "mustBe"}:
            return None
        m = SQL_WRAPPED.match(query)
        if m is not None:
            sql = m.group(1).replace("{object}", "{table}")
        else:
            m = SQL_COUNT_WHERE.match(query)
            if m is None or m.group(1).strip('"`[]').lower() not in self.tables | {"{table}"}:
                return None
            condition = m.group(2)
            if path is not None:
                condition = condition.replace("{property}", path)
            if "{" in condition:
                return None
            sql = f"SELECT * FROM {{table}} WHERE {condition}"
        q.get("query")
        q.get("mustBe")
        return {"kind": "custom_sql", "sql": sql}

    def library(self, q: Node, path: str | None) -> dict[str, Any] | None:
        metric = q.peek("metric") or q.peek("rule")
        metric = METRICS.get(str(metric), str(metric))
        ops = {op: q.peek(op) for op in OPERATORS if q.peek(op) is not None}
        unit = str(q.peek("unit") or "rows")
        args = q.node("arguments")
        none_allowed = unit == "rows" and ops in NONE_ALLOWED
        rule: dict[str, Any] | None = None
        if metric == "rowCount":
            rule = self.row_count(ops)
        elif not none_allowed:
            return None
        elif metric in {"nullValues", "missingValues"} and path:
            rule = {"kind": "not_null", "field": path}
            missing = args.peek("missingValues") if args is not None else None
            if missing and args is not None:
                args.get("missingValues")
                self.t.warn(
                    args.at("missingValues"),
                    "missing values other than null are not checked: meshkit's not_null "
                    "rule checks nulls only",
                    hint="add an accepted_values or regex rule for the values you mean",
                )
        elif metric == "duplicateValues":
            fields = args.peek("properties") if args is not None else None
            if isinstance(fields, str):
                fields = [fields]
            if fields and isinstance(fields, list) and args is not None:
                args.get("properties")
                rule = {"kind": "unique", "fields": [str(f) for f in fields]}
            elif path:
                rule = {"kind": "unique", "fields": [path]}
        elif metric == "invalidValues" and path:
            valid = args.peek("validValues") if args is not None else None
            valid = valid if valid is not None else q.peek("validValues")
            pattern = args.peek("pattern") if args is not None else None
            if isinstance(valid, list) and valid:
                holder = args if args is not None and args.peek("validValues") else q
                holder.get("validValues")
                rule = {"kind": "accepted_values", "field": path, "values": valid}
            elif isinstance(pattern, str) and pattern and args is not None:
                args.get("pattern")
                rule = {"kind": "regex", "field": path, "pattern": pattern}
        if rule is None:
            return None
        for key in ("metric", "rule", "unit", *ops):
            q.get(key)
        return rule

    @staticmethod
    def row_count(ops: dict[str, Any]) -> dict[str, Any] | None:
        lo: Any = None
        hi: Any = None
        for op, v in ops.items():
            if op == "mustBe" and isinstance(v, int):
                lo = hi = v
            elif op == "mustBeGreaterThan":
                lo = int(v) + 1
            elif op == "mustBeGreaterOrEqualTo":
                lo = int(v)
            elif op == "mustBeLessThan":
                hi = int(v) - 1
            elif op == "mustBeLessOrEqualTo":
                hi = int(v)
            elif op == "mustBeBetween":
                lo, hi = int(v[0]), int(v[1])
            else:
                return None
        rule: dict[str, Any] = {"kind": "row_count"}
        if lo is not None:
            rule["min"] = max(lo, 0)
        if hi is not None:
            rule["max"] = hi
        return rule if len(rule) > 1 else None
