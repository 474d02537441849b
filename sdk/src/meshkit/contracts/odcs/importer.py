"""An ODCS v3.0 / v3.1 document → a meshkit contract (``from_odcs``).

The document is first checked against the ODCS structure (file:line:column problems,
like ``lint``), then read key by key; every key not carried over is reported as a
warning with its position, never dropped silently. The mapping (see
``docs/contracts-tools.md``): the first schema object becomes the fields; ``tags``
(``pii``, ``email``...), ``classification``, ``encryptedName`` and the
``anonymizationStrategy`` custom property become the privacy declaration; library
quality metrics that demand "none" (``mustBe: 0``) become quality rules; ``latency``,
``availability`` and ``completeness`` SLA properties become SLOs; the owner comes from
``team`` and ``support``, readers from ``roles``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from meshkit.contracts.loader import parse_model
from meshkit.contracts.model import EMAIL_PATTERN, Contract
from meshkit.contracts.odcs.export import SEVERITY
from meshkit.contracts.odcs.schema import OdcsDocument
from meshkit.contracts.odcs.tracker import Node, Tracker
from meshkit.contracts.odcs.types import FITS, FROM_LOGICAL, physical_type
from meshkit.contracts.problem import Problem, display_path
from meshkit.contracts.types import format_duration, parse_duration
from meshkit.contracts.yamlpos import read_yaml

SHAPE = "an ODCS v3 document: apiVersion, kind, id, version, status, schema"
PII_TAGS = {
    "email": "email", "e-mail": "email", "phone": "phone", "phone_number": "phone",
    "name": "name", "full_name": "name", "person_name": "name", "address": "address",
    "ip": "ip", "ip_address": "ip", "government_id": "government_id", "ssn": "government_id",
    "national_id": "government_id", "passport": "government_id",
    "payment_card": "payment_card", "credit_card": "payment_card", "pan": "payment_card",
    "date_of_birth": "date_of_birth", "dob": "date_of_birth", "birth_date": "date_of_birth",
    "free_text": "free_text", "other": "other",
}  # fmt: skip
PII_MARKERS = {"pii", "personal_data", "personal-data", "gdpr", "sensitive_personal_data"}
STRATEGIES = {
    "drop": "drop", "remove": "drop", "suppress": "drop", "suppression": "drop",
    "exclude": "drop", "redact": "redact", "redaction": "redact", "nullify": "redact",
    "mask": "mask", "masking": "mask", "partial_mask": "mask", "tokenize": "tokenize",
    "tokenization": "tokenize", "hash": "tokenize", "hashing": "tokenize",
    "pseudonymize": "tokenize", "pseudonymization": "tokenize", "generalize": "generalize",
    "generalization": "generalize", "encrypt": "encrypt", "encryption": "encrypt",
}  # fmt: skip
CLASSIFICATIONS = {
    "public": "public", "internal": "internal", "confidential": "confidential",
    "sensitive": "confidential", "restricted": "restricted", "secret": "restricted",
    "highly_confidential": "restricted",
}  # fmt: skip
STATUSES = {"proposed": "draft", "draft": "draft", "active": "active",
            "deprecated": "deprecated", "retired": "retired"}  # fmt: skip
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
UNITS = {"s": "s", "sec": "s", "second": "s", "seconds": "s", "m": "m", "min": "m",
         "minute": "m", "minutes": "m", "h": "h", "hr": "h", "hour": "h", "hours": "h",
         "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w"}  # fmt: skip
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass
class OdcsImport:
    """The result: the contract (None when it could not be built), its YAML-ready data,
    the warnings (what was not carried over) and the problems (what prevents the import)."""

    contract: Contract | None
    data: dict[str, Any] | None
    warnings: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def from_odcs(text: str, file: str = "<string>") -> OdcsImport:
    """Import an ODCS v3.0/v3.1 YAML document (never raises for bad input)."""
    model, problems = parse_model(text, file, OdcsDocument, shape=SHAPE)
    if model is None:
        return OdcsImport(None, None, problems=problems)
    t = Tracker(read_yaml(text), file)
    data = _Importer(t).run(Node(t, (), t.doc.data))
    t.leftovers()
    if t.problems:
        return OdcsImport(None, data, t.warnings, t.problems)
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        found = []
        for e in exc.errors(include_url=False):
            where = t.doc.position(_odcs_path(tuple(e["loc"])))
            found.append(
                Problem(
                    file, *where, display_path(tuple(e["loc"])), f"imported contract: {e['msg']}"
                )
            )
        return OdcsImport(None, data, t.warnings, found)
    return OdcsImport(contract, data, t.warnings, [])


_KEYS = {"name": "name", "type": "logicalType", "required": "required", "pii": "tags",
         "classification": "classification", "transform": "customProperties"}  # fmt: skip


def _odcs_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Where in the ODCS document a problem of the imported contract at ``loc`` comes from."""
    if not loc or loc[0] != "fields":
        return ("schema", 0)
    path: list[str | int] = ["schema", 0]
    rest = list(loc)
    while len(rest) >= 2 and rest[0] == "fields" and isinstance(rest[1], int):
        path += ["properties", rest[1]]
        rest = rest[2:]
    if rest and rest[0] in _KEYS:
        path.append(_KEYS[rest[0]])
    return tuple(path)


def _ident(text: str) -> str:
    out = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    return out if out[:1].isalpha() else f"p_{out}"


class _Importer:
    def __init__(self, t: Tracker) -> None:
        self.t = t
        self.rules: list[dict[str, Any]] = []
        self.pk: list[tuple[int, int, str]] = []
        self.encrypted: list[tuple[str, Any]] = []  # (field path, document path) of encrypt

    # -- the document ----------------------------------------------------------------------

    def run(self, root: Node) -> dict[str, Any]:
        root.get("apiVersion")
        root.get("kind")
        out: dict[str, Any] = {}
        out["domain"], out["name"] = self.identity(root)
        out["version"] = root.get("version")
        status = str(root.get("status"))
        out["status"] = STATUSES.get(status.lower(), "draft")
        if status.lower() not in STATUSES:
            self.t.warn(root.at("status"), f"status {status!r} imported as draft")
        objects = root.nodes("schema")
        for extra in objects[1:]:
            self.t.warn(
                extra.path,
                f"schema object {extra.peek('name')!r} not imported: a meshkit "
                "contract holds one object; import it into a contract of its own",
            )
        sla = self.sla(root, out["status"])
        if "sunset" in sla:
            out["sunset"] = sla.pop("sunset")
        description = self.description(root, objects[0] if objects else None)
        if description:
            out["description"] = description
        out["owner"] = self.owner(root, out["domain"])
        if subject := root.custom("meshkitSubject"):
            out["subject"] = subject
        if not objects:
            self.t.error(("schema",), "no schema object", expected="one object with properties")
            return out
        obj = objects[0]
        for key in ("name", "logicalType", "physicalType"):
            obj.get(key)
        out["fields"] = [self.field(p, "") for p in obj.nodes("properties")]
        for q in obj.nodes("quality"):
            self.quality(q, None)
        if self.pk:
            out["primary_key"] = [path for _, _, path in sorted(self.pk)]
        if self.encrypted and "subject" not in out and out.get("primary_key"):
            name, where = self.encrypted[0]
            out["subject"] = out["primary_key"][0]
            self.t.warn(
                where,
                f"{name} is encrypted per data subject, which ODCS does not name: "
                f"subject set to the primary key {out['subject']!r}",
                hint="set 'subject:' to the field identifying the person",
            )
        if event_time := root.custom("meshkitEventTime"):
            out["event_time"] = event_time
        if self.rules:
            out["quality"] = self.rules
        if sla:
            out["slo"] = sla
        if ports := root.custom("meshkitPorts"):
            out["ports"] = ports
        if mapping := root.custom("meshkitMapping"):
            out["mapping"] = mapping
        out["access"] = self.access(root)
        order = list(Contract.model_fields)
        return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))

    def identity(self, root: Node) -> tuple[str, str]:
        cid, name, product, domain = (root.get(k) for k in ("id", "name", "dataProduct", "domain"))
        base = product or name
        if (
            not domain
            and isinstance(cid, str)
            and re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", cid)
        ):
            domain, base = cid.split(".")
        if not domain:
            self.t.error(("domain",), "missing key 'domain'", expected="the owning domain")
            domain = "unknown"
        if not base:
            self.t.error(("dataProduct",), "missing key 'dataProduct'", expected="a product name")
            base = "unknown"
        for key, raw in (("domain", domain), ("dataProduct" if product else "name", base)):
            if _ident(raw) != raw:
                self.t.warn(root.at(key), f"{raw!r} imported as {_ident(raw)!r} (a meshkit name)")
        d, n = _ident(domain), _ident(base)
        if cid != f"{d}.{n}":
            self.t.warn(root.at("id"), f"id {cid!r} not kept: a meshkit id is <domain>.<product>")
        if product and name and name != product:
            self.t.warn(
                root.at("name"), f"contract name {name!r} not kept (the product is {product!r})"
            )
        return d, n

    def description(self, root: Node, obj: Node | None) -> str | None:
        raw = root.peek("description")
        if isinstance(raw, str):
            return str(root.get("description"))
        d = root.node("description")
        parts: list[str] = []
        if d is not None:
            if purpose := d.get("purpose"):
                parts.append(str(purpose))
            for key, label in (("limitations", "Limitations"), ("usage", "Usage")):
                if value := d.get(key):
                    parts.append(f"{label}: {value}")
        if not parts and obj is not None and obj.peek("description"):
            parts.append(str(obj.get("description")))
        return "\n\n".join(parts) or None

    def owner(self, root: Node, domain: str) -> dict[str, str]:
        team_raw = root.peek("team")
        team_name: str | None = None
        members: list[Node] = []
        if isinstance(team_raw, dict):
            team = root.node("team")
            assert team is not None
            team_name = team.get("name")
            members = team.nodes("members")
        elif isinstance(team_raw, list):
            members = root.nodes("team")
        contact: str | None = None
        owners = [m for m in members if "owner" in str(m.peek("role") or "").lower()]
        for m in [*owners, *members]:
            if _EMAIL.match(str(m.peek("username"))):
                contact = m.get("username")
                m.get("role")
                break
        for s in root.nodes("support"):
            url = str(s.peek("url") or "")
            address = url.removeprefix("mailto:")
            is_mail = (url.startswith("mailto:") or s.peek("tool") == "email") and _EMAIL.match(
                address
            )
            if is_mail and (contact is None or address == contact):
                contact = address
                for key in ("url", "tool", "channel"):
                    s.get(key)
                break
        if contact is None:
            self.t.error(
                ("team",),
                "no owner contact",
                expected="a team member with role owner whose username is an e-mail address, "
                "or a support channel with tool email",
            )
            contact = "unknown@example.com"
        if not team_name:
            team_name = domain
            self.t.warn(
                ("team",), f"no team name: the owner team is named after the domain ({domain!r})"
            )
        return {"team": team_name, "contact": contact}

    def access(self, root: Node) -> dict[str, Any]:
        readers = []
        for r in root.nodes("roles"):
            role, access = r.get("role"), r.get("access")
            if access in (None, "read", "readonly", "read-only", "select"):
                readers.append(role)
            else:
                self.t.warn(
                    r.at("access"),
                    f"role {role!r} with {access!r} access not imported: "
                    "meshkit grants read access only",
                )
        out: dict[str, Any] = {"visibility": root.custom("meshkitVisibility") or "public"}
        if readers:
            out["readers"] = readers
        return out

    def sla(self, root: Node, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in root.nodes("slaProperties"):
            prop = str(s.peek("property")).lower()
            value, unit = s.peek("value"), s.peek("unit")
            if prop in {"latency", "ly", "freshness"}:
                unit_name = UNITS.get(str(unit or "s").lower())
                if not isinstance(value, int) or unit_name is None or value <= 0:
                    continue  # left for the leftover warning
                out["freshness"] = format_duration(parse_duration(f"{value}{unit_name}"))
            elif prop in {"availability", "av", "completeness"}:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                ratio = (
                    round(value / 100, 12)
                    if str(unit or "").lower() in {"percent", "%"} or value > 1
                    else value
                )
                out["availability" if prop != "completeness" else "completeness"] = ratio
            elif prop in {"endoflife", "el"} and status in {"deprecated", "retired"}:
                out["sunset"] = str(value)[:10]
            else:
                continue
            for key in ("property", "value", "unit", "element"):
                s.get(key)
        return out

    # -- fields ----------------------------------------------------------------------------

    def field(self, p: Node, prefix: str) -> dict[str, Any]:
        name = str(p.get("name"))
        path = prefix + name
        out: dict[str, Any] = {"name": name}
        out["type"], members = self.type_of(p, path)
        if members is not None:
            out["fields"] = members
        if p.get("required"):
            out["required"] = True
        if description := p.get("description"):
            out["description"] = description
        self.privacy(p, out)
        if p.get("primaryKey"):
            position = p.get("primaryKeyPosition")
            self.pk.append(
                (
                    position if isinstance(position, int) and position > 0 else 10**6,
                    len(self.pk),
                    path,
                )
            )
        elif p.peek("primaryKeyPosition") == -1:
            p.get("primaryKeyPosition")
        if p.get("unique") and not any(
            r["kind"] == "unique" and r["fields"] == [path] for r in self.rules
        ):
            self.rules.append({"kind": "unique", "fields": [path]})
        for q in p.nodes("quality"):
            self.quality(q, path)
        return out

    def type_of(self, p: Node, path: str) -> tuple[str, list[dict[str, Any]] | None]:
        logical = p.get("logicalType")
        if logical == "array" or (logical is None and p.peek("items") is not None):
            items = p.node("items")
            if items is None:
                self.t.warn(
                    p.at("logicalType"), "an array without items: imported as array<string>"
                )
                return "array<string>", None
            element, members = self.type_of(items, path)
            for q in items.nodes("quality"):
                self.quality(q, path)
            return f"array<{element}>", members
        if logical == "object" or (logical is None and p.peek("properties") is not None):
            props = p.nodes("properties")
            if props:
                p.get("physicalType")
                return "struct", [self.field(m, path + ".") for m in props]
        options = p.node("logicalTypeOptions")
        raw_physical = p.peek("physicalType")
        physical, loss = physical_type(str(raw_physical)) if raw_physical else (None, None)
        fits = physical is not None and (
            logical is None or physical.kind in FITS.get(str(logical), set())
        )
        if physical is not None and fits:
            dtype = str(physical)
            p.get("physicalType")
            if loss:
                self.t.warn(p.at("physicalType"), f"physicalType {raw_physical!r}: {loss}")
        else:
            dtype = FROM_LOGICAL.get(str(logical), "string")
            if logical is None:
                self.t.warn(
                    p.at("name"), "no logicalType or known physicalType: imported as string"
                )
            elif logical == "time":
                self.t.warn(p.at("logicalType"), "a time of day is imported as string")
        if options is not None:
            dtype = self.options(options, dtype, path)
        return dtype, None

    def options(self, o: Node, dtype: str, path: str) -> str:
        fmt = o.peek("format")
        if dtype == "string" and fmt in {"byte", "binary"}:
            o.get("format")
            dtype = "bytes"
        elif fmt in {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "f32", "f64"}:
            o.get("format")
        if o.peek("timezone") is True:
            o.get("timezone")
        lo, hi = o.peek("minimum"), o.peek("maximum")
        if lo is not None or hi is not None:
            rule: dict[str, Any] = {"kind": "range", "field": path}
            for key, value in (("min", o.get("minimum")), ("max", o.get("maximum"))):
                if value is not None:
                    rule[key] = value
            self.rules.append(rule)
        if isinstance(o.peek("pattern"), str) and dtype == "string":
            self.rules.append({"kind": "regex", "field": path, "pattern": o.get("pattern")})
        return dtype

    def privacy(self, p: Node, out: dict[str, Any]) -> None:
        raw = p.peek("classification")
        if raw is not None:
            key = str(raw).strip().lower().replace(" ", "_")
            if key in CLASSIFICATIONS:
                p.get("classification")
                out["classification"] = CLASSIFICATIONS[key]
            else:
                self.t.warn(
                    p.at("classification"),
                    f"classification {raw!r} not imported",
                    hint="meshkit classifications: public, internal, confidential, restricted",
                )
        tags = [str(x) for x in (p.get("tags") or [])]
        lowered = [x.lower() for x in tags]
        category = next((PII_TAGS[x] for x in lowered if x in PII_TAGS), None)
        marked = category is not None and (
            any(x in PII_MARKERS for x in lowered) or category != "other"
        )
        if any(x in PII_MARKERS for x in lowered) and category is None:
            category, marked = "other", True
        for i, (tag, low) in enumerate(zip(tags, lowered, strict=True)):
            if low not in PII_MARKERS and not (marked and low in PII_TAGS):
                self.t.warn(
                    (*p.at("tags"), i), f"tag {tag!r} not imported: meshkit has no free tags"
                )
        if marked:
            out["pii"] = category
        transform = p.custom("meshkitTransform")
        strategy = p.custom("anonymizationStrategy")
        encrypted = p.get("encryptedName")
        if transform is None and isinstance(strategy, str) and strategy.lower() not in {"none", ""}:
            kind = STRATEGIES.get(strategy.lower())
            transform = self.strategy(p, kind, strategy, out)
        if transform is None and encrypted:
            transform = {"kind": "encrypt"}
        if encrypted and encrypted != out["name"]:
            self.t.warn(
                p.at("encryptedName"),
                f"encryptedName {encrypted!r} not kept: meshkit "
                "encrypts a value in place, under the field's own name",
            )
        if transform is None and marked:
            transform = {"kind": "drop"}
            self.t.warn(
                p.at("tags"),
                f"personal data ({category}) without an anonymizationStrategy: "
                "imported with transform drop",
                hint="choose the transform it needs",
            )
        subject = p.custom("meshkitSubject")
        if transform is not None:
            out["transform"] = transform
            if transform.get("kind") == "encrypt" and not subject:
                self.encrypted.append((out["name"], p.at("encryptedName") if encrypted else p.path))
        if subject:
            out["subject"] = subject

    def strategy(
        self, p: Node, kind: str | None, raw: str, out: dict[str, Any]
    ) -> dict[str, Any] | None:
        where = p.at("customProperties")
        if kind is None:
            self.t.warn(
                where,
                f"anonymizationStrategy {raw!r} is unknown: not imported",
                hint="use drop, redact, mask, tokenize, generalize or encrypt",
            )
            return None
        if kind == "mask":
            style = {"keep_email_domain": True} if out.get("pii") == "email" else {"keep_last": 4}
            self.t.warn(where, f"anonymizationStrategy {raw!r}: mask with {style} assumed")
            return {"kind": "mask", **style}
        if kind == "tokenize":
            self.t.warn(
                where, f"anonymizationStrategy {raw!r}: tokenize under key 'default' assumed"
            )
            return {"kind": "tokenize", "key": "default"}
        if kind == "generalize":
            self.t.warn(
                where,
                f"anonymizationStrategy {raw!r} needs parameters meshkit cannot "
                "guess: imported as drop",
            )
            return {"kind": "drop"}
        return {"kind": kind}

    # -- quality ---------------------------------------------------------------------------

    def quality(self, q: Node, path: str | None) -> None:
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
            q.get("engine")
            impl = q.get("implementation")
            rule = impl if isinstance(impl, dict) else yaml.safe_load(str(impl))
        elif kind == "sql":
            m = SQL_WRAPPED.match(str(q.peek("query") or ""))
            if m is not None and q.peek("mustBe") == 0:
                q.get("query")
                q.get("mustBe")
                rule = {"kind": "custom_sql", "sql": m.group(1).replace("{object}", "{table}")}
                common.setdefault("name", f"sql_check_{len(self.rules) + 1}")
        elif kind == "library":
            rule = self.library(q, path)
        if rule is None:
            what = (
                f"{kind} rule"
                if kind != "library"
                else f"metric {q.peek('metric') or q.peek('rule')!r}"
            )
            self.t.warn(
                q.path,
                f"quality {what} not imported: meshkit rules demand none of "
                "the failing values (mustBe: 0), a row count, or a meshkit rule",
            )
            return
        self.rules.append({**rule, **common})

    def library(self, q: Node, path: str | None) -> dict[str, Any] | None:
        metric = q.peek("metric") or q.peek("rule")
        metric = METRICS.get(str(metric), str(metric))
        ops = {op: q.peek(op) for op in OPERATORS if q.peek(op) is not None}
        unit = str(q.peek("unit") or "rows")
        args = q.node("arguments")
        none_allowed = unit == "rows" and ops in (
            {"mustBe": 0},
            {"mustBeLessThan": 1},
            {"mustBeLessOrEqualTo": 0},
        )
        rule: dict[str, Any] | None = None
        if metric == "rowCount":
            rule = self.row_count(ops)
        elif not none_allowed:
            return None
        elif metric == "nullValues" and path:
            rule = {"kind": "not_null", "field": path}
        elif metric == "duplicateValues":
            fields = args.get("properties") if args is not None else None
            rule = (
                {"kind": "unique", "fields": list(fields) if fields else [path]}
                if (fields or path)
                else None
            )
        elif metric == "invalidValues" and path:
            valid = (
                args.get("validValues") if args and args.peek("validValues") else None
            ) or q.get("validValues")
            pattern = args.get("pattern") if args is not None and args.peek("pattern") else None
            if valid:
                rule = {"kind": "accepted_values", "field": path, "values": list(valid)}
            elif pattern:
                rule = {"kind": "regex", "field": path, "pattern": pattern}
        if rule is None:
            return None
        for key in ("metric", "rule", "unit", *ops):
            q.get(key)
        if rule["kind"] == "unique":
            self.rules[:] = [
                r
                for r in self.rules
                if not (r["kind"] == "unique" and r["fields"] == rule["fields"])
            ]
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
