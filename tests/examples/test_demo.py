"""The README's main job (``./dev demo``, here in its short mode) runs end to end on embedded
defaults and stops cleanly: the three domains with service databases go through CDC, their
flows and every output port, the counts balance, personal data is transformed, and the
batch product across two domains is materialised with passing checks. Then the platform's
part: the catalog's search index answers a query with the articles the warehouse says
match, one customer's recommendations come over HTTP from the recommendations domain's
own processes, an access request approved at the registry and applied by provisioning
lets the consumer's role read its columns and no other, and an erasure request filed at
the registry is carried out and verified by every domain holding the customer."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def seeded_customers(count: int) -> list[tuple[str, str]]:
    """The names and e-mails of the ``count`` customers the CRM's service seeds."""
    sys.path.insert(0, str(ROOT / "domains" / "customers" / "src"))
    from customers.service import person  # type: ignore[import-not-found]

    rng = random.Random(7)  # customers.service.seed's default
    people = [person(rng, i) for i in range(1, count + 1)]
    return [(str(p["name"]), str(p["email"])) for p in people]


@pytest.mark.slow
@pytest.mark.services
def test_demo_runs_and_leaves_no_process(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--quick", "--state-dir", str(tmp_path / "demo")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "1000/1000" in out
    assert "wal_level" in out
    assert "logical" in out
    assert "stopped: registry, index, search, warehouse, postgres, kafka" in out
    assert "Traceback" not in proc.stdout + proc.stderr
    summary_text = (tmp_path / "demo" / "summary.json").read_text()
    assert "@" not in summary_text  # no customer's e-mail, raw or decrypted, is kept in a file
    summary = json.loads(summary_text)
    # nor any seeded customer's name or e-mail in the summary, the logs or the run files
    # the demo and its processes leave (only the service databases hold them)
    people = seeded_customers(summary["products"]["customers.customer.v1"]["service_rows"])
    left = [
        f for f in (tmp_path / "demo").rglob("*")
        if f.is_file() and f.suffix in {".json", ".log"} and "postgres" not in f.parts
    ]  # fmt: skip
    assert any(f.name.endswith("flow.log") for f in left)
    assert any(name in out for name, _ in people)  # the screen shows the CRM's side
    for f in left:
        text = f.read_text(errors="replace")
        leaked = [name for name, email in people if name in text or email in text]
        assert not leaked, f"{f}: {len(leaked)} customers' personal data"
    products = summary["products"]
    assert set(products) == {"customers.customer.v1", "orders.order.v1", "catalog.product.v1"}
    for name, p in products.items():
        changes = p["changes"]
        # every row change reached Kafka: the snapshot, the changes, a tombstone per delete
        assert p["cdc_events"] == (
            p["service_rows"] + changes["inserted"] + changes["updated"] + 2 * changes["deleted"]
        ), name
        flow = p["flow"]
        assert flow["received"] == flow["written"] + flow["skipped"] + flow["dead_letters"], name
        assert p["ports"]["kafka topic (messages)"] == flow["written"], name
        assert p["dead_letters"] == flow["dead_letters"], name
        assert 0 < p["ports"]["warehouse table (rows)"] <= p["service_rows"] + changes["inserted"]
    customers, orders = products["customers.customer.v1"], products["orders.order.v1"]
    catalog = products["catalog.product.v1"]
    assert customers["dead_letters"] == catalog["dead_letters"] == 0
    assert orders["dead_letters"] == 3  # the buggy client's lower-case currencies
    for indexed in (customers, catalog):
        ports = indexed["ports"]
        assert ports["search index (documents)"] == ports["warehouse table (rows)"]
    assert summary["batch"]["success"] is True
    assert summary["batch"]["rows"] > 0
    assert summary["batch"]["checks"]
    assert all(ok for _, ok in summary["batch"]["checks"])
    privacy = {p["field"]: p for p in summary["privacy"]}
    assert privacy["email"]["product"].startswith("tok:")
    assert "@" not in privacy["email"]["product"]
    assert all(p["differs"] for p in privacy.values())
    assert privacy["birth_date"]["product"].endswith("-01-01")
    view = summary["view"]  # one row per customer with orders, their newest five first
    assert view["rows"] == view["warehouse_buyers"]
    assert view["example"]["recent_order_ids"] == view["warehouse_newest"]
    provisioned = summary["provisioning"]  # every domain planned and applied before CDC
    assert provisioned["domains"] == len(list((ROOT / "domains").glob("*/contracts")))
    assert provisioned["applied"] == provisioned["planned"] > 0
    assert provisioned["pending_after"] == 0
    assert "applied" in out
    assert "/ui, open while" in out  # where the catalog page is
    assert "dagster dev" in out  # how to open the Dagster UI
    registry = summary["registry"]  # each domain's contracts published behind the gate
    assert registry["domains"] == sorted(
        p.parent.name for p in (ROOT / "domains").glob("*/contracts")
    )
    assert {"customers.customer", "orders.order", "orders.customer_orders"} <= {
        a.rsplit(".v", 1)[0] if ".v" in a else a for a in registry["products"]
    }
    assert {a.split(".")[0] for a in registry["products"]} == set(registry["domains"])
    latency = summary["latency"]  # live orders timed from their commit to each port
    assert set(latency["ports"]) == {
        "product topic orders.order.v1",
        "serving view orders.customer_orders.v1",
        "recommendations over HTTP",
    }
    for port, timed in latency["ports"].items():
        assert timed["n"] == latency["orders"] > 0, port  # every order reached every port
        assert 0 < timed["p50_ms"] <= timed["p99_ms"], port
    renames = summary["search_latency"]  # renamed articles timed to the search index
    assert renames["search"]["n"] == renames["articles"] > 0
    assert 0 < renames["search"]["p50_ms"] <= renames["search"]["p99_ms"]
    # the flow process resumed the first run's snapshot instead of replaying its input
    assert latency["topic_messages_after"] == (
        orders["ports"]["kafka topic (messages)"] + latency["placed"]
    )

    search = summary["search"]  # the shop's search box, on the catalog's index
    assert search["hits"]
    assert search["total"] == search["warehouse_matches"] > 0
    assert all(search["query"] in hit["name"].lower() for hit in search["hits"])

    recommended = summary["recommendations"]  # over HTTP from the domain's own service
    assert recommended["status"] == 200
    assert 0 < len(recommended["product_ids"]) <= 5
    assert recommended["orders"] > 0
    assert recommended["categories"]
    assert all(a["name"] != "?" for a in recommended["articles"])  # catalogue articles

    access = summary["access"]  # filed by a consumer, approved, applied by provisioning
    assert access["columns"] == ["customer_id", "product_ids"]
    assert access["applied_state"] == access["registry_state"] == "applied"
    assert access["granted_read"]["rows"] > 0
    assert access["refused_read"]["result"].startswith("refused: ")
    assert "permission denied" in access["refused_read"]["result"]

    erasure = summary["erasure"]  # filed at the registry, done by every holding domain
    assert erasure["status"] == "complete"
    assert erasure["domains"] == ["recommendations", "orders", "customers"]
    statuses = {p["address"]: p["status"] for p in erasure["products"]}
    assert statuses == {
        "customers.customer.v1": "verified",
        "orders.order.v1": "verified",
        "orders.customer_orders.v1": "verified",
        "recommendations.recommendation.v1": "verified",
    }
    assert [x["address"] for x in erasure["excluded"]] == ["orders.order_daily.v1"]
    assert "catalog.product.v1" not in statuses  # the catalogue holds no customer's data
    ports = {(p["address"], port["kind"]): port for p in erasure["products"] for port in p["ports"]}
    for (address, kind), port in ports.items():
        assert port["subject_records_after"] == 0, (address, kind)
        assert port["ciphertexts_readable"] == 0, (address, kind)
        assert port["control_readable"] == port["control_checked"], (address, kind)
    shredded = ports[("customers.customer.v1", "warehouse_table")]
    assert shredded["subject_records_before"] == 1
    assert shredded["ciphertexts_checked"] == 1  # the name was there, and no longer decrypts
    assert shredded["control_checked"] > 0  # while other customers' names still do
    assert (
        ports[("recommendations.recommendation.v1", "serving_view")]["subject_records_before"] == 1
    )  # the recommendations worker found the list itself
    before, after = erasure["read_back"]["before"], erasure["read_back"]["after"]
    http = "GET /customers/<id>/recommendations (HTTP status)"
    assert before.pop(http) == 200
    assert after.pop(http) == 404
    assert all(n > 0 for n in before.values()), before  # read back by the test's demo ...
    assert all(n == 0 for n in after.values()), after  # ... not by the workers

    pids = json.loads((tmp_path / "demo" / "pids.json").read_text())
    assert sorted(pids) == [
        "index", "kafka", "postgres", "recommendations-api", "recommendations-flow",
        "registry", "search",
    ], out  # the processes it started  # fmt: skip
    for pid in pids.values():
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        ), f"process {pid} is still running after the demo"
