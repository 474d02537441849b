"""Reading the catalog: one product line, full-text search, domains.

Search ranks product lines by PostgreSQL full-text search (``websearch_to_tsquery`` over
the stored vector of keywords — domain, name, owner team —, description and field
names, weighted in that order) and filters by domain, status and personal data;
without a query it lists lines by address. Pages are ``limit``/``offset``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from meshkit_platform.registry.db import (
    Domain,
    InputEdge,
    OutputPort,
    PersonalField,
    Product,
    ProductVersion,
)
from meshkit_platform.registry.publish import consumers_of
from meshkit_platform.registry.runs import run_status
from meshkit_platform.registry.schemas import (
    DomainOut,
    InputOut,
    OwnerOut,
    PersonalFieldOut,
    PortOut,
    ProductOut,
    ProductSummary,
    SearchPage,
    VersionOut,
)

MAX_PAGE = 100
SEARCH_CONFIG = "english"


def find_line(session: Session, ref: str) -> Product | None:
    """The product line named ``<domain>.<product>.v<major>``, or by ``<domain>.<product>``
    its newest major; None when unknown."""
    line = session.scalars(select(Product).where(Product.address == ref)).first()
    if line is not None:
        return line
    domain, _, name = ref.partition(".")
    if not name or "." in name:
        return None
    return session.scalars(
        select(Product)
        .join(Domain, Domain.id == Product.domain_id)
        .where(Domain.name == domain, Product.name == name)
        .order_by(Product.major.desc())
        .limit(1)
    ).first()


def product(session: Session, ref: str) -> ProductOut | None:
    """Everything registered on one product line, or None when it is unknown."""
    line = find_line(session, ref)
    if line is None:
        return None
    ports = session.scalars(
        select(OutputPort).where(OutputPort.product_id == line.id).order_by(OutputPort.kind)
    ).all()
    personal: dict[int, list[PersonalFieldOut]] = {p.id: [] for p in ports}
    if ports:
        for f in session.scalars(
            select(PersonalField)
            .where(PersonalField.port_id.in_(list(personal)))
            .order_by(PersonalField.id)
        ):
            personal[f.port_id].append(
                PersonalFieldOut(
                    path=f.path, pii=f.pii, classification=f.classification, transform=f.transform
                )
            )
    inputs = session.scalars(
        select(InputEdge).where(InputEdge.product_id == line.id).order_by(InputEdge.port_name)
    ).all()
    versions = session.scalars(
        select(ProductVersion)
        .where(ProductVersion.product_id == line.id)
        .order_by(ProductVersion.published_at, ProductVersion.id)
    ).all()
    return ProductOut(
        address=line.address,
        domain=line.domain.name,
        name=line.name,
        major=line.major,
        version=line.version,
        status=line.status,
        description=line.description,
        owner=OwnerOut(team=line.owner_team, contact=line.owner_contact),
        has_personal_data=line.has_personal_data,
        slo=line.slo,
        ports=[
            PortOut(
                kind=p.kind,
                address=p.address,
                description=p.description,
                personal_fields=personal[p.id],
            )
            for p in ports
        ],
        inputs=[InputOut(port=i.port_name, source=i.source_address) for i in inputs],
        consumers=consumers_of(session, line.address),
        versions=[
            VersionOut(
                version=v.version,
                status=v.status,
                content_hash=v.content_hash,
                published_at=v.published_at,
            )
            for v in versions
        ],
        updated_at=line.updated_at,
        run_status=run_status(session, line),
    )


def search(
    session: Session,
    *,
    q: str | None = None,
    domain: str | None = None,
    status: str | None = None,
    personal: bool | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """A ranked page of product lines matching the query and the filters."""
    conditions: list[ColumnElement[bool]] = []
    rank = None
    if q and q.strip():
        query = func.websearch_to_tsquery(SEARCH_CONFIG, q)
        conditions.append(Product.search.op("@@")(query))
        rank = func.ts_rank_cd(Product.search, query)
    if domain is not None:
        conditions.append(Domain.name == domain)
    if status is not None:
        conditions.append(Product.status == status)
    if personal is not None:
        conditions.append(Product.has_personal_data.is_(personal))
    base = select(Product).join(Domain, Domain.id == Product.domain_id).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    columns = [
        Product.address,
        Domain.name.label("domain"),
        Product.name,
        Product.major,
        Product.version,
        Product.status,
        Product.description,
        Product.owner_team,
        Product.has_personal_data,
    ]
    stmt = select(*columns, rank) if rank is not None else select(*columns)
    stmt = stmt.join(Domain, Domain.id == Product.domain_id).where(*conditions)
    order = [rank.desc(), Product.address] if rank is not None else [Product.address]
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset)).all()
    items = [
        ProductSummary(
            address=r[0],
            domain=r[1],
            name=r[2],
            major=r[3],
            version=r[4],
            status=r[5],
            description=r[6],
            owner_team=r[7],
            has_personal_data=r[8],
            rank=float(cast(float, r[9])) if rank is not None else None,
        )
        for r in rows
    ]
    return SearchPage(total=int(total), limit=limit, offset=offset, items=items)


def domains(session: Session, name: str | None = None) -> list[DomainOut]:
    """Every domain (or the one named) with its product lines."""
    stmt = select(Domain).order_by(Domain.name)
    if name is not None:
        stmt = stmt.where(Domain.name == name)
    out: list[DomainOut] = []
    for d in session.scalars(stmt).all():
        lines = session.scalars(
            select(Product.address).where(Product.domain_id == d.id).order_by(Product.address)
        ).all()
        out.append(
            DomainOut(
                name=d.name,
                owners=list(d.owners or []),
                repository=d.repository,
                template_version=d.template_version,
                sdk_version=d.sdk_version,
                products=list(lines),
                updated_at=d.updated_at,
            )
        )
    return out
