"""The customers domain end to end on the embedded stack: the CRM's table in PostgreSQL,
CDC into Kafka, the flow, and the product in its three ports (topic, warehouse, search).
"""

import threading
import time

import duckdb
import meshkit.streaming as ms
import psycopg2
from bytewax.testing import run_main
from meshkit.cdc import Capture, build_config
from meshkit.cdc.sources import load_sources

from customers import service
from customers.flow import CONTRACT, build

PEOPLE = 300


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


def test_crm_changes_reach_every_port_masked(
    postgres_database, kafka_broker, search_server, tmp_path, local_keys
):
    service.seed(postgres_database, PEOPLE)
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers WHERE status <> 'test'")
        (real,) = cur.fetchone()
    conn.close()
    capture(postgres_database, kafka_broker, tmp_path / "cdc", PEOPLE)

    warehouse = tmp_path / "warehouse.duckdb"
    settings = ms.StreamingSettings(
        brokers=kafka_broker, warehouse=warehouse, search_url=search_server.url,
        keystore_dir=local_keys, stats_dir=tmp_path / "stats", tail=False,
    )  # fmt: skip
    run_main(build(settings))

    counts = ms.read_stats(tmp_path / "stats")["counts"]
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    assert counts["dead_letters"] == 0, counts
    assert counts["written"] == real
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT email, full_name, birth_date FROM customers.customer_v1"
        ).fetchall()
    assert len(rows) == real
    assert all(email.startswith("tok:") and "@" not in email for email, _, _ in rows)
    assert all(name is None or " " not in name for _, name, _ in rows)
    assert all(born is None or (born.month, born.day) == (1, 1) for _, _, born in rows)
    search = search_server.client()
    search.indices.refresh(index="customers.customer.v1")
    assert search.count(index="customers.customer.v1")["count"] == real
