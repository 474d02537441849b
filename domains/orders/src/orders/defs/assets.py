"""Batch data products of the Orders domain, each bound to its contract.

The contract gives each asset its key, metadata, checks and warehouse table; a function
returns the product's rows *before* the privacy transforms and meshkit validates, masks
and writes them. Parameters named like the contract's input ports receive those ports'
tables (here this domain's order product and the customers domain's customer product).
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from meshkit.batch import product_asset

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


@product_asset(CONTRACTS / "order_daily.yaml")
def order_daily(orders: pa.Table, customers: pa.Table) -> pa.Table:
    """Orders and revenue per day, buyer's country and tier (cancelled orders left out)."""
    kept = orders.filter(pc.field("status") != "cancelled")
    buyers = customers.select(["customer_id", "country", "tier"])
    joined = kept.select(["customer_id", "total", "placed_at"]).join(
        buyers, keys="customer_id", join_type="left outer"
    )
    facts = pa.table(
        {
            "day": pc.cast(joined["placed_at"], pa.date32()),
            "country": pc.fill_null(joined["country"], "ZZ"),
            "tier": pc.fill_null(joined["tier"], "unknown"),
            "total": joined["total"],
        }
    )
    counted = facts.group_by(["day", "country", "tier"]).aggregate(
        [([], "count_all"), ("total", "sum")]
    )
    return pa.table(
        {
            "day": counted["day"],
            "country": counted["country"],
            "tier": counted["tier"],
            "orders": counted["count_all"],
            "revenue": pc.cast(counted["total_sum"], pa.decimal128(14, 2)),
        }
    ).sort_by([("day", "ascending"), ("country", "ascending"), ("tier", "ascending")])
