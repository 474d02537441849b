"""Meaning checks of a contract, beyond its structure.

``problems(contract)`` lists every semantic problem with its location (a pydantic-style
``loc`` tuple), a message, what was expected and a hint. ``raise_problems`` raises them
as one ``pydantic.ValidationError``; ``Contract`` runs it as its model validator, so the
loader reports structural and semantic problems the same way.

Checked: duplicate field names; ``struct`` members; personal data without a transform;
transforms that do not fit their field's type; encrypt without a data subject; every
reference to a field (primary key, event time, subject, quality rules, ports, mapping);
status ``deprecated`` without ``sunset``; one output port per kind; mapping input port
and filter expression.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from meshkit.contracts import quality as q
from meshkit.contracts import transforms as t
from meshkit.contracts.ports import (
    KafkaTopic,
    OutputPort,
    SearchIndex,
    ServingView,
    WarehouseTable,
)
from meshkit.contracts.types import DataType

if TYPE_CHECKING:
    from meshkit.contracts.model import Contract, FieldSpec

MAX_NAME_LENGTH = 63  # PostgreSQL keeps identifiers up to 63 bytes whole

Loc = tuple[str | int, ...]
ENCRYPTABLE = ("string", "bytes", "integer", "date")


@dataclass(frozen=True)
class Issue:
    """One semantic problem: where (``loc``), what, what was expected, and a hint."""

    loc: Loc
    message: str
    expected: str | None = None
    hint: str | None = None


def raise_problems(contract: Contract) -> None:
    """Raise every problem of ``contract`` as one ``ValidationError`` (nothing if clean)."""
    issues = problems(contract)
    if not issues:
        return
    details: list[InitErrorDetails] = []
    for issue in issues:
        ctx: dict[str, Any] = {}
        if issue.expected:
            ctx["expected"] = issue.expected
        if issue.hint:
            ctx["hint"] = issue.hint
        # The message is passed through ctx so braces in it are never taken as placeholders.
        ctx["message"] = issue.message
        details.append(
            InitErrorDetails(
                type=PydanticCustomError("contract", "{message}", ctx), loc=issue.loc, input=None
            )
        )
    raise ValidationError.from_exception_data("Contract", details)


def problems(contract: Contract) -> list[Issue]:
    """Every semantic problem of a structurally valid contract."""
    c = _Checker(contract)
    c.fields(contract.fields, ("fields",))
    c.identity()
    c.keys()
    c.quality()
    c.ports()
    c.mapping()
    return c.issues


def _suggest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def transform_fits(transform: Any, dtype: DataType) -> str | None:
    """Why ``transform`` cannot apply to a value of ``dtype`` (None when it fits)."""
    kind = dtype.kind
    if isinstance(transform, t.Mask) and kind != "string":
        return "mask applies to string fields"
    if isinstance(transform, t.Tokenize) and kind not in {"string", "integer"}:
        return "tokenize applies to string and integer fields"
    if isinstance(transform, t.Encrypt) and kind not in ENCRYPTABLE:
        return "encrypt applies to " + ", ".join(ENCRYPTABLE) + " fields"
    if isinstance(transform, t.Generalize):
        if transform.to in {"month", "year"} and not dtype.is_temporal:
            return f"generalize to {transform.to} applies to date and timestamp fields"
        if transform.to == "ipv4_24" and kind != "string":
            return "generalize to ipv4_24 applies to string fields (IP addresses)"
        if transform.bucket is not None and not dtype.is_numeric:
            return "generalize bucket applies to integer, float and decimal fields"
        if transform.prefix is not None and kind != "string":
            return "generalize prefix applies to string fields"
    redact_value = transform.value if isinstance(transform, t.Redact) else None
    if redact_value is not None and not _value_fits(redact_value, dtype):
        return f"the redact value {redact_value!r} is not a {dtype}"
    return None


def _bound_of(value: Any, dtype: DataType) -> tuple[Any, str | None]:
    """A range bound as a comparable value of ``dtype``, or what was expected instead."""
    kind = dtype.kind
    if isinstance(value, bool):
        return None, f"a {dtype} value"
    if kind == "integer":
        ok = isinstance(value, int) or (isinstance(value, Decimal) and value == int(value))
        return (value, None) if ok else (None, "a whole number")
    if kind in {"float", "decimal"}:
        ok = isinstance(value, int | float | Decimal)
        return (Decimal(str(value)), None) if ok else (None, "a number")
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value, None
        try:
            return date.fromisoformat(str(value)), None
        except ValueError:
            return None, "a date, YYYY-MM-DD"
    if kind == "timestamp":
        try:
            if isinstance(value, datetime):
                moment = value
            elif isinstance(value, date):
                moment = datetime(value.year, value.month, value.day)
            else:
                moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None, "a timestamp, e.g. 2024-01-01T00:00:00Z"
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), None
    return value, None


def _value_fits(value: Any, dtype: DataType) -> bool:
    kind = dtype.kind
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in {"float", "decimal"}:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind == "json"


class _Checker:
    def __init__(self, contract: Contract) -> None:
        self.c = contract
        self.index = contract.field_index
        self.issues: list[Issue] = []

    def add(
        self, loc: Loc, message: str, expected: str | None = None, hint: str | None = None
    ) -> None:
        self.issues.append(Issue(loc, message, expected, hint))

    def ref(self, path: str | None, loc: Loc, what: str) -> FieldSpec | None:
        """The field ``path`` refers to; records a problem when there is none."""
        if path is None:
            return None
        field = self.index.get(path)
        if field is None:
            self.add(
                loc,
                f"{what} refers to unknown field {path!r}",
                expected="a field of the contract",
                hint=_suggest(path, self.index),
            )
        return field

    # -- fields ---------------------------------------------------------------------------

    def fields(self, fields: tuple[FieldSpec, ...], loc: Loc) -> None:
        seen: dict[str, str] = {}
        for i, f in enumerate(fields):
            here = (*loc, i)
            if f.name in seen.values():
                self.add(
                    (*here, "name"),
                    f"duplicate field name {f.name!r}",
                    expected="unique field names",
                    hint="rename or remove one of them",
                )
            elif f.name.lower() in seen:
                self.add(
                    (*here, "name"),
                    f"field {f.name!r} differs from field {seen[f.name.lower()]!r} only in "
                    "case; DuckDB and BigQuery take them for one column",
                    expected="field names unique regardless of case",
                    hint="rename one of them",
                )
            seen.setdefault(f.name.lower(), f.name)
            self.field(f, here)

    def field(self, f: FieldSpec, loc: Loc) -> None:
        dtype = f.type
        if dtype.has_members and not f.fields:
            self.add(
                (*loc, "type"),
                f"field {f.name!r} is a {dtype} but lists no members",
                expected="a 'fields:' list of its members",
            )
        if f.fields is not None and not dtype.has_members:
            self.add(
                (*loc, "fields"),
                f"field {f.name!r} has members but its type is {dtype}",
                expected="type struct or array<struct>",
                hint="remove 'fields:' or change the type",
            )
        if f.fields:
            self.fields(f.fields, (*loc, "fields"))
        if f.pii is not None and f.transform is None:
            self.add(
                (*loc, "pii"),
                f"field {f.name!r} holds personal data ({f.pii}) but declares no transform",
                expected="a transform: drop, redact, mask, tokenize, generalize or encrypt",
                hint="e.g. 'transform: {kind: tokenize, key: <key name>}'",
            )
        if f.transform is None:
            return
        why = transform_fits(f.transform, dtype)
        if why is not None:
            self.add(
                (*loc, "transform"),
                f"transform {f.transform.kind} does not fit field {f.name!r} ({dtype}): {why}",
                expected="a transform that applies to the field's type",
            )
        if isinstance(f.transform, t.Encrypt) and f.subject is None and self.c.subject is None:
            self.add(
                (*loc, "transform"),
                f"field {f.name!r} is encrypted per data subject, but no subject is declared",
                expected="'subject: <field>' on the field or the contract",
                hint="name the field that identifies the person, e.g. 'subject: customer_id'",
            )
        self.ref(f.subject, (*loc, "subject"), "subject")

    # -- identity and keys -----------------------------------------------------------------

    def identity(self) -> None:
        c = self.c
        view = any(isinstance(p, ServingView) for p in c.ports.outputs)
        if view and len(c.address) > MAX_NAME_LENGTH:
            self.add(
                ("name",),
                f"the port name {c.address!r} has {len(c.address)} characters; PostgreSQL "
                f"(the serving view's table) cuts names at {MAX_NAME_LENGTH}",
                expected=f"<domain>.<name>.v<major> of at most {MAX_NAME_LENGTH} characters",
                hint="shorten the product or domain name",
            )
        if c.status == "deprecated" and c.sunset is None:
            self.add(
                ("status",),
                "a deprecated product needs a sunset date",
                expected="'sunset: YYYY-MM-DD'",
                hint="add the date the product stops being served",
            )
        if c.sunset is not None and c.status not in {"deprecated", "retired"}:
            self.add(
                ("sunset",),
                f"sunset is set but the status is {c.status}",
                expected="status deprecated or retired",
            )
        self.ref(c.subject, ("subject",), "subject")

    def keys(self) -> None:
        c = self.c
        for i, path in enumerate(c.primary_key):
            f = self.ref(path, ("primary_key", i), "primary key")
            if f is None:
                continue
            if f.type.kind in {"array", "struct", "json", "float"}:
                self.add(
                    ("primary_key", i),
                    f"primary key field {path!r} is a {f.type}",
                    expected="a scalar type other than float",
                )
            if not f.required:
                self.add(
                    ("primary_key", i),
                    f"primary key field {path!r} is not required",
                    expected="required: true on every primary key field",
                    hint=f"add 'required: true' to field {path!r}",
                )
        if len(set(c.primary_key)) != len(c.primary_key):
            self.add(("primary_key",), "the primary key lists a field twice")
        f = self.ref(c.event_time, ("event_time",), "event_time")
        if f is not None and not f.type.is_temporal:
            self.add(
                ("event_time",),
                f"event_time field {c.event_time!r} is a {f.type}",
                expected="a timestamp or date field",
            )

    # -- quality ----------------------------------------------------------------------------

    def quality(self) -> None:
        for i, rule in enumerate(self.c.quality):
            loc: Loc = ("quality", i)
            if isinstance(rule, q.Unique):
                for j, path in enumerate(rule.fields):
                    self.ref(path, (*loc, "fields", j), "unique")
                continue
            if isinstance(rule, q.Freshness):
                self.freshness(rule, loc)
                continue
            if not isinstance(rule, q.NotNull | q.AcceptedValues | q.Range | q.Regex):
                continue
            f = self.ref(rule.field, (*loc, "field"), rule.kind)
            if f is None:
                continue
            dtype = f.type
            if isinstance(rule, q.Regex) and dtype.kind != "string":
                self.add(
                    (*loc, "field"), f"regex applies to string fields, {rule.field!r} is a {dtype}"
                )
            if isinstance(rule, q.Range) and not dtype.is_orderable:
                self.add(
                    (*loc, "field"),
                    f"range applies to numbers, dates and timestamps, {rule.field!r} is a {dtype}",
                )
            elif isinstance(rule, q.Range):
                self.range_bounds(rule, dtype, loc)
            if isinstance(rule, q.AcceptedValues):
                for j, value in enumerate(rule.values):
                    if dtype.kind in {
                        "string",
                        "integer",
                        "boolean",
                        "float",
                        "decimal",
                    } and not _value_fits(value, dtype):
                        self.add(
                            (*loc, "values", j),
                            f"{value!r} is not a {dtype} (field {rule.field!r})",
                        )

    def range_bounds(self, rule: q.Range, dtype: DataType, loc: Loc) -> None:
        """Each bound is a value of the field's type, and min is not above max."""
        bounds: dict[str, Any] = {}
        for key in ("min", "max"):
            value = getattr(rule, key)
            if value is None:
                continue
            bound, expected = _bound_of(value, dtype)
            if expected is not None:
                self.add(
                    (*loc, key),
                    f"the {key} bound {value!r} does not fit field {rule.field!r} ({dtype})",
                    expected=expected,
                )
            else:
                bounds[key] = bound
        if "min" in bounds and "max" in bounds:
            try:
                reversed_ = bounds["min"] > bounds["max"]
            except TypeError:  # e.g. a date against a timestamp: left to the engines
                reversed_ = False
            if reversed_:
                self.add(
                    (*loc, "min"),
                    f"range min {rule.min!r} is greater than max {rule.max!r}: no value passes",
                    expected="min <= max",
                )

    def freshness(self, rule: q.Freshness, loc: Loc) -> None:
        path = rule.field or self.c.event_time
        if path is None:
            self.add(
                loc,
                "freshness needs a timestamp field",
                expected="'field: <timestamp field>' or an event_time on the contract",
            )
            return
        f = self.ref(rule.field, (*loc, "field"), "freshness")
        if f is not None and not f.type.is_temporal:
            self.add(
                (*loc, "field"),
                f"freshness field {path!r} is a {f.type}",
                expected="a timestamp or date field",
            )

    # -- ports ------------------------------------------------------------------------------

    def ports(self) -> None:
        c = self.c
        names: dict[str, int] = {}
        for i, port in enumerate(c.ports.inputs):
            if port.port_name in names:
                self.add(
                    ("ports", "inputs", i),
                    f"two input ports are named {port.port_name!r}",
                    hint="give one of them a distinct 'name:'",
                )
            names[port.port_name] = i
            if port.kind == "product" and port.product == c.id:
                self.add(("ports", "inputs", i, "product"), "a product cannot read itself")
        kinds: set[str] = set()
        for i, out in enumerate(c.ports.outputs):
            self.output(out, ("ports", "outputs", i), kinds)

    def output(self, port: OutputPort, loc: Loc, kinds: set[str]) -> None:
        c = self.c
        if port.kind in kinds:
            self.add(
                (*loc, "kind"),
                f"a second {port.kind} output port",
                expected="at most one output port of each kind (they share the product's name)",
            )
        kinds.add(port.kind)
        if isinstance(port, KafkaTopic | ServingView):
            if port.key is not None:
                for j, path in enumerate(port.key):
                    self.ref(path, (*loc, "key", j), f"{port.kind} key")
                if isinstance(port, KafkaTopic) and tuple(port.key) != tuple(c.primary_key):
                    self.add(
                        (*loc, "key"),
                        f"the topic's key {list(port.key)} is not the primary key "
                        f"{list(c.primary_key)}: a topic's messages are keyed by the primary "
                        "key, since deletes are tombstones keyed by it and consumers read "
                        "the key as the primary key",
                        expected="no 'key:' (the primary key is the key), or the primary "
                        "key's fields in order",
                    )
            elif not c.primary_key and (isinstance(port, ServingView) or port.compaction):
                what = "a serving view" if isinstance(port, ServingView) else "a compacted topic"
                self.add(
                    loc,
                    f"{what} needs a key",
                    expected="'key: [...]' or a primary_key on the contract",
                )
        if isinstance(port, WarehouseTable):
            if port.partitioning is not None:
                f = self.ref(
                    port.partitioning.field, (*loc, "partitioning", "field"), "partitioning"
                )
                if f is not None and not f.type.is_temporal:
                    self.add(
                        (*loc, "partitioning", "field"),
                        f"partitioning field {port.partitioning.field!r} is a {f.type}",
                        expected="a timestamp or date field",
                    )
            for j, path in enumerate(port.clustering):
                self.ref(path, (*loc, "clustering", j), "clustering")
        if isinstance(port, SearchIndex):
            for j, path in enumerate(port.searchable):
                self.ref(path, (*loc, "searchable", j), "searchable")

    # -- mapping ----------------------------------------------------------------------------

    def mapping(self) -> None:
        m = self.c.mapping
        if m is None:
            return
        inputs = {p.port_name: p for p in self.c.ports.inputs}
        if not inputs:
            self.add(
                ("mapping",), "a mapping needs an input port", expected="ports.inputs with one port"
            )
        elif m.from_ is None and len(inputs) > 1:
            self.add(
                ("mapping",),
                "the mapping does not say which input port it reads",
                expected="'from:' naming one of " + ", ".join(sorted(inputs)),
            )
        elif m.from_ is not None and m.from_ not in inputs:
            self.add(
                ("mapping", "from"),
                f"unknown input port {m.from_!r}",
                expected="one of " + ", ".join(sorted(inputs)),
                hint=_suggest(m.from_, inputs),
            )
        top = {f.name for f in self.c.fields}
        for name in m.fields:
            if name not in top:
                self.add(
                    ("mapping", "fields", name),
                    f"mapping of unknown field {name!r}",
                    expected="a top-level field of the contract",
                    hint=_suggest(name, top),
                )
        if m.filter is not None:
            from meshkit.contracts.filter import FilterSyntaxError, parse_filter

            try:
                parse_filter(m.filter)
            except FilterSyntaxError as exc:
                self.add(
                    ("mapping", "filter"),
                    f"invalid filter: {exc}",
                    expected="a filter like: status != 'test' and deleted_at is null",
                )
