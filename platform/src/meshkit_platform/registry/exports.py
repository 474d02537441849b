"""Standards out: a product line's ODCS document per output port and its ODPS product
document, and the whole catalog as Backstage ``catalog-info.yaml`` entities.

- ``odcs(session, line, kind)``: the SDK's ODCS v3.1.0 export of the line's current
  contract (``meshkit.contracts.odcs.to_odcs``: the published schema, after privacy
  transforms, and the contract's tags) with one ``servers`` entry, the port: a ``kafka``
  topic, a ``bigquery`` dataset and table, a ``postgres`` serving view or a ``custom``
  search index, named by the port's address (the same in every environment).
- ``odps(session, line)``: the line as an ODPS v1.0.0 data product: its tags (the
  contract's, and ``personal-data`` when it holds personal data), input ports (the lines
  read, by contract id and registered version), output ports (by kind, with the contract
  id ``<domain>.<product>`` the ODCS documents carry), owner and support channel.
- ``backstage(session)``: for Backstage users, a ``Domain`` per domain, a ``System`` per
  product line (tagged ``data-product``, the contract's tags and ``personal-data``) and an
  ``API`` (type ``odcs``, its definition the port's ODCS document) per output port, as
  one multi-document YAML text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshkit.contracts import Contract, parse_contract
from meshkit.contracts.odcs import to_odcs
from meshkit_platform.registry.db import Domain, OutputPort, Product, ProductVersion

_LIFECYCLE = {"active": "production", "draft": "experimental"}


def _contract(session: Session, line: Product) -> Contract:
    text = session.scalars(
        select(ProductVersion.contract_text).where(
            ProductVersion.product_id == line.id, ProductVersion.version == line.version
        )
    ).one()
    contract, problems = parse_contract(text, line.address)
    if contract is None:  # the registry accepted it, so it parses
        raise ValueError(f"{line.address}: the registered contract does not parse: {problems}")
    return contract


def _tags(tags: Sequence[str], *, personal: bool) -> list[str]:
    """The contract's tags, then ``personal-data`` when the line holds personal data (each
    tag once)."""
    return list(dict.fromkeys([*tags, *(["personal-data"] if personal else [])]))


def _server(port: OutputPort) -> dict[str, Any]:
    if port.kind == "kafka_topic":
        return {"server": port.kind, "type": "kafka", "topic": port.address}
    if port.kind == "warehouse_table":
        dataset, _, table = port.address.partition(".")
        return {"server": port.kind, "type": "bigquery", "dataset": dataset, "table": table}
    if port.kind == "serving_view":
        return {"server": port.kind, "type": "postgres", "table": port.address}
    return {
        "server": port.kind,
        "type": "custom",
        "customProperties": [{"property": "index", "value": port.address}],
    }


def odcs(session: Session, line: Product, kind: str) -> dict[str, Any] | None:
    """The ODCS document of one output port of the line, or None without such a port."""
    port = session.scalars(
        select(OutputPort).where(OutputPort.product_id == line.id, OutputPort.kind == kind)
    ).first()
    if port is None:
        return None
    doc = to_odcs(_contract(session, line))
    doc["servers"] = [_server(port)]
    return doc


def odps(session: Session, line: Product) -> dict[str, Any]:
    """The line as an ODPS v1.0.0 (Bitol Open Data Product Standard) document."""
    c = _contract(session, line)
    sources = [p for p in c.ports.inputs if p.kind == "product"]
    registered: dict[str, str] = {
        r[0]: r[1]
        for r in session.execute(
            select(Product.address, Product.version).where(
                Product.address.in_([p.address for p in sources])
            )
        )
    }
    ports = session.scalars(
        select(OutputPort).where(OutputPort.product_id == line.id).order_by(OutputPort.kind)
    ).all()
    doc: dict[str, Any] = {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": line.address,
        "name": c.name,
        "version": c.version,
        "status": c.status,
        "domain": c.domain,
    }
    if c.description:
        doc["description"] = {"purpose": c.description}
    doc["tags"] = _tags(c.tags, personal=line.has_personal_data)
    doc["inputPorts"] = [
        {
            "name": p.port_name,
            "version": registered.get(p.address, f"{p.major}.0.0"),
            "contractId": p.product,
        }
        for p in sources
    ]
    doc["outputPorts"] = [
        {
            "name": port.kind,
            "description": port.description or port.address,
            "type": port.kind,
            "version": c.version,
            "contractId": c.id,
        }
        for port in ports
    ]
    doc["team"] = [{"username": c.owner.contact, "name": c.owner.team, "role": "owner"}]
    if "@" in c.owner.contact and ":" not in c.owner.contact:
        doc["support"] = [
            {"channel": c.owner.team, "url": f"mailto:{c.owner.contact}", "tool": "email"}
        ]
    return doc


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def backstage(session: Session) -> str:
    """Every domain, product line and output port as Backstage entities (YAML documents)."""
    docs: list[dict[str, Any]] = []
    for domain in session.scalars(select(Domain).order_by(Domain.name)):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Domain",
                "metadata": {"name": domain.name},
                "spec": {"owner": domain.owners[0] if domain.owners else "unknown"},
            }
        )
        lines = session.scalars(
            select(Product).where(Product.domain_id == domain.id).order_by(Product.address)
        ).all()
        for line in lines:
            tags = _tags(["data-product", *line.tags], personal=line.has_personal_data)
            docs.append(
                {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "System",
                    "metadata": {
                        "name": line.address,
                        "description": line.description or "",
                        "tags": tags,
                        "annotations": {
                            "meshkit.io/address": line.address,
                            "meshkit.io/version": line.version,
                            "meshkit.io/status": line.status,
                        },
                    },
                    "spec": {"owner": line.owner_team, "domain": domain.name},
                }
            )
            ports = session.scalars(
                select(OutputPort).where(OutputPort.product_id == line.id).order_by(OutputPort.kind)
            ).all()
            for port in ports:
                definition = odcs(session, line, port.kind)
                docs.append(
                    {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "API",
                        "metadata": {
                            "name": f"{line.address}.{port.kind}",
                            "description": port.description or f"{port.kind} {port.address}",
                        },
                        "spec": {
                            "type": "odcs",
                            "lifecycle": _LIFECYCLE.get(line.status, "deprecated"),
                            "owner": line.owner_team,
                            "system": line.address,
                            "definition": _dump(definition),
                        },
                    }
                )
    return "".join("---\n" + _dump(d) for d in docs)
