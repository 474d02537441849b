"""ODCS properties → meshkit fields (part of ``from_odcs``).

A property's type comes from its ``physicalType`` when that fits its ``logicalType``
(``meshkit.contracts.odcs.types``), objects and arrays recursively; its privacy
declaration from ``classification``, ``tags``, ``encryptedName`` and the
``anonymizationStrategy`` custom property; ``primaryKey`` makes it part of the key (and
required), ``unique``, ``logicalTypeOptions`` bounds and patterns and its quality checks
become rules (``meshkit.contracts.odcs.checks``).
"""

from __future__ import annotations

import re
from typing import Any

from meshkit.contracts.model import FIELD_NAME_PATTERN, FieldSpec
from meshkit.contracts.odcs.checks import Checks
from meshkit.contracts.odcs.tracker import Node, Tracker
from meshkit.contracts.odcs.types import FITS, FROM_LOGICAL, physical_type
from meshkit.contracts.yamlpos import Path

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
INT_FORMATS = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"}
_FIELD = re.compile(FIELD_NAME_PATTERN)


def _field_name(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip()).strip("_")
    return out if out[:1].isalpha() or out[:1] == "_" else f"_{out}"


class Fields:
    """Reads the properties of one schema object; collects the key and encrypted fields."""

    def __init__(self, t: Tracker, checks: Checks) -> None:
        self.t = t
        self.checks = checks
        self.pk: list[tuple[int, int, str, Path]] = []
        self.encrypted: list[tuple[str, Any]] = []  # (field path, document path) of encrypt
        self.types: dict[str, str] = {}

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
