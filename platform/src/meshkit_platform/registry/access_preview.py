"""What a reader gets: per port and field, from a contract's privacy declaration.

Computed with the SDK (``meshkit.contracts.exporters.published``, the schema a port
publishes after the privacy transforms), never a copy of its rules: in clear, tokenized
(joinable), encrypted per subject, generalized, masked, redacted or dropped. A member of
a dropped struct is dropped too. Transforms are declared per field, so every port of a
line publishes a field the same way; the preview repeats them per port with the port's
address.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshkit.contracts import Contract, FieldSpec
from meshkit.contracts.exporters.published import published_field, published_fields
from meshkit.contracts.ports import ServingView, WarehouseTable
from meshkit_platform.registry.access_models import (
    AccessError,
    FieldPreview,
    PortPreview,
    PreviewOut,
    Treatment,
)

VIEW_SCHEMA = "public"
#: What each treatment means for the reader, as the preview and the page say it.
MEANING: dict[str, str] = {
    "clear": "in clear",
    "tokenized": "tokenized: a keyed hash, joinable across products, not reversible",
    "encrypted": "encrypted per data subject: readable only with a decrypt grant",
    "generalized": "generalized: a coarser value",
    "masked": "masked: characters hidden",
    "redacted": "redacted: one constant for every value",
    "dropped": "dropped: never leaves the domain",
}
_TREATMENT = {
    "tokenize": "tokenized",
    "encrypt": "encrypted",
    "generalize": "generalized",
    "mask": "masked",
    "redact": "redacted",
    "drop": "dropped",
}


def reader_role(grantee: str) -> str:
    """The database role of a reader group (the same name provisioning manages)."""
    return f"meshkit_reader_{grantee}"


def _detail(spec: FieldSpec) -> str:
    t = spec.transform
    if t is None:
        return ""
    if t.kind == "tokenize":
        return f"token key {t.key}"
    if t.kind == "mask":
        return "keeps the e-mail domain" if t.keep_email_domain else f"keeps the last {t.keep_last}"
    if t.kind == "generalize":
        if t.to is not None:
            return {"month": "to the month", "year": "to the year"}.get(t.to, "to the /24 network")
        if t.bucket is not None:
            return f"buckets of {t.bucket:g}"
        return f"first {t.prefix} characters"
    if t.kind == "encrypt":
        return "per data subject"
    return ""


def treatment_of(spec: FieldSpec, parent_dropped: bool = False) -> Treatment:
    """How a field reaches readers (a member of a dropped struct is dropped too)."""
    if parent_dropped:
        return "dropped"
    if spec.transform is None:
        return "clear"
    found: Treatment = _TREATMENT[spec.transform.kind]  # type: ignore[assignment]
    return found


def port_address(contract: Contract, kind: str) -> str:
    """Where a port of the contract is read (the serving view: its PostgreSQL table)."""
    port = next(p for p in contract.ports.outputs if p.kind == kind)
    if isinstance(port, ServingView):
        return f'{VIEW_SCHEMA}."{contract.address}"'
    if isinstance(port, WarehouseTable):
        return port.name_in(contract)
    return port.name_in(contract)


def field_rows(contract: Contract, chosen: set[str] | None) -> list[FieldPreview]:
    """Every field (struct members too) with its treatment; ``chosen``: top-level fields
    asked for (None: all)."""
    rows: list[FieldPreview] = []

    def walk(fields: tuple[FieldSpec, ...], prefix: str, dropped: bool, top: str | None) -> None:
        for f in fields:
            path = prefix + f.name
            root = top or f.name
            treatment = treatment_of(f, dropped)
            shown = published_field(f) if treatment != "dropped" else None
            rows.append(
                FieldPreview(
                    path=path,
                    type=str(f.data_type),
                    published_type=str(shown.type) if shown is not None else None,
                    classification=f.classification,
                    pii=f.pii,
                    treatment=treatment,
                    detail=_detail(f),
                    requested=treatment != "dropped" and (chosen is None or root in chosen),
                )
            )
            if f.fields:
                walk(f.fields, path + ".", treatment == "dropped", root)

    walk(contract.fields, "", False, None)
    return rows


def preview(
    contract: Contract,
    ports: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
) -> PreviewOut:
    """Per port asked for (all when None), per field: what a grantee gets.
    ``AccessError`` (422) for a port or field the contract does not have."""
    kinds = [p.kind for p in contract.ports.outputs]
    asked = ports or kinds
    unknown = [p for p in asked if p not in kinds]
    if unknown:
        raise AccessError(
            422,
            f"{contract.address} has no {', '.join(unknown)} port; "
            f"expected one of: {', '.join(kinds) or 'none'}",
        )
    chosen = _chosen_fields(contract, fields)
    rows = field_rows(contract, chosen)
    return PreviewOut(
        address=contract.address,
        version=contract.version,
        ports=[
            PortPreview(kind=k, address=port_address(contract, k), fields=rows)
            for k in kinds
            if k in asked
        ],
    )


def _chosen_fields(contract: Contract, fields: Sequence[str] | None) -> set[str] | None:
    if fields is None:
        return None
    published = {f.name for f in published_fields(contract)}
    unknown = [f for f in fields if f not in published]
    if unknown:
        raise AccessError(
            422,
            f"{len(unknown)} field(s) asked for are not published by {contract.address}; "
            f"expected top-level fields among: {', '.join(sorted(published))}",
        )
    return set(fields)


def columns_for(contract: Contract, fields: list[str]) -> list[str]:
    """The columns a grant covers: the published top-level fields asked for."""
    chosen = set(fields)
    return sorted(f.name for f in published_fields(contract) if f.name in chosen)
