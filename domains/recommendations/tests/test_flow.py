"""The recommendations flow end to end on the embedded stack: the orders and catalogue
products in their topics (as those domains' flows write them), the flow keeping the
serving view in PostgreSQL, and the HTTP service answering by customer; a new order
changes the customer's list while the flow runs.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import meshkit.streaming as ms
from bytewax.testing import run_main
from confluent_kafka import Producer

from recommendations.api import serve
from recommendations.flow import build

SRC = Path(__file__).resolve().parents[1] / "src"
ARTICLES = {
    "1": ("outdoor", 9), "2": ("outdoor", 4), "3": ("outdoor", 2), "4": ("books", 7),
    "5": ("books", 3), "6": ("kitchen", 5), "7": ("toys", 1), "8": ("music", 6),
}  # fmt: skip
ORDERS = [("o1", "c1", "1"), ("o2", "c2", "2"), ("o3", "c2", "4"), ("o4", "c3", "2")]


def produce(brokers, topic, rows):
    producer = Producer({"bootstrap.servers": brokers})
    for key, value in rows:
        producer.produce(topic, json.dumps(value).encode(), key.encode())
    assert producer.flush(30) == 0


def catalogue(brokers):
    produce(brokers, "catalog.product.v1", [
        (p, {"product_id": p, "category": c, "stock": s}) for p, (c, s) in ARTICLES.items()
    ])  # fmt: skip


def orders(brokers, rows):
    produce(brokers, "orders.order.v1", [
        (o, {"order_id": o, "customer_id": c, "product_id": p, "status": "paid"})
        for o, c, p in rows
    ])  # fmt: skip


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_lists_reach_the_view_and_http(kafka_broker, postgres_database, tmp_path):
    catalogue(kafka_broker)
    orders(kafka_broker, ORDERS)
    settings = ms.StreamingSettings(
        brokers=kafka_broker, view_dsn=postgres_database, stats_dir=tmp_path / "stats",
        tail=False,
    )  # fmt: skip
    run_main(build(settings))
    counts = ms.read_stats(tmp_path / "stats")["counts"]
    assert counts["dead_letters"] == 0, counts

    server = serve(postgres_database)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/customers"
    try:
        status, c1 = get(f"{base}/c1/recommendations")
        assert status == 200
        assert c1["categories"] == ["outdoor"]
        assert c1["product_ids"][0] == "2"  # the most popular outdoor article not bought
        assert "1" not in c1["product_ids"]
        status, c2 = get(f"{base}/c2/recommendations")
        assert status == 200
        assert c2["orders"] == 2
        assert set(c2["categories"]) == {"outdoor", "books"}
        status, body = get(f"{base}/nobody/recommendations")
        assert status == 404
        assert "nobody" not in json.dumps(body)  # the id is not echoed back
    finally:
        server.shutdown()
        server.server_close()


def test_a_new_order_changes_the_list_while_the_flow_runs(
    kafka_broker, postgres_database, tmp_path
):
    catalogue(kafka_broker)
    orders(kafka_broker, [("o10", "c10", "4")])
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MESHKIT_STREAMING_BROKERS": kafka_broker,
        "MESHKIT_STREAMING_VIEW_DSN": postgres_database,
        "MESHKIT_METRICS_PORT": "off",
    }
    log = (tmp_path / "flow.log").open("wb")
    flow = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "recommendations.flow:flow"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = serve(postgres_database)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/customers/c10/recommendations"

    def wait_for(condition, what):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert flow.poll() is None, (tmp_path / "flow.log").read_text()[-3000:]
            status, body = get(url)
            if status == 200 and condition(body):
                return body
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        before = wait_for(lambda b: b["categories"] == ["books"], "the first list")
        assert "4" not in before["product_ids"]
        orders(kafka_broker, [("o11", "c10", "8"), ("o12", "c10", "8")])
        after = wait_for(lambda b: b["orders"] == 3, "the list after the new orders")
        assert after["categories"] == ["music", "books"]
        assert "8" not in after["product_ids"]
    finally:
        server.shutdown()
        server.server_close()
        flow.send_signal(signal.SIGINT)
        try:
            flow.wait(20)
        except subprocess.TimeoutExpired:
            flow.kill()
            flow.wait()
        log.close()
