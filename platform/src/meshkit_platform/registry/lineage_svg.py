"""The lineage picture: a product graph (``lineage.lineage``) drawn as SVG on the server.

Columns are levels: the root in the middle, what it reads to the left (one column per
edge upstream), what reads it to the right. Within a column, nodes sort by domain, then
address; each domain has its own colour, so a cross-domain edge is easy to see. Declared
edges (input ports) are solid, edges observed only in runs dashed. Registered nodes link
to their product page. Every text is XML-escaped; nothing but addresses, domains and
states is drawn.
"""

from __future__ import annotations

import hashlib
from html import escape
from urllib.parse import quote

from meshkit_platform.registry.schemas import LineageOut

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 230, 46, 70, 18, 12
PALETTE = ("#dbeafe", "#dcfce7", "#fef3c7", "#fce7f3", "#e0e7ff", "#ccfbf1", "#fee2e2", "#ede9fe")


def _colour(domain: str) -> str:
    return PALETTE[int(hashlib.sha256(domain.encode()).hexdigest(), 16) % len(PALETTE)]


def _levels(graph: LineageOut) -> dict[str, int]:
    """Signed level per node: 0 the root, negative upstream, positive downstream."""
    level = {graph.root: 0}
    frontier = [graph.root]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for e in graph.edges:
                if e.source == node and e.target not in level:
                    level[e.target] = level[node] + 1
                    nxt.append(e.target)
                elif e.target == node and e.source not in level:
                    level[e.source] = level[node] - 1
                    nxt.append(e.source)
        frontier = nxt
    for n in graph.nodes:
        level.setdefault(n.address, n.depth)
    return level


def render(graph: LineageOut, link: str = "/ui/products/") -> str:
    """The graph as one ``<svg>`` element (sized to fit, scaled down by CSS on narrow
    screens)."""
    level = _levels(graph)
    status = {n.address: (n.registered, n.status) for n in graph.nodes}
    low = min(level.values())
    columns: dict[int, list[str]] = {}
    for address in sorted(level, key=lambda a: (a.split(".", 1)[0], a)):
        columns.setdefault(level[address] - low, []).append(address)
    pos: dict[str, tuple[int, int]] = {}
    for col, addresses in columns.items():
        for row, address in enumerate(addresses):
            pos[address] = (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + len(columns) * BOX_W + max(0, len(columns) - 1) * GAP_X
    height = PAD * 2 + max(len(c) for c in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>Lineage of {escape(graph.root)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker>'
        "</defs>",
    ]
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        (sx, sy), (tx, ty) = pos[e.source], pos[e.target]
        x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H // 2, tx, ty + BOX_H // 2
        mid = (x1 + x2) // 2
        dash = ' stroke-dasharray="5 4"' if e.kind == "observed" else ""
        parts.append(
            f'<path class="edge edge-{e.kind}" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" '
            f'fill="none" stroke="#475569" stroke-width="1.5"{dash} marker-end="url(#arrow)">'
            f"<title>{escape(e.source)} → {escape(e.target)} ({e.kind}: {escape(e.via)})</title>"
            "</path>"
        )
    for address, (x, y) in pos.items():
        registered, state = status.get(address, (False, None))
        domain = address.split(".", 1)[0]
        root = " root" if address == graph.root else ""
        box = (
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{_colour(domain) if registered else "#f1f5f9"}" '
            f'stroke="{"#0f172a" if root else "#94a3b8"}" stroke-width="{2 if root else 1}"/>'
            f'<text x="{x + 8}" y="{y + 19}" font-size="13" font-weight="600">'
            f"{escape(_short(address))}</text>"
            f'<text x="{x + 8}" y="{y + 36}" font-size="11" fill="#475569">'
            f"{escape(domain)} · {escape(state or 'not registered')}</text>"
        )
        if registered:
            box = f'<a href="{link}{quote(address)}">{box}</a>'
        parts.append(f'<g class="node{root}" data-address="{escape(address)}">{box}</g>')
    parts.append("</svg>")
    return "".join(parts)


def _short(address: str, limit: int = 30) -> str:
    return address if len(address) <= limit else address[: limit - 1] + "…"
