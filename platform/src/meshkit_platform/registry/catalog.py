"""Reading the catalog: one product line, full-text search, domains.

Search ranks product lines by PostgreSQL full-text search (``websearch_to_tsquery`` over
the stored vector of keywords — domain, name, owner team, tags —, description and field
names, weighted in that order) and filters by domain, status, tag and personal data;
without a query it lists lines by address. Pages are ``limit``/``offset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, func, literal, select, text, true
from sqlalchemy.orm import Session

from meshkit_platform.registry.db import (
    Domain,
    Product,
)
from meshkit_platform.registry.runs import status_of
from meshkit_platform.registry.schemas import (
    CheckResult,
    DomainOut,
    InputOut,
    LastChecks,
    OwnerOut,
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


_RESOLVE = text(
    """
SELECT p.address FROM products p WHERE p.address = :ref
UNION ALL
(SELECT p.address FROM products p JOIN domains d ON d.id = p.domain_id
  WHERE d.name = :domain AND p.name = :name ORDER BY p.major DESC LIMIT 1)
LIMIT 1
"""
)


def resolve(session: Session, ref: str) -> str | None:
    """The address :func:`find_line` names, in one statement without loading the line."""
    domain, _, name = ref.partition(".")
    if "." in name:
        domain = name = ""  # a full address or nothing: only the first branch can match
    return session.execute(_RESOLVE, {"ref": ref, "domain": domain, "name": name}).scalar()


# One round trip for a whole product page: the line, its ports with their personal
# fields, inputs, consumers, versions, newest run and last checks, aggregated as JSON by
# PostgreSQL.
# Run as a prepared statement on each connection: planning the six subqueries costs
# PostgreSQL more than running them.
_PRODUCT_NAME = "meshkit_registry_product"
_PRODUCT = """
SELECT p.address, d.name, p.name, p.major, p.version, p.status, p.description, p.tags,
       p.owner_team, p.owner_contact, p.has_personal_data, p.slo, p.updated_at,
       (SELECT coalesce(json_agg(json_build_object(
                 'kind', o.kind, 'address', o.address, 'description', o.description,
                 'personal_fields', (
                     SELECT coalesce(json_agg(json_build_object(
                               'path', f.path, 'pii', f.pii,
                               'classification', f.classification, 'transform', f.transform)
                             ORDER BY f.id), '[]')
                     FROM personal_fields f WHERE f.port_id = o.id))
               ORDER BY o.kind), '[]')
          FROM output_ports o WHERE o.product_id = p.id),
       (SELECT coalesce(json_agg(json_build_object('port', e.port_name, 'source', e.source_address)
                                 ORDER BY e.port_name), '[]')
          FROM input_edges e WHERE e.product_id = p.id),
       (SELECT coalesce(json_agg(DISTINCT c.address ORDER BY c.address), '[]')
          FROM input_edges e JOIN products c ON c.id = e.product_id
         WHERE e.source_address = p.address),
       (SELECT coalesce(json_agg(json_build_object(
                 'version', v.version, 'status', v.status, 'content_hash', v.content_hash,
                 'tags', v.tags, 'published_at', v.published_at)
               ORDER BY v.published_at, v.id), '[]')
          FROM product_versions v WHERE v.product_id = p.id),
       r.last_run_id, r.last_state, r.last_event_at, r.last_success_at,
       k.run_id, k.job, k.checked_at, k.assertions, k.skipped
  FROM products p
  JOIN domains d ON d.id = p.domain_id
  LEFT JOIN product_runs r ON r.product_id = p.id
  LEFT JOIN product_checks k ON k.product_id = p.id
 WHERE p.address = $1
"""


def _product_row(session: Session, address: str) -> Sequence[Any] | None:
    """The product page's row, through the connection's prepared statement (prepared on
    the connection's first use; it lives as long as the database session)."""
    conn = session.connection()
    if not conn.info.get(_PRODUCT_NAME):
        conn.exec_driver_sql(f"PREPARE {_PRODUCT_NAME}(text) AS {_PRODUCT}")
        conn.info[_PRODUCT_NAME] = True
    return conn.exec_driver_sql(f"EXECUTE {_PRODUCT_NAME}(%(a)s)", {"a": address}).first()


def product(session: Session, ref: str) -> ProductOut | None:
    """Everything registered on one product line, or None when it is unknown."""
    row = _product_row(session, ref)
    if row is None:
        line = find_line(session, ref)
        if line is None:
            return None
        row = _product_row(session, line.address)
        if row is None:
            return None
    (
        address,
        domain,
        name,
        major,
        version,
        status,
        description,
        tags,
        team,
        contact,
        personal,
        slo,
        updated_at,
        ports,
        inputs,
        consumers,
        versions,
        run_id,
        state,
        event_at,
        success_at,
        check_run,
        check_job,
        checked_at,
        assertions,
        skipped,
    ) = row
    return ProductOut(
        address=address,
        domain=domain,
        name=name,
        major=major,
        version=version,
        status=status,
        description=description,
        tags=list(tags),
        owner=OwnerOut(team=team, contact=contact),
        has_personal_data=personal,
        slo=slo,
        ports=[PortOut.model_validate(p) for p in ports],
        inputs=[InputOut.model_validate(i) for i in inputs],
        consumers=consumers,
        versions=[VersionOut.model_validate(v) for v in versions],
        updated_at=updated_at,
        run_status=None if run_id is None else status_of(slo, run_id, state, event_at, success_at),
        last_checks=None
        if check_run is None
        else _last_checks(check_run, check_job, checked_at, assertions, skipped),
    )


def _last_checks(
    run_id: str, job: str, checked_at: datetime, assertions: list[dict[str, Any]], skipped: int
) -> LastChecks:
    checks = [CheckResult.model_validate(a) for a in assertions]
    return LastChecks(
        run_id=run_id,
        job=job,
        checked_at=checked_at,
        passed=sum(c.success is True for c in checks),
        failed=sum(c.success is False for c in checks),
        skipped=skipped,
        checks=checks,
    )


def search(
    session: Session,
    *,
    q: str | None = None,
    domain: str | None = None,
    status: str | None = None,
    personal: bool | None = None,
    tag: str | None = None,
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
    if tag is not None:  # tags @> ARRAY[tag]: the GIN index on tags
        conditions.append(Product.tags.contains([tag.lower()]))
    # The matches are ranked as narrow rows (id, address, rank) and only the page's rows
    # are joined to their columns: a common word matches about half of the catalog, and
    # carrying every match's description and tags through the sort cost three times the
    # ranking itself. The number of matches comes from the same scan, and its row is
    # there even for a page past the last match.
    keyed = [Product.id, Product.address]
    matched = (select(*keyed, rank.label("rank")) if rank is not None else select(*keyed)).join(
        Domain, Domain.id == Product.domain_id
    )
    matches = matched.where(*conditions).cte("matches")
    order = [matches.c.rank.desc(), matches.c.address] if rank is not None else [matches.c.address]
    top = select(matches).order_by(*order).limit(limit).offset(offset).subquery("top")
    page = (
        select(
            top.c.id.label("top_id"),
            Product.address,
            Domain.name.label("domain"),
            Product.name,
            Product.major,
            Product.version,
            Product.status,
            Product.description,
            Product.owner_team,
            Product.has_personal_data,
            Product.tags,
            (top.c.rank if rank is not None else literal(None)).label("rank"),
        )
        .join(Product, Product.id == top.c.id)
        .join(Domain, Domain.id == Product.domain_id)
        .subquery("page")
    )
    counted = select(func.count().label("total")).select_from(matches).subquery("counted")
    rows = session.execute(
        select(counted.c.total, page)
        .select_from(counted.outerjoin(page, true()))
        .order_by(page.c.rank.desc(), page.c.address)
    ).all()
    total = int(rows[0][0]) if rows else 0
    found = [r[2:] for r in rows if r[1] is not None]  # no page row: (total, None…)
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
            tags=list(cast(list[str], r[9])),
            rank=float(cast(float, r[10])) if rank is not None else None,
        )
        for r in found
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
