"""An ODCS v3.0 / v3.1 document → meshkit contracts (``from_odcs``, ``from_odcs_each``).

The document is first checked against the ODCS structure (file:line:column problems,
like ``lint``), then read key by key; every key not carried over is reported as a
warning with its position, never dropped silently. The mapping (see
``docs/contracts-tools.md``): a schema object becomes a contract's fields (one contract
per object; the properties are read by ``meshkit.contracts.odcs.fields``, with their
privacy declaration); quality checks that demand "none" become quality rules
(``meshkit.contracts.odcs.checks``);
``latency``, ``availability`` and ``completeness`` SLA properties become SLOs; the owner
comes from ``team`` and ``support``, readers from ``roles``. What meshkit needs and ODCS
leaves optional (the domain, the product name, the owner's contact) comes from
``ImportOptions``, else from the document, else from a default, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from meshkit.contracts.loader import parse_model
from meshkit.contracts.messages import problems_from_error
from meshkit.contracts.model import (
    EMAIL_PATTERN,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    SEMVER_PATTERN,
    Contract,
)
from meshkit.contracts.odcs.checks import Checks
from meshkit.contracts.odcs.fields import Fields
from meshkit.contracts.odcs.schema import OdcsDocument
from meshkit.contracts.odcs.tracker import Node, Tracker
from meshkit.contracts.problem import Problem
from meshkit.contracts.types import format_duration, parse_duration
from meshkit.contracts.yamlpos import Path, YamlDocument, read_yaml

SHAPE = "an ODCS v3 document: apiVersion, kind, id, version, status, schema"
DEFAULT_DOMAIN = "imported"
DEFAULT_CONTACT = "owner@example.com"
DEFAULT_VERSION = "1.0.0"
STATUSES = {"proposed": "draft", "draft": "draft", "active": "active",
            "deprecated": "deprecated", "retired": "retired"}  # fmt: skip
UNITS = {"s": "s", "sec": "s", "second": "s", "seconds": "s", "m": "m", "min": "m",
         "minute": "m", "minutes": "m", "h": "h", "hr": "h", "hour": "h", "hours": "h",
         "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w"}  # fmt: skip
_EMAIL = re.compile(EMAIL_PATTERN)
_SEMVER = re.compile(SEMVER_PATTERN)


@dataclass(frozen=True)
class ImportOptions:
    """What meshkit needs and an ODCS document may not say; each overrides the document.

    Example: ``ImportOptions(domain="sales", owner="sales-data@example.com")``.
    ``schema`` picks one schema object by name when the document has several.
    """

    domain: str | None = None
    product: str | None = None
    owner: str | None = None
    schema: str | None = None


@dataclass
class OdcsImport:
    """The result: the contract (None when it could not be built), its YAML-ready data,
    the warnings (what was not carried over) and the problems (what prevents the import)."""

    contract: Contract | None
    data: dict[str, Any] | None
    warnings: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def from_odcs(
    text: str, file: str = "<string>", options: ImportOptions | None = None
) -> OdcsImport:
    """Import one schema object of an ODCS v3.0/v3.1 YAML document (never raises for bad
    input): the only one, or the one ``options.schema`` names."""
    opts = options or ImportOptions()
    model, problems = parse_model(text, file, OdcsDocument, shape=SHAPE)
    if model is None:
        return OdcsImport(None, None, problems=problems)
    t = Tracker(read_yaml(text), file)
    objects = t.doc.data.get("schema") or []
    names = [str(o.get("name")) for o in objects]
    if opts.schema is not None and opts.schema not in names:
        t.error(
            ("schema",),
            f"no schema object named {opts.schema!r}",
            expected="one of " + (", ".join(names) or "(none: the document has no schema)"),
        )
        return OdcsImport(None, None, [], t.problems)
    if opts.schema is None and len(objects) > 1:
        t.error(
            ("schema",),
            f"{len(objects)} schema objects ({', '.join(names)}): a meshkit contract holds one",
            expected="one picked by name (--schema NAME), or each imported into a directory "
            "of contracts (-o DIR)",
        )
        return OdcsImport(None, None, [], t.problems)
    index = names.index(opts.schema) if opts.schema is not None else 0
    return _import(t, index if objects else None, opts, each=False)


def from_odcs_each(
    text: str, file: str = "<string>", options: ImportOptions | None = None
) -> list[OdcsImport]:
    """Import every schema object of an ODCS document as a contract of its own, named after
    the object (``options.schema``: only that one). Objects without properties are skipped
    with a warning when others have some."""
    opts = options or ImportOptions()
    model, problems = parse_model(text, file, OdcsDocument, shape=SHAPE)
    if model is None:
        return [OdcsImport(None, None, problems=problems)]
    objects = read_yaml(text).data.get("schema") or []
    if opts.schema is not None or len(objects) <= 1:
        return [from_odcs(text, file, opts)]
    with_props = [i for i, o in enumerate(objects) if o.get("properties")]
    if not with_props:
        return [_import(Tracker(read_yaml(text), file), 0, opts, each=True)]
    return [_import(Tracker(read_yaml(text), file), i, opts, each=True) for i in with_props]


def _import(t: Tracker, index: int | None, opts: ImportOptions, *, each: bool) -> OdcsImport:
    data = _Importer(t, opts, each).run(Node(t, (), t.doc.data), index)
    t.leftovers()
    if t.problems:
        return OdcsImport(None, data, t.warnings, t.problems)
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        return OdcsImport(None, data, t.warnings, _located(exc, data, t))
    return OdcsImport(contract, data, t.warnings, [])


def _located(exc: ValidationError, data: dict[str, Any], t: Tracker) -> list[Problem]:
    """The problems of the imported contract, in meshkit's words, at their ODCS positions."""
    positions: dict[Path, tuple[int, int]] = {}

    def walk(value: Any, path: Path) -> None:
        positions[path] = t.doc.position(_odcs_path(path))
        if isinstance(value, dict | list):
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                walk(item, (*path, key))

    walk(data, ())
    found = problems_from_error(exc, YamlDocument(data, positions), t.file, Contract)
    return [replace(p, message=f"imported contract: {p.message}") for p in found]


_TOP: dict[str, tuple[str | int, ...]] = {
    "domain": ("domain",), "name": ("name",), "version": ("version",), "status": ("status",),
    "sunset": ("slaProperties",), "slo": ("slaProperties",), "owner": ("team",),
    "access": ("roles",), "description": ("description",), "tags": ("tags",),
}  # fmt: skip
_KEYS = {"name": "name", "type": "logicalType", "required": "required", "pii": "tags",
         "classification": "classification", "transform": "customProperties"}  # fmt: skip


def _odcs_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Where in the ODCS document a problem of the imported contract at ``loc`` comes from."""
    if loc and loc[0] in _TOP:
        return _TOP[loc[0]]
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


def _semver(raw: str) -> str | None:
    """``raw`` as a semantic version (``v1.2`` → ``1.2.0``), None when it is not one."""
    text = raw.strip().removeprefix("v").removeprefix("V")
    if _SEMVER.match(text):
        return text
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if m is None:
        return None
    return ".".join(str(int(part or 0)) for part in m.groups())


class _Importer:
    def __init__(self, t: Tracker, opts: ImportOptions, each: bool) -> None:
        self.t = t
        self.opts = opts
        self.each = each
        self.checks = Checks(t, set())
        self.fields = Fields(t, self.checks)

    # -- the document ----------------------------------------------------------------------

    def run(self, root: Node, index: int | None) -> dict[str, Any]:
        root.get("apiVersion")
        root.get("kind")
        objects = root.nodes("schema")
        obj = objects[index] if index is not None else None
        for i, other in enumerate(objects):
            if i == index:
                continue
            if self.each and other.peek("properties"):
                self.t.used.add(other.path)  # imported into a contract of its own
            elif self.each:
                self.t.warn(
                    other.path,
                    f"schema object {other.peek('name')!r} has no properties: no contract "
                    "is written for it",
                    hint="meshkit does not read a schema kept elsewhere, such as in a schema "
                    "registry",
                )
            else:
                self.t.warn(
                    other.path,
                    f"schema object {other.peek('name')!r} not imported: another was picked",
                )
        out: dict[str, Any] = {}
        out["domain"], out["name"] = self.identity(root, obj)
        out["version"] = self.version(root)
        status = str(root.get("status"))
        out["status"] = STATUSES.get(status.lower(), "draft")
        if status.lower() not in STATUSES:
            self.t.warn(root.at("status"), f"status {status!r} imported as draft")
        sla = self.sla(root, out["status"])
        if "sunset" in sla:
            out["sunset"] = sla.pop("sunset")
        description = self.description(root, obj)
        if description:
            out["description"] = description
        if tags := self.tags(root):
            out["tags"] = tags
        out["owner"] = self.owner(root, out["domain"])
        if subject := root.custom("meshkitSubject"):
            out["subject"] = subject
        if obj is None:
            self.t.error(
                ("schema",),
                "no schema: nothing to import",
                expected="a schema object with properties: a meshkit contract needs fields",
            )
            return out
        self.objects(obj)
        props = obj.nodes("properties")
        if not props:
            self.t.error(
                obj.path,
                f"schema object {obj.peek('name')!r} has no properties: nothing to import",
                expected="properties: the fields of the object",
                hint="meshkit does not read a schema kept elsewhere, such as in a schema "
                "registry: list its fields as properties",
            )
            return out
        out["fields"] = [self.fields.field(p, "") for p in props]
        for q in obj.nodes("quality"):
            self.checks.check(q, None)
        if self.fields.pk:
            out["primary_key"] = self.fields.keys()
        if self.fields.encrypted and "subject" not in out and out.get("primary_key"):
            name, where = self.fields.encrypted[0]
            out["subject"] = out["primary_key"][0]
            self.t.warn(
                where,
                f"{name} is encrypted per data subject, which ODCS does not name: "
                f"subject set to the primary key {out['subject']!r}",
                hint="set 'subject:' to the field identifying the person",
            )
        if event_time := root.custom("meshkitEventTime"):
            out["event_time"] = event_time
        if self.checks.rules:
            out["quality"] = self.checks.rules
        if sla:
            out["slo"] = sla
        if ports := root.custom("meshkitPorts"):
            out["ports"] = ports
        if mapping := root.custom("meshkitMapping"):
            out["mapping"] = mapping
        out["access"] = self.access(root)
        order = list(Contract.model_fields)
        return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))

    def tags(self, root: Node) -> list[str]:
        """The document's tags as meshkit tags: lower case, other characters as hyphens
        (``Customer 360`` → ``customer-360``); a tag changed so, or left out, is warned."""
        raw = root.get("tags")
        if not isinstance(raw, list):
            if raw is not None:
                self.t.warn(root.at("tags"), "tags not imported: expected a list of text")
            return []
        kept: list[str] = []
        for i, item in enumerate(raw):
            where = (*root.at("tags"), i)
            text = str(item)
            tag = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
            if not tag or len(tag) > MAX_TAG_LENGTH or len(kept) == MAX_TAGS:
                self.t.warn(
                    where,
                    f"tag {text!r} not imported",
                    hint=f"meshkit keeps up to {MAX_TAGS} tags of 1 to {MAX_TAG_LENGTH} "
                    "lower-case letters, digits and hyphens",
                )
            elif tag in kept:
                self.t.warn(where, f"tag {text!r} not imported: it is {tag!r} again")
            else:
                if tag != text:
                    self.t.warn(where, f"tag {text!r} imported as {tag!r}")
                kept.append(tag)
        return kept

    def objects(self, obj: Node) -> None:
        """The keys of the schema object that name it (its rules' tables)."""
        for key in ("name", "logicalType", "physicalType"):
            obj.get(key)
        self.checks.tables = {
            str(obj.peek(k)).lower() for k in ("name", "physicalName") if obj.peek(k)
        } | {"{object}"}

    def identity(self, root: Node, obj: Node | None) -> tuple[str, str]:
        cid, name, product, domain = (root.get(k) for k in ("id", "name", "dataProduct", "domain"))
        id_domain = id_product = None
        if isinstance(cid, str) and re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", cid):
            id_domain, id_product = cid.split(".")
        d = self.pick_domain(root, domain, id_domain)
        n = self.pick_product(root, obj, product, name, id_domain and not domain and id_product)
        if cid != f"{d}.{n}":
            self.t.warn(root.at("id"), f"id {cid!r} not kept: a meshkit id is <domain>.<product>")
        for key, value in (("dataProduct", product), ("name", name)):
            if value and _ident(str(value)) != n and not (key == "name" and n == self.opts.product):
                self.t.warn(root.at(key), f"{key} {value!r} not kept: the product is {n!r}")
        return d, n

    def pick_domain(self, root: Node, domain: Any, id_domain: str | None) -> str:
        if self.opts.domain:
            if domain and domain != self.opts.domain:
                self.t.warn(root.at("domain"), f"domain {domain!r} replaced by --domain")
            return _ident(self.opts.domain)
        if not domain and id_domain:
            return id_domain
        if not domain:
            self.t.warn(
                (),
                f"no domain: the contract's domain is {DEFAULT_DOMAIN!r}",
                hint="name the owning domain with --domain NAME",
            )
            return DEFAULT_DOMAIN
        if _ident(str(domain)) != domain:
            self.t.warn(
                root.at("domain"),
                f"{domain!r} imported as {_ident(str(domain))!r} (a meshkit name)",
            )
        return _ident(str(domain))

    def pick_product(
        self, root: Node, obj: Node | None, product: Any, name: Any, id_product: Any
    ) -> str:
        object_name = obj.peek("name") if obj is not None else None
        if self.opts.product:
            return _ident(self.opts.product)
        if len(root.nodes("schema")) > 1 and object_name and obj is not None:
            return self.named(obj.at("name"), str(object_name))  # one product per object
        if product:
            return self.named(root.at("dataProduct"), str(product))
        if id_product:
            return str(id_product)
        if name:
            return self.named(root.at("name"), str(name))
        if object_name and obj is not None:
            return self.named(obj.at("name"), str(object_name))
        return _ident(str(root.peek("id")))

    def named(self, where: Path, raw: str) -> str:
        if _ident(raw) != raw:
            self.t.warn(
                where,
                f"{raw!r} imported as {_ident(raw)!r} (a meshkit name)",
                hint="name the product with --product NAME",
            )
        return _ident(raw)

    def version(self, root: Node) -> str:
        raw = str(root.get("version"))
        version = _semver(raw)
        if version is None:
            self.t.warn(
                root.at("version"),
                f"version {raw!r} is not a semantic version: imported as {DEFAULT_VERSION}",
            )
            return DEFAULT_VERSION
        if version != raw:
            self.t.warn(root.at("version"), f"version {raw!r} imported as {version}")
        return version

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
        contact: str | None = self.opts.owner
        owners = [m for m in members if "owner" in str(m.peek("role") or "").lower()]
        for m in [*owners, *members] if contact is None else []:
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
            self.t.warn(
                ("team",) if team_raw else (),
                f"no owner contact (a team member or support channel with an e-mail "
                f"address): owner.contact is {DEFAULT_CONTACT!r}",
                hint="give the owning team's e-mail address with --owner EMAIL",
            )
            contact = DEFAULT_CONTACT
        if not team_name:
            team_name = domain
            self.t.warn(
                ("team",) if team_raw else (),
                f"no team name: the owner team is named after the domain ({domain!r})",
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
                try:
                    out["freshness"] = format_duration(parse_duration(f"{value}{unit_name}"))
                except (ValueError, OverflowError):
                    continue
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
