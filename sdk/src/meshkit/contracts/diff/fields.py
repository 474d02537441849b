"""Changes between two field lists: schema, types and the privacy declaration.

Fields are matched by name at each level (struct members by their dotted path). A
removed and an added field that agree on everything but the name are reported as one
``field_renamed``. Type changes are classified by ``compare_types``:

- ``integer`` → ``float``; ``integer`` → ``decimal(p,s)`` with at least 19 integer digits
  (every 64-bit integer fits); ``decimal(p,s)`` → ``decimal(p',s')`` keeping at least as
  many integer digits and decimals: **widened**;
- the reverse of a widening, and ``decimal`` → ``float`` (loses exact values): **narrowed**;
- ``array<T>`` follows ``T``; every other change of type: **changed**.
"""

from __future__ import annotations

from typing import Literal

from meshkit.contracts.diff.report import Change
from meshkit.contracts.model import FieldSpec
from meshkit.contracts.types import DataType

TypeVerdict = Literal["same", "widened", "narrowed", "changed"]
INT64_DIGITS = 19
CLASSIFICATION_ORDER = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}


def _integer_digits(t: DataType) -> int:
    return (t.precision or 0) - (t.scale or 0)


def compare_types(old: DataType, new: DataType) -> TypeVerdict:
    """How ``new`` relates to ``old``: the same, wider, narrower, or another type."""
    if old == new:
        return "same"
    if old.kind == "array" and new.kind == "array":
        assert old.element is not None
        assert new.element is not None
        return compare_types(old.element, new.element)
    pair = (old.kind, new.kind)
    if pair == ("integer", "float"):
        return "widened"
    if pair in {("float", "integer"), ("decimal", "integer"), ("decimal", "float")}:
        return "narrowed"
    if pair == ("float", "decimal"):
        return "narrowed"
    if pair == ("integer", "decimal"):
        return "widened" if _integer_digits(new) >= INT64_DIGITS else "narrowed"
    if pair == ("decimal", "decimal"):
        wider = _integer_digits(new) >= _integer_digits(old) and (new.scale or 0) >= (
            old.scale or 0
        )
        return "widened" if wider else "narrowed"
    return "changed"


def _transform_text(f: FieldSpec) -> str | None:
    if f.transform is None:
        return None
    args = f.transform.model_dump(exclude={"kind"}, exclude_defaults=True, mode="json")
    inner = ", ".join(f"{k}: {v}" for k, v in args.items())
    return f"{f.transform.kind}({inner})" if inner else f.transform.kind


def _same_but_name(a: FieldSpec, b: FieldSpec) -> bool:
    return a.model_dump(exclude={"name", "description"}) == b.model_dump(
        exclude={"name", "description"}
    )


Subjects = tuple[str | None, str | None]


def diff_fields(
    old: tuple[FieldSpec, ...] | None,
    new: tuple[FieldSpec, ...] | None,
    prefix: str = "",
    subjects: Subjects = (None, None),
) -> list[Change]:
    """Every change from the ``old`` field list to the ``new`` one.

    ``prefix`` is the parent's path (``address.``); ``subjects`` the contract-level data
    subjects of the old and new contract (a field's own ``subject`` overrides them).
    """
    old_by = {f.name: f for f in old or ()}
    new_by = {f.name: f for f in new or ()}
    changes: list[Change] = []
    removed = [f for n, f in old_by.items() if n not in new_by]
    added = [f for n, f in new_by.items() if n not in old_by]
    for gone in list(removed):
        twin = next((a for a in added if _same_but_name(gone, a)), None)
        if twin is not None:
            removed.remove(gone)
            added.remove(twin)
            changes.append(
                Change(
                    "field_renamed",
                    prefix + gone.name,
                    f"renamed to {twin.name!r}",
                    old=prefix + gone.name,
                    new=prefix + twin.name,
                )
            )
    for f in removed:
        changes.append(Change("field_removed", prefix + f.name, f"{f.type} field removed"))
    for f in added:
        kind = "field_added_required" if f.required else "field_added_optional"
        detail = f"new {'required' if f.required else 'optional'} {f.type} field"
        changes.append(Change(kind, prefix + f.name, detail, new=str(f.type)))
    common_old = [n for n in old_by if n in new_by]
    common_new = [n for n in new_by if n in old_by]
    if common_old != common_new:
        changes.append(
            Change(
                "fields_reordered",
                prefix.rstrip(".") or "fields",
                "the order of fields changed",
                old=", ".join(common_old),
                new=", ".join(common_new),
            )
        )
    for name in common_old:
        changes.extend(diff_field(old_by[name], new_by[name], prefix + name, subjects))
    return changes


def diff_field(
    old: FieldSpec, new: FieldSpec, path: str, subjects: Subjects = (None, None)
) -> list[Change]:
    """Changes of one field present in both contracts."""
    changes: list[Change] = []
    verdict = compare_types(old.type, new.type)
    if verdict != "same":
        kind = {"widened": "type_widened", "narrowed": "type_narrowed"}.get(verdict, "type_changed")
        changes.append(
            Change(kind, path, f"{old.type} → {new.type}", old=str(old.type), new=str(new.type))
        )
    if old.required != new.required:
        kind = "made_required" if new.required else "made_optional"
        changes.append(
            Change(
                kind,
                path,
                f"required: {str(old.required).lower()} → {str(new.required).lower()}",
                old=str(old.required).lower(),
                new=str(new.required).lower(),
            )
        )
    if old.description != new.description:
        changes.append(
            Change(
                "field_description_changed",
                path,
                "description changed",
                old=old.description,
                new=new.description,
            )
        )
    changes.extend(_privacy(old, new, path, subjects))
    if old.type.has_members or new.type.has_members:
        changes.extend(diff_fields(old.fields, new.fields, path + ".", subjects))
    return changes


def _privacy(old: FieldSpec, new: FieldSpec, path: str, subjects: Subjects) -> list[Change]:
    changes: list[Change] = []
    a, b = CLASSIFICATION_ORDER[old.classification], CLASSIFICATION_ORDER[new.classification]
    if a != b:
        kind = "classification_raised" if b > a else "classification_lowered"
        changes.append(
            Change(
                kind,
                path,
                f"classification {old.classification} → {new.classification}",
                old=old.classification,
                new=new.classification,
            )
        )
    if old.pii != new.pii:
        if old.pii is None:
            kind, detail = "pii_declared", f"now declared personal data ({new.pii})"
        elif new.pii is None:
            kind, detail = "pii_undeclared", f"no longer declared personal data (was {old.pii})"
        else:
            kind, detail = "pii_category_changed", f"personal data {old.pii} → {new.pii}"
        changes.append(Change(kind, path, detail, old=old.pii, new=new.pii))
    before, after = _transform_text(old), _transform_text(new)
    if before != after:
        if before is None:
            kind, detail = "transform_added", f"now published as {after}"
        elif after is None:
            kind, detail = "transform_removed", f"{before} removed: published as is"
        else:
            kind, detail = "transform_changed", f"transform {before} → {after}"
        changes.append(Change(kind, path, detail, old=before, new=after))
    # Only a field's own subject: a change of the contract's subject is reported once, there.
    before_subject, after_subject = old.subject or subjects[0], new.subject or subjects[1]
    if before_subject != after_subject and (old.subject or new.subject):
        changes.append(
            Change(
                "field_subject_changed",
                path,
                f"data subject {before_subject} → {after_subject}",
                old=before_subject,
                new=after_subject,
            )
        )
    return changes
