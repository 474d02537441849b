"""Publishing a domain's contracts, behind the compatibility gate, in one transaction.

For each contract the registry finds the version it succeeds: the newest version of the
same major line (``<domain>.<product>.v<major>``), or, for a major not registered yet, the
newest version of the product at all. It re-runs ``meshkit.contracts.diff`` between the
two and its version gate: a breaking change without a major bump is refused, naming the
breaking changes and the products that read the line through an input port. The same
version with the same content (content hash) is accepted again and changes nothing; the
same version with other content is refused. A new major registers beside the old line,
which stays as it is.

Nothing is written unless every contract of the request passes: the whole publish, with
its audit entries, is one transaction, and publishes of one domain are serialised by a
row lock on the domain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from meshkit.contracts import Contract, Problem, parse_contract
from meshkit.contracts.diff import Version, diff_contracts
from meshkit_platform.registry import audit
from meshkit_platform.registry.db import (
    Domain,
    InputEdge,
    OutputPort,
    PersonalField,
    Product,
    ProductVersion,
)
from meshkit_platform.registry.schemas import (
    ChangeOut,
    ConflictOut,
    ContractDocument,
    ProblemOut,
    PublishedOut,
    PublishRequest,
)


class ContractsInvalid(Exception):  # noqa: N818 - named for what the caller sees
    """Contracts that do not parse or validate, or do not belong to the domain."""

    def __init__(self, problems: list[ProblemOut]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the published contracts")
        self.problems = problems


class PublishRefused(Exception):  # noqa: N818
    """The gate refused at least one contract; nothing was written."""

    def __init__(self, conflicts: list[ConflictOut]) -> None:
        super().__init__(f"{len(conflicts)} contract(s) refused by the compatibility gate")
        self.conflicts = conflicts


@dataclass
class _Parsed:
    doc: ContractDocument
    contract: Contract
    content_hash: str


@dataclass
class _Plan:
    parsed: _Parsed
    line: Product | None
    outcome: Literal["published", "unchanged"] = "published"
    conflicts: list[ConflictOut] = field(default_factory=list)


def content_hash(contract: Contract) -> str:
    """SHA-256 of the contract's canonical JSON (comments and key order do not count).

    A contract without tags hashes without the key, as before contracts had tags, so the
    versions registered then are still the same content."""
    data = contract.model_dump(mode="json")
    if not data["tags"]:
        del data["tags"]
    body = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _problem(p: Problem) -> ProblemOut:
    return ProblemOut(
        file=p.file,
        line=p.line,
        column=p.column,
        field=p.path,
        message=p.message,
        expected=p.expected,
        hint=p.hint,
    )


def parse_all(domain: str, docs: Sequence[ContractDocument]) -> list[_Parsed]:
    """Every contract parsed and checked to belong to ``domain``; ``ContractsInvalid`` lists
    every problem otherwise."""
    problems: list[ProblemOut] = []
    parsed: list[_Parsed] = []
    seen: dict[str, str] = {}
    for doc in docs:
        contract, found = parse_contract(doc.text, doc.file)
        problems += [_problem(p) for p in found if p.severity == "error"]
        if contract is None:
            continue
        if contract.domain != domain:
            problems.append(
                ProblemOut(
                    file=doc.file,
                    line=0,
                    column=0,
                    field="domain",
                    message=f"the contract belongs to domain {contract.domain!r}, "
                    f"but it is published as domain {domain!r}",
                    expected=domain,
                )
            )
            continue
        if contract.address in seen:
            problems.append(
                ProblemOut(
                    file=doc.file,
                    line=0,
                    column=0,
                    field="name",
                    message=f"{contract.address} is also published by {seen[contract.address]}",
                    hint="publish one contract per product and major version",
                )
            )
            continue
        seen[contract.address] = doc.file
        parsed.append(_Parsed(doc, contract, content_hash(contract)))
    if problems:
        raise ContractsInvalid(problems)
    return parsed


def consumers_of(session: Session, address: str) -> list[str]:
    """The product lines reading ``address`` through an input port, sorted."""
    rows = session.scalars(
        select(Product.address)
        .join(InputEdge, InputEdge.product_id == Product.id)
        .where(InputEdge.source_address == address)
        .distinct()
    )
    return sorted(rows)


def _lock_domain(session: Session, name: str, request: PublishRequest, now: datetime) -> Domain:
    values: dict[str, object] = {"name": name, "updated_at": now}
    updates: dict[str, object] = {}
    for key in ("owners", "repository", "template_version", "sdk_version"):
        value = getattr(request, key)
        if value is not None:
            values[key] = value
            updates[key] = value
    stmt = insert(Domain).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=[Domain.name])
    session.execute(stmt)
    domain = session.scalars(select(Domain).where(Domain.name == name).with_for_update()).one()
    for key, value in updates.items():
        setattr(domain, key, value)
    return domain


def _predecessor(
    session: Session, domain: Domain, contract: Contract
) -> tuple[Product | None, ProductVersion | None, ProductVersion | None]:
    """The line of the contract's major (if registered), the version with the contract's
    version string (if any), and the version it must succeed (if any)."""
    lines = session.scalars(
        select(Product).where(Product.domain_id == domain.id, Product.name == contract.name)
    ).all()
    if not lines:
        return None, None, None
    versions = session.execute(
        select(ProductVersion, Product.major)
        .join(Product, Product.id == ProductVersion.product_id)
        .where(Product.id.in_([line.id for line in lines]))
    ).all()
    line = next((x for x in lines if x.major == contract.major), None)
    same = next(
        (v for v, major in versions if major == contract.major and v.version == contract.version),
        None,
    )
    in_line = [v for v, major in versions if major == contract.major]
    pool = in_line or [v for v, _ in versions]
    latest = max(pool, key=lambda v: Version.parse(v.version)) if pool else None
    return line, same, latest


def _gate(
    session: Session, parsed: _Parsed, latest: ProductVersion, old_address: str
) -> ConflictOut | None:
    old, problems = parse_contract(latest.contract_text, f"registered {latest.version}")
    if old is None:  # cannot happen for text the registry accepted; refuse rather than guess
        return ConflictOut(
            address=parsed.contract.address,
            version=parsed.contract.version,
            registered_version=latest.version,
            reason=f"the registered version does not parse any more ({len(problems)} problems)",
        )
    report = diff_contracts(old, parsed.contract)
    gate = report.gate
    if gate.passed:
        return None
    return ConflictOut(
        address=parsed.contract.address,
        version=parsed.contract.version,
        registered_version=latest.version,
        reason=gate.reason,
        suggested_version=gate.suggested_version,
        breaking_changes=[ChangeOut(**c.as_dict()) for c in report.breaking],
        consumers=consumers_of(session, old_address) if report.breaking else [],
    )


def _write(session: Session, domain: Domain, plan: _Plan, now: datetime) -> Product:
    c = plan.parsed.contract
    personal = [(p, f) for p, f in c.field_index.items() if f.pii is not None]
    values = {
        "version": c.version,
        "status": c.status,
        "description": c.description,
        "owner_team": c.owner.team,
        "owner_contact": c.owner.contact,
        # tags weigh as much as the owner team: a tag word finds the product first
        "keywords": " ".join([c.domain, c.name, c.name.replace("_", " "), c.owner.team, *c.tags]),
        "tags": list(c.tags),
        "field_names": " ".join(
            p.replace(".", " ").replace("_", " ") + " " + p for p in c.field_index
        ),
        "has_personal_data": any(
            f.transform is None or f.transform.kind != "drop" for _, f in personal
        ),
        "content_hash": plan.parsed.content_hash,
        "slo": c.slo.model_dump(mode="json", exclude_none=True) if c.slo else None,
        "updated_at": now,
    }
    line = plan.line
    if line is None:
        line = Product(domain_id=domain.id, name=c.name, major=c.major, address=c.address, **values)
        session.add(line)
        session.flush()
    else:
        for key, value in values.items():
            setattr(line, key, value)
        session.execute(delete(OutputPort).where(OutputPort.product_id == line.id))
        session.execute(delete(InputEdge).where(InputEdge.product_id == line.id))
    session.add(
        ProductVersion(
            product_id=line.id,
            version=c.version,
            status=c.status,
            content_hash=plan.parsed.content_hash,
            contract_text=plan.parsed.doc.text,
            tags=list(c.tags),
            published_at=now,
        )
    )
    for out in c.ports.outputs:
        port = OutputPort(
            product_id=line.id, kind=out.kind, address=out.name_in(c), description=out.description
        )
        session.add(port)
        session.flush()
        session.add_all(
            PersonalField(
                port_id=port.id,
                path=path,
                pii=f.pii,
                classification=f.classification,
                transform=f.transform.kind if f.transform else None,
            )
            for path, f in personal
        )
    for inp in c.ports.inputs:
        if inp.kind == "product":
            session.add(
                InputEdge(product_id=line.id, port_name=inp.port_name, source_address=inp.address)
            )
    return line


def publish(
    session: Session, domain_name: str, request: PublishRequest, *, actor: str
) -> list[PublishedOut]:
    """Register a domain's contracts (in the caller's transaction, which the caller commits).

    Raises ``ContractsInvalid`` (422) or ``PublishRefused`` (409); then nothing is written.
    """
    parsed = parse_all(domain_name, request.contracts)
    now = datetime.now(UTC)
    domain = _lock_domain(session, domain_name, request, now)
    plans: list[_Plan] = []
    conflicts: list[ConflictOut] = []
    for item in parsed:
        c = item.contract
        line, same, latest = _predecessor(session, domain, c)
        plan = _Plan(item, line)
        if same is not None:
            if same.content_hash == item.content_hash:
                plan.outcome = "unchanged"
            else:
                conflicts.append(
                    ConflictOut(
                        address=c.address,
                        version=c.version,
                        registered_version=same.version,
                        reason=f"version {c.version} is already registered with other content; "
                        "publish the change under a new version",
                    )
                )
        elif latest is not None:
            old_address = (
                line.address
                if line is not None
                else f"{c.domain}.{c.name}.v" + str(Version.parse(latest.version).major)
            )
            conflict = _gate(session, item, latest, old_address)
            if conflict is not None:
                conflicts.append(conflict)
        plans.append(plan)
    if conflicts:
        raise PublishRefused(conflicts)
    results: list[PublishedOut] = []
    for plan in plans:
        c = plan.parsed.contract
        if plan.outcome == "published":
            _write(session, domain, plan, now)
            audit.append(
                session,
                actor=actor,
                action="product.publish",
                subject=c.address,
                detail={"version": c.version, "content_hash": plan.parsed.content_hash},
            )
        results.append(
            PublishedOut(
                address=c.address,
                version=c.version,
                outcome=plan.outcome,
                content_hash=plan.parsed.content_hash,
            )
        )
    if request.owners is not None or request.repository is not None:
        audit.append(
            session,
            actor=actor,
            action="domain.update",
            subject=f"domain:{domain_name}",
            detail={
                "owners": request.owners,
                "repository": request.repository,
                "template_version": request.template_version,
                "sdk_version": request.sdk_version,
            },
        )
    return results
