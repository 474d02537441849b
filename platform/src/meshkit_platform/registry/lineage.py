"""The product graph across domains, walked to a depth: declared input ports and the
lineage observed in OpenLineage runs are its edges.

``lineage(session, address, depth, direction)`` walks breadth-first, one query per level
and direction: upstream follows a line's input ports to the addresses it reads,
downstream the lines whose input ports read it. Sources that are not registered appear
as nodes with ``registered: false``.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshkit_platform.registry.db import InputEdge, ObservedEdge, Product
from meshkit_platform.registry.schemas import LineageEdge, LineageNode, LineageOut

Direction = Literal["upstream", "downstream", "both"]
MAX_DEPTH = 10
MAX_NODES = 500


Edge = tuple[str, str, Literal["declared", "observed"], str]  # source, target, kind, via


def _step(session: Session, frontier: set[str], upstream: bool) -> list[Edge]:
    """Edges touching the frontier in one direction, declared and observed."""
    declared = select(InputEdge.source_address, Product.address, InputEdge.port_name).join(
        Product, Product.id == InputEdge.product_id
    )
    declared = declared.where(
        Product.address.in_(frontier) if upstream else InputEdge.source_address.in_(frontier)
    )
    observed = select(ObservedEdge.source_address, Product.address, ObservedEdge.job).join(
        Product, Product.id == ObservedEdge.product_id
    )
    observed = observed.where(
        Product.address.in_(frontier) if upstream else ObservedEdge.source_address.in_(frontier)
    )
    found: list[Edge] = [(r[0], r[1], "declared", r[2]) for r in session.execute(declared)]
    found += [(r[0], r[1], "observed", r[2]) for r in session.execute(observed)]
    return found


def lineage(
    session: Session, root: str, depth: int, direction: Direction, max_nodes: int = MAX_NODES
) -> LineageOut:
    """The graph around ``root`` (a registered line's address) up to ``depth`` edges away.

    At most ``max_nodes`` nodes: a level that would pass the limit is cut (nodes nearest
    in address order kept) and the answer says ``truncated``; edges are those between
    the nodes returned."""
    seen: dict[str, int] = {root: 0}
    edges: set[Edge] = set()
    truncated = False
    for upstream in (True, False):
        if direction == ("downstream" if upstream else "upstream"):
            continue
        frontier = {root}
        for level in range(1, depth + 1):
            if not frontier:
                break
            found = _step(session, frontier, upstream)
            edges.update(found)
            nxt = sorted({e[0] if upstream else e[1] for e in found} - seen.keys())
            room = max_nodes - len(seen)
            if len(nxt) > room:
                nxt, truncated = nxt[:room], True
            frontier = set(nxt)
            for a in frontier:
                seen[a] = level
    rows = session.execute(
        select(Product.address, Product.status).where(Product.address.in_(seen))
    ).all()
    status = {r[0]: r[1] for r in rows}
    nodes = [
        LineageNode(address=a, registered=a in status, status=status.get(a), depth=d)
        for a, d in sorted(seen.items(), key=lambda x: (x[1], x[0]))
    ]
    return LineageOut(
        root=root,
        direction=direction,
        depth=depth,
        truncated=truncated,
        nodes=nodes,
        edges=[
            LineageEdge(source=s, target=t, kind=k, via=v)
            for s, t, k, v in sorted(edges)
            if s in seen and t in seen
        ],
    )
