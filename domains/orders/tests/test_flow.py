"""The streaming flow end to end on a real (embedded) broker and a DuckDB warehouse.

Debezium change events go into the CDC topic; the product's rows come out masked in the
warehouse and the product topic; a broken event goes to the dead-letter topic.
"""

import json
from datetime import UTC, datetime

import duckdb
import meshkit.streaming as ms
from bytewax.testing import run_main
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from meshkit.batch import load_contract
from meshkit.ports import ViewReader

from orders.flow import VIEW_CONTRACT, build

CDC_TOPIC = "orders.cdc.public.orders"
ORDERS = [  # id, customer, status, total (Debezium's string mode for numeric), postcode
    (1, 7, "paid", "10.50", "SW1A 1AA"),
    (2, 8, "shipped", "20.00", "1012 AB"),
    (3, 7, "placed", "4.25", None),
]


def _event(lsn, op, row, before=None):
    return json.dumps(
        {"before": before, "after": row, "op": op, "ts_ms": 1714557600000,
         "source": {"lsn": lsn, "txId": lsn, "ts_ms": 1714557600000, "table": "orders"}}
    ).encode()  # fmt: skip


def _row(pk, customer, status, total, postcode):
    return {"id": pk, "customer_id": customer, "status": status, "total": total,
            "currency": "EUR", "shipping_postcode": postcode,
            "placed_at": f"2024-05-0{pk}T10:00:00Z"}  # fmt: skip


def _produce(brokers):
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(CDC_TOPIC, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": brokers})
    for lsn, order in enumerate(ORDERS, start=100):
        producer.produce(
            CDC_TOPIC, key=json.dumps({"id": order[0]}), value=_event(lsn, "c", _row(*order))
        )
    # an order with a status the contract does not accept: refused, kept as a dead letter
    broken = _row(4, 9, "lost-in-space", "1.00", None)
    producer.produce(CDC_TOPIC, key=json.dumps({"id": 4}), value=_event(200, "c", broken))
    assert producer.flush(10) == 0


def _delete(brokers, order, lsn):
    producer = Producer({"bootstrap.servers": brokers})
    event = _event(lsn, "d", None, before=_row(*order))
    producer.produce(CDC_TOPIC, key=json.dumps({"id": order[0]}), value=event)
    assert producer.flush(10) == 0


def test_flow_writes_every_port_and_dead_letters(
    kafka_broker, postgres_database, tmp_path, local_keys
):
    _produce(kafka_broker)
    _delete(kafka_broker, ORDERS[0], lsn=300)  # customer 7's first order is removed
    warehouse = tmp_path / "warehouse.duckdb"
    settings = ms.StreamingSettings(
        brokers=kafka_broker, warehouse=warehouse, view_dsn=postgres_database,
        keystore_dir=local_keys, stats_dir=tmp_path / "stats", tail=False,
    )  # fmt: skip
    run_main(build(settings))

    counts = ms.read_stats(tmp_path / "stats")["counts"]
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    assert counts["dead_letters"] == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT order_id, customer_id, status, total::VARCHAR, shipping_postcode "
            "FROM orders.order_v1 ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("2", "8", "shipped", "20.00", "10"),  # the postcode generalized to two characters
        ("3", "7", "placed", "4.25", None),
    ]

    # the serving view: each customer's recent orders, the deleted one retracted
    reader = ViewReader(postgres_database, load_contract(VIEW_CONTRACT))
    try:
        seven, eight = reader.get("7"), reader.get("8")
        assert reader.get("9") is None  # its only order was refused by the contract
    finally:
        reader.close()
    assert seven["recent_order_ids"] == ["3"]
    assert seven["last_order_status"] == "placed"
    assert eight["recent_order_ids"] == ["2"]
    assert eight["last_order_at"] == datetime(2024, 5, 2, 10, tzinfo=UTC)
    view = ms.read_stats(tmp_path / "stats" / "customer_orders")["counts"]
    assert view["dead_letters"] == 0
