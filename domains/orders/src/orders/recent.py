"""The customer_orders serving view: each customer's most recent orders.

Plain functions over batches (no engine code): the order product's changes become
members of a per-customer top-N (keyed by customer and order, scored by when the order
was placed), and meshkit's ``TopN`` keeps the list with retractions. Deletes come from
the raw change events, whose ``before`` row (REPLICA IDENTITY FULL) still names the
customer; the product's own delete carries only the order id.
"""

from datetime import datetime
from typing import Any

import meshkit.streaming as ms

RECENT = 5


def members_from_products(batch: list[ms.ProductChange]) -> list[ms.ProductChange]:
    """Upserted orders as members of their customer's list (deletes: ``members_from_deletes``)."""
    out = []
    for change in batch:
        if change.op != "upsert" or change.record is None:
            continue
        r = change.record
        placed: datetime = r["placed_at"]
        member = {
            "customer_id": r["customer_id"],
            "order_id": r["order_id"],
            "status": r["status"],
            "placed_at": placed,
            "score": placed.timestamp(),
        }
        key = (r["customer_id"], r["order_id"])
        out.append(ms.ProductChange("upsert", key, member, change.position, change.source))
    return out


def members_from_deletes(batch: list[ms.ChangeRecord]) -> list[ms.ProductChange]:
    """Deleted orders, keyed by the customer and order their last row named."""
    out = []
    for record in batch:
        if record.op != "d" or not record.before:
            continue
        key = (str(record.before["customer_id"]), str(record.before["id"]))
        out.append(ms.ProductChange("delete", key, None, record.position, record.source))
    return out


def build(group: tuple[Any, ...], top: list[dict[str, Any]]) -> dict[str, Any]:
    """The view row of one customer from their top orders (newest first)."""
    return {
        "customer_id": group[0],
        "recent_order_ids": [r["order_id"] for r in top],
        "last_order_at": top[0]["placed_at"],
        "last_order_status": top[0]["status"],
    }


TOP = ms.TopN(
    key_fields=("customer_id", "order_id"),
    group_by=("customer_id",),
    score="score",
    n=RECENT,
    build=build,
)
