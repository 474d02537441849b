"""Who can read a product, through which ports, seeing which fields how.

``who_can_read(contract, grants)`` is the one answer: every reader group of the product
line, one row per port it reads, each with the fields it sees and how (the treatments of
``meshkit_platform.registry.access_preview``: in clear, tokenized, encrypted, generalized,
masked, redacted; dropped fields never reach a reader and are not listed). A group comes
from the contract's ``access.readers`` (every output port, every published field) or from
an active access grant (its port, its granted fields; struct members with their field).
Revoked and expired grants read nothing and are left out. The role is the one
provisioning manages for the group (``meshkit_reader_<group>``); whether a grant's
permission is in place yet is its ``applied`` state.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshkit.contracts import Contract
from meshkit_platform.registry.access_models import GrantOut, ReaderOut, ReadersOut, SeenField
from meshkit_platform.registry.access_preview import field_rows, port_address, reader_role


def _seen(contract: Contract, chosen: set[str] | None) -> list[SeenField]:
    return [
        SeenField(path=f.path, treatment=f.treatment, detail=f.detail)
        for f in field_rows(contract, chosen)
        if f.requested
    ]


def who_can_read(contract: Contract, grants: Sequence[GrantOut]) -> ReadersOut:
    """Every reader of the product's current version (see the module docstring), the
    contract's groups first, then the grants by group and port."""
    kinds = [p.kind for p in contract.ports.outputs]
    out: list[ReaderOut] = []
    every = _seen(contract, None)
    for group in sorted(contract.access.readers):
        out.extend(
            ReaderOut(group=group, role=reader_role(group), source="contract", grant_id=None,
                      port_kind=k, port_address=port_address(contract, k), fields=every,
                      expires_at=None, applied=None)
            for k in kinds
        )  # fmt: skip
    for g in sorted(grants, key=lambda g: (g.grantee, g.port_kind, g.id)):
        if not g.active or g.address != contract.address or g.port_kind not in kinds:
            continue
        out.append(
            ReaderOut(group=g.grantee, role=g.role, source="grant", grant_id=g.id,
                      port_kind=g.port_kind, port_address=port_address(contract, g.port_kind),
                      fields=_seen(contract, set(g.columns) or None),
                      expires_at=g.expires_at, applied=g.applied)
        )  # fmt: skip
    return ReadersOut(address=contract.address, version=contract.version, readers=out)
