"""Each embedded service, started by the meshkit.testing fixtures, answers a real request."""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import elasticsearch
import psycopg2
import pytest
from confluent_kafka import Consumer, Producer
from google.cloud import bigquery
from pydantic import SecretStr

from meshkit.errors import ServiceError
from meshkit.local import (
    LocalSettings,
    Postgres,
    Warehouse,
    consumer_config,
    emulator_job_retry,
    emulator_retry,
    producer_config,
)
from meshkit.testing import BigQueryEndpoint, SearchEndpoint

pytestmark = pytest.mark.services


def test_kafka_broker_round_trips_messages_through_a_consumer_group(
    kafka_broker: str, kafka_topic: str
) -> None:
    producer = Producer(producer_config(kafka_broker))
    for i in range(3):
        producer.produce(kafka_topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert producer.flush(10) == 0

    consumer = Consumer(consumer_config(kafka_broker, group_id=f"g-{kafka_topic}"))
    consumer.subscribe([kafka_topic])
    received: list[tuple[bytes | None, bytes | None]] = []
    started = time.monotonic()
    try:
        while len(received) < 3 and time.monotonic() - started < 15:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                received.append((message.key(), message.value()))
    finally:
        consumer.close()
    assert received == [(b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2")]
    # the fast group settings make the join take about a second, not ~23 s
    assert time.monotonic() - started < 8


def test_postgres_answers_over_tcp_with_logical_replication(
    postgres: str, postgres_database: str
) -> None:
    assert postgres.startswith("postgresql://postgres@127.0.0.1:")
    with contextlib.closing(psycopg2.connect(postgres_database)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
        cur.execute("INSERT INTO customers VALUES (1, 'a@example.com'), (2, 'b@example.com')")
        cur.execute("SELECT email FROM customers ORDER BY id")
        assert cur.fetchall() == [("a@example.com",), ("b@example.com",)]
        cur.execute("SHOW wal_level")
        assert cur.fetchone() == ("logical",)
        cur.execute("SELECT inet_server_addr()::text")
        assert cur.fetchone() == ("127.0.0.1/32",)
        conn.rollback()


def test_an_existing_postgres_by_url_is_used_but_never_stopped(
    postgres: str, tmp_path: Path
) -> None:
    external = Postgres(LocalSettings(state_dir=tmp_path, postgres_url=SecretStr(postgres)))
    record = external.start()
    assert record.pid is None
    status = external.status()
    assert status.healthy, status.detail
    assert "(external)" in status.detail
    assert external.stop() is False
    with contextlib.closing(psycopg2.connect(postgres)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")  # the shared server still runs
        assert cur.fetchone() == (1,)


def test_an_external_postgres_that_does_not_answer_is_named_without_its_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://meshkit:s3cret-pw@127.0.0.1:1/db"  # nothing listens on port 1
    external = Postgres(LocalSettings(state_dir=tmp_path, postgres_url=SecretStr(url)))
    with pytest.raises(ServiceError) as caught:
        external.start()
    message = str(caught.value)
    assert message.startswith("postgres at postgresql://meshkit:***@127.0.0.1:1/db does not answer")
    assert "s3cret-pw" not in message


def test_duckdb_warehouse_file_holds_tables(
    duckdb_path: Path, meshkit_local_settings: LocalSettings
) -> None:
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute("CREATE TABLE orders AS SELECT range AS id FROM range(5)")
    status = Warehouse(meshkit_local_settings).status()
    assert status.healthy, status.detail
    assert "1 tables" in status.detail
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        assert con.execute("SELECT sum(id) FROM orders").fetchone() == (10,)


def test_search_server_indexes_and_searches_through_the_elasticsearch_client(
    search_server: SearchEndpoint,
) -> None:
    with search_server.client() as es:
        es.indices.create(index="products", mappings={"properties": {"name": {"type": "text"}}})
        es.index(index="products", id="1", document={"name": "red running shoe"})
        es.index(index="products", id="2", document={"name": "blue rain coat"})
        es.indices.refresh(index="products")
        hits = es.search(index="products", query={"match": {"name": "shoe"}})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["1"]
        es.delete(index="products", id="1")
        es.indices.refresh(index="products")
        assert es.count(index="products")["count"] == 1


def test_default_elasticsearch_clients_keep_the_compatibility_media_type(
    search_server: SearchEndpoint,
) -> None:
    # Only clients made for the local server switch it off; a client made the usual way
    # (as for production Elasticsearch) still sends it, which this server refuses.
    with (
        elasticsearch.Elasticsearch(search_server.url) as es,
        pytest.raises(elasticsearch.ApiError) as refused,
    ):
        es.index(index="other", id="1", document={"a": 1})
    assert refused.value.status_code == 406


def test_bigquery_emulator_creates_loads_inserts_and_queries(
    bigquery_emulator: BigQueryEndpoint,
) -> None:
    client = bigquery_emulator.client()
    retry = emulator_retry()
    dataset = client.create_dataset("sales", retry=retry)
    table = bigquery.Table(
        f"{bigquery_emulator.project}.{dataset.dataset_id}.orders",
        schema=[
            bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
            bigquery.SchemaField("amount", "NUMERIC"),
        ],
    )
    client.create_table(table, retry=retry)
    assert client.insert_rows_json(table, [{"id": 1, "amount": "2.50"}], retry=retry) == []
    # a load job goes through the multipart upload the emulator client relabels
    load = client.load_table_from_json(
        [{"id": 2, "amount": "4.00"}, {"id": 3, "amount": "1.25"}],
        table,
        job_config=bigquery.LoadJobConfig(write_disposition="WRITE_APPEND"),
    )
    load.result(timeout=30, retry=retry)
    rows = client.query(
        f"SELECT id, amount FROM `{table.project}.sales.orders` WHERE id >= @low ORDER BY id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("low", "INT64", 2)]
        ),
        retry=retry,
        job_retry=emulator_job_retry(),
    ).result(timeout=30)
    assert [(row["id"], row["amount"]) for row in rows] == [(2, Decimal("4")), (3, Decimal("1.25"))]
    client.close()


def test_postgres_database_is_fresh_and_dropped(postgres: str) -> None:
    from meshkit.testing import postgres_database

    fixture = postgres_database.__wrapped__(postgres)  # type: ignore[attr-defined]
    dsn = next(fixture)
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT current_database()")
        row = cur.fetchone()
    assert row is not None
    name = row[0]
    with contextlib.suppress(StopIteration):
        next(fixture)
    with contextlib.closing(psycopg2.connect(postgres)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert cur.fetchone() == (0,)
