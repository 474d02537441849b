"""The README's main job (``./dev demo``) runs end to end on embedded defaults and stops cleanly:
both example domains go from their service databases through CDC, their flows and every
output port, the counts balance, personal data is transformed, and the batch product
across both domains is materialised with passing checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.services
def test_demo_runs_and_leaves_no_process(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--state-dir", str(tmp_path / "demo")],
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
    products = summary["products"]
    assert set(products) == {"customers.customer.v1", "orders.order.v1"}
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
    assert customers["dead_letters"] == 0
    assert orders["dead_letters"] == 3  # the buggy client's lower-case currencies
    assert (
        customers["ports"]["search index (documents)"]
        == customers["ports"]["warehouse table (rows)"]
    )
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
    erasure = summary["erasure"]
    assert erasure["same_ciphertext"]  # one ciphertext in both ports ...
    for port in ("warehouse", "kafka topic"):  # ... readable with the key, erased without it
        assert erasure["before"][port] == "readable", port
        assert erasure["after"][port] == "erased", port
    assert erasure["report"]["products"][0]["unreadable_fields"] == ["full_name"]
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
    pids = json.loads((tmp_path / "demo" / "pids.json").read_text())
    assert sorted(pids) == ["index", "kafka", "postgres", "registry", "search"], (
        out
    )  # the processes it started
    for pid in pids.values():
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        ), f"process {pid} is still running after the demo"
