"""``diff_contracts(old, new)``: every change between two contracts, classified.

Fields and privacy are compared in ``meshkit.contracts.diff.fields``; this module adds
identity, keys, quality rules, SLOs, ports and access. Quality rules are matched by
kind and the field(s) they check (custom SQL by name); a changed rule is *tightened*
when everything the new rule accepts the old one accepted too (a smaller set of
accepted values, a narrower range or row count, a shorter freshness, ``warn`` →
``error``), *loosened* in the reverse case, and just *changed* (breaking: nothing
proves it is tighter) when that cannot be decided (another regex or SQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from meshkit.contracts import quality as q
from meshkit.contracts.diff.fields import diff_fields
from meshkit.contracts.diff.report import Change, DiffReport
from meshkit.contracts.model import Contract
from meshkit.contracts.ports import KafkaTopic, SearchIndex, ServingView, WarehouseTable
from meshkit.contracts.types import format_duration


def diff_contracts(old: Contract, new: Contract) -> DiffReport:
    """Every change from ``old`` to ``new``, in the order identity, schema, keys, quality,
    SLOs, ports, access."""
    changes: list[Change] = []
    changes += _identity(old, new)
    changes += diff_fields(old.fields, new.fields, "", (old.subject, new.subject))
    changes += _keys(old, new)
    changes += _quality(old, new)
    changes += _slo(old, new)
    changes += _ports(old, new)
    changes += _access(old, new)
    return DiffReport(old.version, new.version, tuple(changes))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple | list | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)


def _identity(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    if old.id != new.id:
        out.append(Change("product_renamed", "name", f"{old.id} → {new.id}", old.id, new.id))
    if old.status != new.status:
        kind = "status_retired" if new.status == "retired" else "status_changed"
        out.append(Change(kind, "status", f"{old.status} → {new.status}", old.status, new.status))
    if old.sunset != new.sunset:
        a, b = _text(old.sunset), _text(new.sunset)
        out.append(Change("sunset_changed", "sunset", f"{a or 'none'} → {b or 'none'}", a, b))
    if old.description != new.description:
        out.append(
            Change(
                "description_changed", "description", "changed", old.description, new.description
            )
        )
    if old.tags != new.tags:
        a, b = _text(old.tags), _text(new.tags)
        out.append(Change("tags_changed", "tags", f"{a or 'none'} → {b or 'none'}", a, b))
    if old.owner != new.owner:
        a = f"{old.owner.team} <{old.owner.contact}>"
        b = f"{new.owner.team} <{new.owner.contact}>"
        out.append(Change("owner_changed", "owner", f"{a} → {b}", a, b))
    if old.subject != new.subject:
        out.append(
            Change(
                "subject_changed",
                "subject",
                f"data subject {old.subject or 'none'} → {new.subject or 'none'}",
                old.subject,
                new.subject,
            )
        )
    return out


def _keys(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    if old.primary_key != new.primary_key:
        a, b = _text(old.primary_key) or "", _text(new.primary_key) or ""
        out.append(Change("primary_key_changed", "primary_key", f"[{a}] → [{b}]", a, b))
    if old.event_time != new.event_time:
        ea, eb = old.event_time, new.event_time
        kind = "event_time_changed"
        if ea is None:
            kind = "event_time_added"
        elif eb is None:
            kind = "event_time_removed"
        out.append(Change(kind, "event_time", f"{ea or 'none'} → {eb or 'none'}", ea, eb))
    return out


# -- quality --------------------------------------------------------------------------------


def _rule_key(rule: Any, contract: Contract) -> str:
    if isinstance(rule, q.CustomSql):
        return f"custom_sql {rule.name}"
    if isinstance(rule, q.Unique):
        return f"unique [{', '.join(rule.fields)}]"
    target = getattr(rule, "field", None)
    if isinstance(rule, q.Freshness):
        target = rule.field or contract.event_time  # the field it actually checks
    return f"{rule.kind} {target}" if target else str(rule.kind)


def _keyed(contract: Contract) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in contract.quality:
        base = _rule_key(rule, contract)
        key, n = base, 2
        while key in out:  # a second rule of the same kind on the same field
            key = f"{base} #{n}"
            n += 1
        out[key] = rule
    return out


def _le(a: Any, b: Any) -> bool | None:
    """``a <= b``, or None when the two cannot be compared."""
    try:
        return bool(a <= b)
    except TypeError:
        return None


def _within(
    old_min: Any, old_max: Any, new_min: Any, new_max: Any
) -> bool | None:  # the new bounds lie inside the old ones
    checks: list[bool | None] = []
    if old_min is not None:
        checks.append(False if new_min is None else _le(old_min, new_min))
    if old_max is not None:
        checks.append(False if new_max is None else _le(new_max, old_max))
    if None in checks:
        return None
    return all(checks)


def _tighter(old: Any, new: Any) -> bool | None:
    """True: ``new`` accepts a subset of what ``old`` accepts; False: it may accept more;
    None: undecidable."""
    if isinstance(old, q.AcceptedValues) and isinstance(new, q.AcceptedValues):
        return set(new.values) <= set(old.values)
    if isinstance(old, q.Range) and isinstance(new, q.Range):
        return _within(old.min, old.max, new.min, new.max)
    if isinstance(old, q.RowCount) and isinstance(new, q.RowCount):
        return _within(old.min, old.max, new.min, new.max)
    if isinstance(old, q.Freshness) and isinstance(new, q.Freshness):
        return new.max_age <= old.max_age
    return None


_DOC_KEYS = {"name", "description"}
_BODY_EXCLUDED = _DOC_KEYS | {"severity", "field", "fields"}  # the fields are in the key


def _quality(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    a, b = _keyed(old), _keyed(new)
    for key in a.keys() - b.keys():
        out.append(Change("quality_rule_removed", f"quality[{key}]", "rule removed"))
    for key in b.keys() - a.keys():
        out.append(Change("quality_rule_added", f"quality[{key}]", "rule added"))
    for key in [k for k in a if k in b]:
        ro, rn = a[key], b[key]
        body_o = ro.model_dump(exclude=_BODY_EXCLUDED, mode="json")
        body_n = rn.model_dump(exclude=_BODY_EXCLUDED, mode="json")
        docs_same = (ro.name, ro.description) == (rn.name, rn.description)
        if body_o == body_n and ro.severity == rn.severity and docs_same:
            continue
        path = f"quality[{key}]"
        severity = (ro.severity, rn.severity)
        if body_o == body_n and severity[0] == severity[1]:
            out.append(Change("quality_rule_documented", path, "name or description changed"))
            continue
        verdicts: list[bool | None] = []
        if body_o != body_n:
            verdicts.append(_tighter(ro, rn))
        if severity[0] != severity[1]:
            verdicts.append(severity == ("warn", "error"))
        old_text, new_text = _rule_text(body_o, ro.severity), _rule_text(body_n, rn.severity)
        if None in verdicts:
            kind = "quality_rule_changed"
        else:
            kind = "quality_rule_tightened" if all(verdicts) else "quality_rule_loosened"
        out.append(Change(kind, path, f"{old_text} → {new_text}", old_text, new_text))
    return out


def _rule_text(body: dict[str, Any], severity: str) -> str:
    parts = [f"{k}: {v}" for k, v in body.items() if k not in {"kind", "field", "fields"}]
    parts.append(f"severity: {severity}")
    return "{" + ", ".join(parts) + "}"


# -- SLOs -----------------------------------------------------------------------------------


def _slo(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    higher_is_better: dict[str, bool] = {
        "freshness": False,
        "completeness": True,
        "availability": True,
    }
    for name, higher in higher_is_better.items():
        a = getattr(old.slo, name) if old.slo else None
        b = getattr(new.slo, name) if new.slo else None
        if a == b:
            continue
        ta, tb = _text(a), _text(b)
        path = f"slo.{name}"
        if a is None:
            out.append(Change("slo_added", path, f"new objective {tb}", None, tb))
        elif b is None:
            out.append(Change("slo_loosened", path, f"objective {ta} dropped", ta, None))
        else:
            tighter = b > a if higher else b < a
            kind = "slo_tightened" if tighter else "slo_loosened"
            out.append(Change(kind, path, f"{ta} → {tb}", ta, tb))
    return out


# -- ports and access -----------------------------------------------------------------------


def _effective_key(port: KafkaTopic | ServingView, contract: Contract) -> tuple[str, ...]:
    return tuple(port.key) if port.key else tuple(contract.primary_key)


def _retention_seconds(port: KafkaTopic) -> float:
    return port.retention.total_seconds() if port.retention else float("inf")


def _kafka(old: KafkaTopic, new: KafkaTopic) -> list[Change]:
    out: list[Change] = []
    path = "ports.outputs.kafka_topic"
    if old.partitions != new.partitions:
        out.append(
            Change(
                "topic_partitions_changed",
                f"{path}.partitions",
                f"{old.partitions} → {new.partitions}",
                str(old.partitions),
                str(new.partitions),
            )
        )
    if old.retention != new.retention:
        a, b = _text(old.retention) or "forever", _text(new.retention) or "forever"
        longer = _retention_seconds(new) > _retention_seconds(old)
        kind = "topic_retention_extended" if longer else "topic_retention_shortened"
        out.append(Change(kind, f"{path}.retention", f"{a} → {b}", a, b))
    if old.compaction != new.compaction:
        a, b = str(old.compaction).lower(), str(new.compaction).lower()
        out.append(Change("topic_compaction_changed", f"{path}.compaction", f"{a} → {b}", a, b))
    if old.format != new.format:
        out.append(
            Change(
                "topic_format_changed",
                f"{path}.format",
                f"{old.format} → {new.format}",
                old.format,
                new.format,
            )
        )
    return out


def _key_change(
    old: KafkaTopic | ServingView, new: KafkaTopic | ServingView, oc: Contract, nc: Contract
) -> list[Change]:
    if old.key is None and new.key is None:
        return []  # both follow the primary key, whose change is reported once
    a, b = _effective_key(old, oc), _effective_key(new, nc)
    if a == b:
        return []
    ta, tb = ", ".join(a), ", ".join(b)
    return [Change("port_key_changed", f"ports.outputs.{new.kind}.key", f"[{ta}] → [{tb}]", ta, tb)]


def _warehouse(old: WarehouseTable, new: WarehouseTable) -> list[Change]:
    out: list[Change] = []
    path = "ports.outputs.warehouse_table"
    if old.partitioning != new.partitioning:

        def text(p: Any) -> str:
            return f"{p.field} by {p.granularity}" if p is not None else "none"

        a, b = text(old.partitioning), text(new.partitioning)
        out.append(Change("table_partitioning_changed", f"{path}.partitioning", f"{a} → {b}", a, b))
    if old.clustering != new.clustering:
        a, b = _text(old.clustering) or "none", _text(new.clustering) or "none"
        out.append(Change("table_clustering_changed", f"{path}.clustering", f"{a} → {b}", a, b))
    return out


def _search(old: SearchIndex, new: SearchIndex) -> list[Change]:
    path = "ports.outputs.search_index.searchable"
    out = [
        Change("searchable_removed", f"{path}[{f}]", f"{f} no longer searchable", f, None)
        for f in old.searchable
        if f not in new.searchable
    ]
    out += [
        Change("searchable_added", f"{path}[{f}]", f"{f} now searchable", None, f)
        for f in new.searchable
        if f not in old.searchable
    ]
    return out


def _ports(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    a = {p.kind: p for p in old.ports.outputs}
    b = {p.kind: p for p in new.ports.outputs}
    for kind in a:
        if kind not in b:
            out.append(Change("output_port_removed", f"ports.outputs.{kind}", f"{kind} removed"))
    for kind in b:
        if kind not in a:
            out.append(Change("output_port_added", f"ports.outputs.{kind}", f"new {kind}"))
    for kind in [k for k in a if k in b]:
        po, pn = a[kind], b[kind]
        if po.description != pn.description:
            out.append(
                Change(
                    "output_port_documented",
                    f"ports.outputs.{kind}.description",
                    "description changed",
                    po.description,
                    pn.description,
                )
            )
        compare: dict[type, Callable[[Any, Any], list[Change]]] = {
            KafkaTopic: _kafka,
            WarehouseTable: _warehouse,
            SearchIndex: _search,
        }
        if type(po) in compare:
            out += compare[type(po)](po, pn)
        if isinstance(po, KafkaTopic | ServingView) and isinstance(pn, KafkaTopic | ServingView):
            out += _key_change(po, pn, old, new)
    if old.ports.inputs != new.ports.inputs:
        ta = ", ".join(p.port_name for p in old.ports.inputs) or "none"
        tb = ", ".join(p.port_name for p in new.ports.inputs) or "none"
        out.append(Change("input_ports_changed", "ports.inputs", f"[{ta}] → [{tb}]", ta, tb))
    if old.mapping != new.mapping:
        out.append(Change("mapping_changed", "mapping", "the mapping from the input port changed"))
    return out


def _access(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    a, b = old.access, new.access
    if a.visibility != b.visibility:
        kind = "visibility_restricted" if b.visibility == "domain_private" else "visibility_opened"
        detail = f"{a.visibility} → {b.visibility}"
        out.append(Change(kind, "access.visibility", detail, a.visibility, b.visibility))
    out += [
        Change("reader_removed", f"access.readers[{r}]", f"{r} loses read access", r, None)
        for r in a.readers
        if r not in b.readers
    ]
    out += [
        Change("reader_added", f"access.readers[{r}]", f"{r} gains read access", None, r)
        for r in b.readers
        if r not in a.readers
    ]
    return out
