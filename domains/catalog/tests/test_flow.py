"""The catalog domain end to end on the embedded stack: the catalogue's table in
PostgreSQL, CDC into Kafka, the flow, and the product in its three ports; the search
index answers the shop's product search.
"""

import threading
import time

import duckdb
import meshkit.streaming as ms
import psycopg2
from bytewax.testing import run_main
from meshkit.cdc import Capture, build_config
from meshkit.cdc.sources import load_sources

from catalog import service
from catalog.flow import CONTRACT, build

ARTICLES = 400
INDEX = "catalog.product.v1"


def capture(dsn, brokers, state_dir, expected):
    """Run CDC until ``expected`` change events reached Kafka, then stop it cleanly."""
    sources = load_sources(CONTRACT.parent)
    config = build_config(
        dsn=dsn, tables=list(sources.tables), topic_prefix=sources.topic_prefix,
        slot=f"meshkit_{sources.domain}", publication=f"meshkit_{sources.domain}",
        bootstrap_servers=brokers, state_dir=state_dir,
    )  # fmt: skip
    cdc = Capture(config)
    stop = threading.Event()
    thread = threading.Thread(target=cdc.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while cdc.progress.events < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    thread.join(30)
    assert cdc.progress.events >= expected, cdc.progress
    return cdc.progress.events


def test_catalogue_reaches_every_port_and_search_finds_it(
    postgres_database, kafka_broker, search_server, tmp_path
):
    service.seed(postgres_database, ARTICLES)
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM products WHERE status <> 'draft'")
        (on_sale,) = cur.fetchone()
        cur.execute(
            "SELECT id::text FROM products WHERE status <> 'draft' AND category = 'outdoor'"
            " AND name ILIKE '%tent%'"
        )
        tents = {r[0] for r in cur.fetchall()}
    conn.close()
    assert 0 < on_sale < ARTICLES  # the drafts stay out of the product
    assert tents
    capture(postgres_database, kafka_broker, tmp_path / "cdc", ARTICLES)

    warehouse = tmp_path / "warehouse.duckdb"
    settings = ms.StreamingSettings(
        brokers=kafka_broker, warehouse=warehouse, search_url=search_server.url,
        stats_dir=tmp_path / "stats", tail=False,
    )  # fmt: skip
    run_main(build(settings))

    counts = ms.read_stats(tmp_path / "stats")["counts"]
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    assert counts["dead_letters"] == 0, counts
    assert counts["written"] == on_sale
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows, cheapest) = con.execute(
            "SELECT count(*), min(price) FROM catalog.product_v1"
        ).fetchone()
    assert rows == on_sale
    assert cheapest >= 0

    search = search_server.client()
    search.indices.refresh(index=INDEX)
    assert search.count(index=INDEX)["count"] == on_sale
    # the shop's search box: "tent" among outdoor articles finds exactly the tents
    hits = search.search(
        index=INDEX,
        query={"bool": {"must": {"match": {"name": "tent"}},
                        "filter": {"term": {"category": "outdoor"}}}},
        size=100,
    )["hits"]["hits"]  # fmt: skip
    assert {h["_source"]["product_id"] for h in hits} == tents
