"""The streaming flow end to end on a real (embedded) broker and a DuckDB warehouse.

Debezium change events go into the CDC topic; the product's rows come out masked in the
warehouse and the product topic; a broken event goes to the dead-letter topic.
"""

import json

import duckdb
import meshkit.streaming as ms
from bytewax.testing import run_main
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from orders.flow import build

CDC_TOPIC = "orders.cdc.public.orders"
PEOPLE = [
    (1, "ada@example.com", "Ada Lovelace", 7648, "GB"),
    (2, "alan@example.org", "Alan Turing", 5652, "GB"),
    (3, "grace@example.net", "Grace Hopper", 3629, "US"),
]


def _event(lsn, op, row):
    return json.dumps(
        {"before": None, "after": row, "op": op, "ts_ms": 1714557600000,
         "source": {"lsn": lsn, "txId": lsn, "ts_ms": 1714557600000, "table": "orders"}}
    ).encode()  # fmt: skip


def _produce(brokers):
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(CDC_TOPIC, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": brokers})
    for lsn, (pk, email, name, birth_days, country) in enumerate(PEOPLE, start=100):
        row = {"id": pk, "email": email, "name": name, "birth_date": birth_days,
               "country": country, "created_at": "2024-05-01T10:00:00Z"}  # fmt: skip
        producer.produce(CDC_TOPIC, key=json.dumps({"id": pk}), value=_event(lsn, "c", row))
    # a change without its required e-mail: refused, kept in the dead-letter port
    broken = {"id": 4, "email": None, "name": "Nobody", "birth_date": None,
              "country": "FR", "created_at": "2024-05-01T10:00:00Z"}  # fmt: skip
    producer.produce(CDC_TOPIC, key=json.dumps({"id": 4}), value=_event(200, "c", broken))
    assert producer.flush(10) == 0


def test_flow_writes_masked_rows_and_dead_letters(kafka_broker, tmp_path, local_keys):
    _produce(kafka_broker)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = ms.StreamingSettings(
        brokers=kafka_broker,
        warehouse=warehouse,
        keystore_dir=local_keys,
        stats_dir=tmp_path / "stats",
        tail=False,
    )
    run_main(build(settings))

    counts = ms.read_stats(tmp_path / "stats")["counts"]
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    assert counts["dead_letters"] == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT order_id, email, full_name, birth_date::VARCHAR "
            "FROM orders.order_v1 ORDER BY 1"
        ).fetchall()
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert all(r[1].startswith("tok:") for r in rows)
    assert all(r[2] not in {p[2] for p in PEOPLE} for r in rows)
    assert [r[3] for r in rows] == ["1990-01-01", "1985-01-01", "1979-01-01"]
