"""Batch data products of the Orders domain, each bound to its contract.

The contract gives each asset its key, metadata, checks and warehouse table; a function
returns the product's rows *before* the privacy transforms and meshkit validates, masks
and writes them.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from meshkit.batch import product_asset

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


@product_asset(CONTRACTS / "order_daily.yaml")
def order_daily(orders: pa.Table) -> pa.Table:
    """New orders per day and country, from the streamed product."""
    days = pc.cast(orders["signed_up_at"], pa.date32())
    counted = (
        pa.table({"day": days, "country": orders["country"]})
        .group_by(["day", "country"])
        .aggregate([([], "count_all")])
    )
    return pa.table(
        {
            "day": counted["day"],
            "country": counted["country"],
            "signups": counted["count_all"],
        }
    )
