"""Which products hold data of a subject type: from contracts, then down the lineage.

A product *declares* the subject type ``customer`` when its contract's ``subject`` (or a
field's ``subject``) is a published field named ``customer_id`` or ``customer``. A product
reading a holder (declared input ports and lineage observed in runs) holds the subject's
data too when it publishes the holder's subject field (it carries the id); one that does
not is excluded, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshkit.contracts import parse_contract
from meshkit.contracts.exporters.published import published_fields
from meshkit_platform.registry.db import (
    Domain,
    InputEdge,
    ObservedEdge,
    Product,
    ProductVersion,
)


@dataclass(frozen=True)
class _Line:
    address: str
    domain: str
    published: frozenset[str]
    subjects: frozenset[str]


def _lines(session: Session) -> dict[str, _Line]:
    rows = session.execute(
        select(Product.address, Domain.name, ProductVersion.contract_text)
        .join(Domain, Domain.id == Product.domain_id)
        .join(
            ProductVersion,
            (ProductVersion.product_id == Product.id) & (ProductVersion.version == Product.version),
        )
        .where(Product.status != "retired")
    ).all()
    out: dict[str, _Line] = {}
    for address, domain, text in rows:
        contract, _ = parse_contract(text, address)
        if contract is None:
            continue
        published = frozenset(f.name for f in published_fields(contract))
        subjects = {contract.subject} | {f.subject for f in contract.field_index.values()}
        named = frozenset(s for s in subjects if s is not None and s in published)
        out[address] = _Line(address, domain, published, named)
    return out


def _readers(session: Session, sources: Iterable[str]) -> list[tuple[str, str]]:
    """(source, reader) edges out of ``sources``: declared input ports and observed runs."""
    wanted = list(sources)
    declared = session.execute(
        select(InputEdge.source_address, Product.address)
        .join(Product, Product.id == InputEdge.product_id)
        .where(InputEdge.source_address.in_(wanted))
    ).all()
    observed = session.execute(
        select(ObservedEdge.source_address, Product.address)
        .join(Product, Product.id == ObservedEdge.product_id)
        .where(ObservedEdge.source_address.in_(wanted))
    ).all()
    return sorted({(r[0], r[1]) for r in [*declared, *observed]})


@dataclass(frozen=True)
class Holder:
    address: str
    domain: str
    subject_field: str
    reason: str


def holders(session: Session, subject_type: str) -> tuple[list[Holder], list[dict[str, str]]]:
    """The products holding data of ``subject_type``, and those examined and excluded."""
    names = {subject_type, f"{subject_type}_id"}
    lines = _lines(session)
    found: dict[str, Holder] = {}
    for line in lines.values():
        for field in sorted(line.subjects & names):
            found.setdefault(
                line.address,
                Holder(line.address, line.domain, field, f"declares {field} as its data subject"),
            )
    excluded: dict[str, str] = {}
    frontier = set(found)
    while frontier:
        nxt: set[str] = set()
        for source, reader in _readers(session, frontier):
            reading = lines.get(reader)
            if reading is None or reader in found:
                continue
            field = found[source].subject_field
            if field in reading.published:
                found[reader] = Holder(
                    reader, reading.domain, field, f"reads {source} and carries {field}"
                )
                excluded.pop(reader, None)
                nxt.add(reader)
            else:
                excluded.setdefault(reader, f"reads {source} but publishes no {field}")
        frontier = nxt
    out = sorted(found.values(), key=lambda h: h.address)
    return out, [{"address": a, "reason": r} for a, r in sorted(excluded.items())]
