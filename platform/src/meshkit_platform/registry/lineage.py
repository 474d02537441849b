"""The product graph across domains, walked to a depth: declared input ports and the
lineage observed in OpenLineage runs are its edges.

``lineage(session, address, depth, direction)`` walks breadth-first, one query per level
and direction: upstream follows a line's input ports to the addresses it reads,
downstream the lines whose input ports read it. Sources that are not registered appear
as nodes with ``registered: false``.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from meshkit_platform.registry.schemas import LineageOut

Direction = Literal["upstream", "downstream", "both"]
MAX_DEPTH = 10
MAX_NODES = 500


Edge = tuple[str, str, Literal["declared", "observed"], str]  # source, target, kind, via


# One query per level and direction: declared and observed edges touching the frontier,
# the frontier passed as one array parameter (a list of hundreds of addresses as an
# ``IN (…)`` list costs more to compile and plan than to run). ``{within}`` narrows the
# far end to the nodes already kept once the node limit is reached.
_UPSTREAM = """
SELECT e.source_address, p.address, 'declared', e.port_name
  FROM products p JOIN input_edges e ON e.product_id = p.id
 WHERE p.address = ANY(:frontier) {within_declared}
UNION ALL
SELECT o.source_address, p.address, 'observed', o.job
  FROM products p JOIN observed_edges o ON o.product_id = p.id
 WHERE p.address = ANY(:frontier) {within_observed}
"""
_DOWNSTREAM = """
SELECT e.source_address, p.address, 'declared', e.port_name
  FROM input_edges e JOIN products p ON p.id = e.product_id
 WHERE e.source_address = ANY(:frontier) {within_declared}
UNION ALL
SELECT o.source_address, p.address, 'observed', o.job
  FROM observed_edges o JOIN products p ON p.id = o.product_id
 WHERE o.source_address = ANY(:frontier) {within_observed}
"""
_STEPS = {
    (upstream, within): text(
        (_UPSTREAM if upstream else _DOWNSTREAM).format(
            within_declared=(
                (
                    "AND e.source_address = ANY(:within)"
                    if upstream
                    else "AND p.address = ANY(:within)"
                )
                if within
                else ""
            ),
            within_observed=(
                (
                    "AND o.source_address = ANY(:within)"
                    if upstream
                    else "AND p.address = ANY(:within)"
                )
                if within
                else ""
            ),
        )
    )
    for upstream in (True, False)
    for within in (True, False)
}
_STATUS = text("SELECT address, status FROM products WHERE address = ANY(:addresses)")


def _step(
    session: Session, frontier: set[str], upstream: bool, within: set[str] | None = None
) -> list[Edge]:
    """Edges touching the frontier in one direction, declared and observed; with
    ``within``, only those whose other end is one of these addresses."""
    params: dict[str, list[str]] = {"frontier": list(frontier)}
    if within is not None:
        params["within"] = list(within)
    rows = session.execute(_STEPS[upstream, within is not None], params).all()
    return [cast(Edge, tuple(r)) for r in rows]


def lineage_document(
    session: Session, root: str, depth: int, direction: Direction, max_nodes: int = MAX_NODES
) -> dict[str, Any]:
    """The graph around ``root`` (a registered line's address) up to ``depth`` edges away,
    as the JSON-ready document of :class:`LineageOut`.

    At most ``max_nodes`` nodes: a level that would pass the limit is cut (nodes nearest
    in address order kept) and the answer says ``truncated``; edges are those between
    the nodes returned. Once the graph is cut, a level asks only for the edges between
    nodes already kept."""
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
            # Once cut, only edges between kept nodes can still be part of the answer.
            cut = truncated and len(seen) >= max_nodes
            found = _step(session, frontier, upstream, set(seen) if cut else None)
            edges.update(found)
            nxt = sorted({e[0] if upstream else e[1] for e in found} - seen.keys())
            room = max_nodes - len(seen)
            if len(nxt) > room:
                nxt, truncated = nxt[:room], True
            frontier = set(nxt)
            for a in frontier:
                seen[a] = level
    rows = session.execute(_STATUS, {"addresses": list(seen)}).all()
    status: dict[str, str] = {r[0]: r[1] for r in rows}
    return {
        "root": root,
        "direction": direction,
        "depth": depth,
        "truncated": truncated,
        "nodes": [
            {"address": a, "registered": a in status, "status": status.get(a), "depth": d}
            for a, d in sorted(seen.items(), key=lambda x: (x[1], x[0]))
        ],
        "edges": [
            {"source": s, "target": t, "kind": k, "via": v}
            for s, t, k, v in sorted(edges)
            if s in seen and t in seen
        ],
    }


def lineage(
    session: Session, root: str, depth: int, direction: Direction, max_nodes: int = MAX_NODES
) -> LineageOut:
    """:func:`lineage_document` as a :class:`LineageOut`."""
    return LineageOut.model_validate(lineage_document(session, root, depth, direction, max_nodes))
