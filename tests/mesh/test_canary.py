"""Canary personal data put into a service database never leaves it unmasked.

The customers and orders domains run as in production (capture and flow processes) with
every output port: product topics, dead-letter topics, warehouse tables, the search
index and the serving view. Two canary customers go into the CRM's database: one valid,
one the flow must refuse (its country breaks the contract), so the canary also meets the
dead-letter path. Then every place the mesh writes is scanned for the canaries' e-mail,
name and birth date: the bytes of every product and dead-letter message, every warehouse
table's rows, every search document, every serving-view row, and every byte of every
file the run leaves behind (logs, the warehouse file, key store, capture and flow state).

Only the service databases hold the canaries: the PostgreSQL data directory is not
scanned, and neither are the CDC topics, the domain's raw change stream (in the broker's
memory here; in production readable by the domain's own capture and flow only).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import psycopg2
import pytest
from confluent_kafka import Consumer, TopicPartition

from bench._mesh import (
    check_running,
    create_database,
    database_dsn,
    domains,
    start_part,
    stop_part,
    wait_until,
)
from meshkit.local import consumer_config, local_search_client
from meshkit.local.settings import LocalSettings
from meshkit.local.stack import LocalStack
from meshkit.privacy.keys import MASTER_KEY_ENV, write_master_key_file
from meshkit.streaming import dead_letter_topic

pytestmark = [pytest.mark.slow, pytest.mark.services]

CANARIES = [
    # (id, email, name, birth date, country): the second breaks the country rule
    (900001, "zq-canary-4471@canary.invalid", "Quillon Canarywick", "1961-07-23", "GB"),
    (900002, "zq-canary-8812@canary.invalid", "Vespera Canarytoft", "1972-11-09", "gb"),
]
NEEDLES = [n for _, email, name, born, _ in CANARIES for n in (email, name, born)]


def topic_bytes(brokers: str, topic: str) -> tuple[int, bytes]:
    """Every message of ``topic`` (key, value and headers) as one byte string, and the count."""
    consumer = Consumer(consumer_config(brokers, group_id=f"canary-{time.monotonic_ns()}"))
    out, count = bytearray(), 0
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return 0, b""
        parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
        high = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        done = {p for p, h in high.items() if h == 0}
        while len(done) < len(high):
            for m in consumer.consume(5000, 0.5):
                if m.error() is not None:
                    continue
                count += 1
                out += (m.key() or b"") + (m.value() or b"")
                for k, v in m.headers() or ():
                    out += k.encode() + (v or b"")
                if m.offset() + 1 >= high[m.partition()]:
                    done.add(m.partition())
        return count, bytes(out)
    finally:
        consumer.close()


def found_in(data: bytes) -> list[str]:
    return [n for n in NEEDLES if n.encode() in data]


def test_canaries_never_leave_the_service_database(tmp_path: Path) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv(MASTER_KEY_ENV, write_master_key_file(tmp_path / "master.key"))
    stack = LocalStack(LocalSettings(state_dir=tmp_path / "stack", index_port=0))
    mesh = domains(customers=200)
    customers = next(d for d in mesh if d.name == "customers")
    try:
        for name in ("kafka", "postgres", "search"):
            stack.service(name).start()
        endpoints = stack.endpoints
        assert endpoints.kafka
        assert endpoints.postgres
        assert endpoints.search
        create_database(endpoints.postgres, "serving")
        for d in mesh:
            create_database(endpoints.postgres, d.database)
            d.dsn = str(database_dsn(endpoints.postgres, d.database))
            d.seed(d.dsn, 200)
        with psycopg2.connect(customers.dsn) as conn, conn.cursor() as cur:
            for cid, email, name, born, country in CANARIES:
                cur.execute(
                    "INSERT INTO public.customers (id, email, name, birth_date, country, tier,"
                    " status, created_at) VALUES (%s, %s, %s, %s, %s, 'pro', 'active', now())",
                    (cid, email, name, born, country),
                )
        conn.close()
        for d in mesh:
            start_part(d, tmp_path, endpoints, "cdc")
            start_part(d, tmp_path, endpoints, "flow")

        def check() -> None:
            check_running(mesh, tmp_path)

        products = {d.contract.address: d for d in mesh}
        dead = dead_letter_topic(customers.contract)
        wait_until(
            lambda: all(topic_bytes(endpoints.kafka, t)[0] >= 150 for t in products)
            and topic_bytes(endpoints.kafka, dead)[0] >= 1,
            120, "the products and the canary's dead letter", check,
        )  # fmt: skip
        es = local_search_client(endpoints.search)
        wait_until(
            lambda: es.options(ignore_status=404).get(index=customers.contract.address,
                                                      id=str(CANARIES[0][0])).get("found"),
            60, "the canary's search document", check,
        )  # fmt: skip

        # The scanner finds the canaries where they are allowed: the raw CDC topic (which
        # carries dates as days since the epoch, so only the e-mails and names show).
        raw = topic_bytes(endpoints.kafka, customers.cdc_topics[0])[1]
        assert set(found_in(raw)) == {n for c in CANARIES for n in c[1:3]}
        leaks: dict[str, list[str]] = {}
        for topic in [*products, *(dead_letter_topic(d.contract) for d in mesh)]:
            leaks[f"topic {topic}"] = found_in(topic_bytes(endpoints.kafka, topic)[1])
        es.indices.refresh(index="_all")
        for index in es.indices.get(index="*"):
            hits = es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
            leaks[f"index {index}"] = found_in(json.dumps(hits).encode())
            for needle in NEEDLES:
                n = es.count(index=index, query={"multi_match": {"query": needle}})["count"]
                if n:
                    leaks[f"index {index} (search)"] = [*leaks.get(f"index {index}", []), needle]
        es.close()
        serving = database_dsn(endpoints.postgres, "serving")
        with psycopg2.connect(serving) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            views = cur.fetchall()
            for schema, table in views:
                cur.execute(
                    psycopg2.sql.SQL("SELECT t::text FROM {} t").format(
                        psycopg2.sql.Identifier(schema, table)
                    )
                )
                text = "\n".join(r[0] for r in cur.fetchall())
                leaks[f"serving {schema}.{table}"] = found_in(text.encode())
        conn.close()
        assert views, "the orders flow wrote no serving view"

        for d in mesh:
            stop_part(d)  # the flows let go of the warehouse files; logs are complete
        warehouses = sorted(tmp_path.glob("warehouse-*.duckdb"))
        assert len(warehouses) == len(mesh)
        for path in warehouses:
            with duckdb.connect(str(path), read_only=True) as con:
                tables = con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables()"
                ).fetchall()
                for schema, table in tables:
                    rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                    leaks[f"warehouse {schema}.{table}"] = found_in(repr(rows).encode())
        pgdata = tmp_path / "stack" / "postgres"
        scanned = 0
        for path in tmp_path.rglob("*"):
            if path.is_file() and pgdata not in path.parents:
                leaks[f"file {path.relative_to(tmp_path)}"] = found_in(path.read_bytes())
                scanned += 1
        assert scanned > 5
        assert any(p.name.endswith(".log") for p in tmp_path.rglob("*") if pgdata not in p.parents)
        assert {where: n for where, n in leaks.items() if n} == {}
    finally:
        for d in mesh:
            stop_part(d)
        stack.down()
        mp.undo()
