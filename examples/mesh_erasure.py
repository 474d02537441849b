"""An erasure request filed at the registry and carried out by every domain holding the
subject, each with its own worker, then verified.

The customers domain files ``customer:<id>`` (the person asked there). The registry
works out which products hold the subject's data (from the contracts' subjects and the
lineage: the customer product, the orders and the view built from them, the
recommendations) and which do not (with the reason). Each of those domains runs its
erasure worker (``meshkit erasure work``): it crypto-shreds the subject's key, deletes
the subject's records by key in every output port, proves it port by port and reports
the counts; the registry judges each product ``verified`` or ``failed``. The demo then
reads the ports back on its own: the subject's rows are gone from the warehouse and the
serving views, and the recommendations service answers 404 for them.

Only counts and statuses are kept; no personal value leaves the ports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg2
from psycopg2 import sql

from examples.mesh_job import DOMAINS
from examples.recommendations_service import Recommendations
from meshkit.contracts.sql import duckdb_ref, quote_duckdb
from meshkit.erasure.ports import PortTargets
from meshkit.erasure.registry import RegistryClient
from meshkit.erasure.worker import ErasureWorker
from meshkit.privacy import LocalKeyStore

#: Workers run downstream first: the recommendations flow reads the orders topic, so when the
#: orders domain's tombstones for the subject reach it, it drops the list itself and the
#: recommendations worker would find nothing left to prove. Other domains follow by name.
ORDER = ("recommendations", "orders", "customers")

#: Where the demo reads the subject back: warehouse tables and serving views by subject field.
WAREHOUSE = {"customers.customer_v1": "customer_id", "orders.order_v1": "customer_id"}
VIEWS = ("orders.customer_orders.v1", "recommendations.recommendation.v1")


def read_back(
    subject: str, warehouse: Path, serving: str, recommendations: Recommendations
) -> dict[str, int]:
    """The subject's live records in each place, read directly (not through the worker)."""
    out: dict[str, int] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, column in WAREHOUSE.items():
            schema, name = table.split(".")
            where = f"WHERE {quote_duckdb(column)} = ?"
            query = f"SELECT count(*) FROM {duckdb_ref(schema, name)} {where}"
            (n,) = con.execute(query, [subject]).fetchone() or (0,)
            out[f"warehouse {table}"] = int(n)
    conn = psycopg2.connect(serving)
    try:
        with conn, conn.cursor() as cur:
            for view in VIEWS:
                cur.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE customer_id = %s").format(
                        sql.Identifier("public", view)
                    ),
                    (subject,),
                )
                row = cur.fetchone()
                out[f"serving view {view}"] = int(row[0]) if row else 0
    finally:
        conn.close()
    status, _ = recommendations.get(subject)
    out["GET /customers/<id>/recommendations (HTTP status)"] = status
    return out


def erase_customer(
    subject: str,
    registry: str,
    tokens: dict[str, str],
    targets: PortTargets,
    keys: Path,
    serving: str,
    recommendations: Recommendations,
) -> dict[str, Any]:
    """File the request, run each holding domain's worker, and verify; counts only."""
    if targets.warehouse is None:
        raise RuntimeError("the erasure needs the warehouse")
    before = read_back(subject, targets.warehouse, serving, recommendations)
    with httpx.Client(base_url=registry, timeout=30) as client:

        def call(method: str, path: str, token: str, body: Any = None) -> Any:
            answer = client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if answer.is_error:
                raise RuntimeError(f"registry {method} {path}: HTTP {answer.status_code}")
            return answer.json()

        filed = call(
            "POST", "/v1/erasures", tokens["customers"], {"subject": f"customer:{subject}"}
        )
        holders = {p["domain"] for p in filed["products"]}
        domains = sorted(holders, key=lambda d: (ORDER.index(d) if d in ORDER else len(ORDER), d))
        outcomes = []
        with LocalKeyStore.open(keys) as store:  # the demo's domains share one key store
            for domain in domains:
                worker = ErasureWorker(
                    domain, DOMAINS / domain / "contracts", store, targets,
                    RegistryClient(registry, tokens[domain]),
                )  # fmt: skip
                outcomes += [
                    {"domain": domain, "product": o.product, "status": o.status}
                    for o in worker.run_once()
                ]
        shown = call("GET", f"/v1/erasures/{filed['id']}", tokens["admin"])
    after = read_back(subject, targets.warehouse, serving, recommendations)
    return {
        "subject": subject,
        "request": shown["id"],
        "status": shown["status"],
        "domains": domains,
        "outcomes": outcomes,
        "products": [
            {
                "address": p["address"],
                "domain": p["domain"],
                "status": p["status"],
                "problem": p["problem"],
                "ports": (p["evidence"] or {}).get("ports", []),
            }
            for p in shown["products"]
        ],
        "excluded": shown["excluded"],
        "read_back": {"before": before, "after": after},
    }
