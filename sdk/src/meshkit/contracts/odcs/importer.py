"""An ODCS v3.0 / v3.1 document → meshkit contracts (``from_odcs``, ``from_odcs_each``).

The document is first checked against the ODCS structure (file:line:column problems,
like ``lint``), then read key by key; every key not carried over is reported as a
warning with its position, never dropped silently. The mapping (see
``docs/contracts-tools.md``): a schema object becomes a contract's fields (one contract
per object); ``tags`` (``pii``, ``email``...), ``classification``, ``encryptedName`` and
the ``anonymizationStrategy`` custom property become the privacy declaration; quality
checks that demand "none" become quality rules (``meshkit.contracts.odcs.checks``);
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
    FIELD_NAME_PATTERN,
    NAME_PATTERN,
    SEMVER_PATTERN,
    Contract,
    FieldSpec,
)
from meshkit.contracts.odcs.checks import Checks
from meshkit.contracts.odcs.schema import OdcsDocument
from meshkit.contracts.odcs.tracker import Node, Tracker
from meshkit.contracts.odcs.types import FITS, FROM_LOGICAL, physical_type
from meshkit.contracts.problem import Problem
from meshkit.contracts.types import format_duration, parse_duration
from meshkit.contracts.yamlpos import Path, YamlDocument, read_yaml

SHAPE = "an ODCS v3 document: apiVersion, kind, id, version, status, schema"
DEFAULT_DOMAIN = "imported"
DEFAULT_CONTACT = "owner@example.com"
DEFAULT_VERSION = "1.0.0"
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
UNITS = {"s": "s", "sec": "s", "second": "s", "seconds": "s", "m": "m", "min": "m",
         "minute": "m", "minutes": "m", "h": "h", "hr": "h", "hour": "h", "hours": "h",
         "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w"}  # fmt: skip
INT_FORMATS = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"}
_EMAIL = re.compile(EMAIL_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_FIELD = re.compile(FIELD_NAME_PATTERN)
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
    "access": ("roles",), "description": ("description",),
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


def _field_name(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip()).strip("_")
    return out if out[:1].isalpha() or out[:1] == "_" else f"_{out}"


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
        self.pk: list[tuple[int, int, str, Path]] = []
        self.encrypted: list[tuple[str, Any]] = []  # (field path, document path) of encrypt
        self.types: dict[str, str] = {}

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
        out["fields"] = [self.field(p, "") for p in props]
        for q in obj.nodes("quality"):
            self.checks.check(q, None)
        if self.pk:
            out["primary_key"] = self.keys()
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

    # -- fields ----------------------------------------------------------------------------

    def field(self, p: Node, prefix: str) -> dict[str, Any]:
        raw = str(p.get("name"))
        name = raw if _FIELD.match(raw) else _field_name(raw)
        if name != raw:
            self.t.warn(p.at("name"), f"property {raw!r} imported as {name!r} (a meshkit name)")
        path = prefix + name
        out: dict[str, Any] = {"name": name}
        out["type"], members = self.type_of(p, path)
        self.types[path] = out["type"]
        if members is not None:
            out["fields"] = members
        required = p.get("required")
        if required:
            out["required"] = True
        if description := p.get("description"):
            out["description"] = description
        self.privacy(p, out)
        if p.get("primaryKey"):
            position = p.get("primaryKeyPosition")
            rank = position if isinstance(position, int) and position > 0 else 10**6
            self.pk.append((rank, len(self.pk), path, p.path))
            if not required:
                out["required"] = True
                if required is False:
                    self.t.warn(
                        p.at("required"),
                        f"primary key {path!r} imported as required: a key is never null",
                    )
        elif p.peek("primaryKeyPosition") == -1:
            p.get("primaryKeyPosition")
        if p.get("unique") and not any(
            r["kind"] == "unique" and r["fields"] == [path] for r in self.checks.rules
        ):
            self.checks.rules.append({"kind": "unique", "fields": [path]})
        for q in p.nodes("quality"):
            self.checks.check(q, path)
        order = list(FieldSpec.model_fields)
        return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))

    def keys(self) -> list[str]:
        """The primary key, in order; a key that would import as a float is a problem."""
        for _, _, path, where in self.pk:
            dtype = self.types[path]
            if str(dtype) == "float":
                self.t.error(
                    (*where, "logicalType"),
                    f"primary key {path!r} is a number without an integer physicalType: "
                    "it would import as a float, which cannot identify a record",
                    expected="logicalType: integer, or a physicalType such as INT, BIGINT or "
                    "NUMERIC(10,0), or logicalTypeOptions format i32 or i64",
                )
            elif str(dtype).startswith(("array", "struct", "json")):
                self.t.error(
                    (*where, "logicalType"),
                    f"primary key {path!r} is a {dtype}, which cannot identify a record",
                    expected="a scalar type (string, integer, decimal, date, timestamp)",
                )
        return [path for _, _, path, _ in sorted(self.pk)]

    def type_of(self, p: Node, path: str) -> tuple[str, list[dict[str, Any]] | None]:
        logical = p.get("logicalType")
        if p.peek("logicalTypeOptions") is not None:
            self.t.opened.add(p.at("logicalTypeOptions"))  # each option reported on its own
        if logical == "array" or (logical is None and p.peek("items") is not None):
            items = p.node("items")
            p.get("physicalType")
            if items is None:
                self.t.warn(
                    p.at("logicalType"), "an array without items: imported as array<string>"
                )
                return "array<string>", None
            element, members = self.type_of(items, path)
            for q in items.nodes("quality"):
                self.checks.check(q, path)
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
        self.t.opened.add(o.path)
        fmt = o.peek("format")
        if dtype == "string" and fmt in {"byte", "binary"}:
            o.get("format")
            dtype = "bytes"
        elif fmt in INT_FORMATS:
            o.get("format")
            dtype = "integer" if dtype == "float" else dtype
        elif fmt in {"f32", "f64"}:
            o.get("format")
        if o.peek("timezone") is True:
            o.get("timezone")
        elif o.peek("timezone") is False and dtype == "timestamp":
            self.t.warn(
                o.at("timezone"),
                "a timestamp without time zone is imported as a time-zone aware timestamp",
            )
        lo, hi = o.peek("minimum"), o.peek("maximum")
        if lo is not None or hi is not None:
            rule: dict[str, Any] = {"kind": "range", "field": path}
            for key, value in (("min", o.get("minimum")), ("max", o.get("maximum"))):
                if value is not None:
                    rule[key] = value
            self.checks.rules.append(rule)
        if isinstance(o.peek("pattern"), str) and dtype == "string":
            self.checks.rules.append({"kind": "regex", "field": path, "pattern": o.get("pattern")})
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
        where = p.custom_at("anonymizationStrategy")
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
