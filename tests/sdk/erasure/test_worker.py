"""The domain's erasure worker on its own: a port it cannot reach stops it before anything
is erased, failures are one clear line without the subject, a DuckDB table loses exactly
the subject's rows."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from meshkit.cli.app import app as meshkit_app
from meshkit.cli.failures import run
from meshkit.contracts import load_contract
from meshkit.erasure import ErasureWorker, PortTargets, RegistryClient, WorkItem, WorkProduct
from meshkit.erasure.ports import DuckDBPort
from meshkit.errors import ConfigError, ServiceError
from meshkit.ports import DuckDBWarehouseWriter
from meshkit.ports.base import Change
from meshkit.privacy.keys import MASTER_KEY_ENV, LocalKeyStore, new_master_key

ROOT = Path(__file__).resolve().parents[3]
CUSTOMERS = ROOT / "domains" / "customers" / "contracts"
ORDERS = ROOT / "domains" / "orders" / "contracts"
SUBJECT = "subject-7Qx"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalKeyStore]:
    monkeypatch.setenv(MASTER_KEY_ENV, new_master_key())
    with LocalKeyStore.open(tmp_path / "keys") as s:
        yield s


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_port_it_cannot_reach_stops_the_worker_before_any_erasure(
    tmp_path: Path, store: LocalKeyStore
) -> None:
    registry = RegistryClient(f"http://127.0.0.1:{_closed_port()}", "mkr_x_y")
    worker = ErasureWorker(
        "customers", CUSTOMERS, store, PortTargets(warehouse=tmp_path / "w.duckdb"), registry
    )
    item = WorkItem(
        "er_0123456789abcdef", "customer", SUBJECT,
        (WorkProduct("customers.customer.v1", "customer_id"),),
    )  # fmt: skip
    with pytest.raises(ConfigError) as err:
        worker.handle(item)
    assert str(err.value) == (
        "customers.customer.v1: the erasure worker needs kafka_topic: the Kafka brokers "
        "(see `meshkit erasure work --help`)"
    )
    assert SUBJECT not in str(err.value)
    assert [e.action for e in store.audit_events() if e.action == "erase"] == []


def test_a_work_item_never_shows_its_subject() -> None:
    item = WorkItem("er_0123456789abcdef", "customer", SUBJECT, ())
    assert SUBJECT not in repr(item)
    assert SUBJECT not in str(item)


def test_an_unreachable_registry_is_one_clear_error() -> None:
    client = RegistryClient(f"http://127.0.0.1:{_closed_port()}", "mkr_x_y", timeout=5)
    with pytest.raises(ServiceError, match=r"does not answer.*check MESHKIT_REGISTRY_URL"):
        client.work("orders")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "MESHKIT_REGISTRY_URL and MESHKIT_REGISTRY_TOKEN"),
        (
            {"MESHKIT_REGISTRY_URL": "file:///etc/passwd", "MESHKIT_REGISTRY_TOKEN": "t"},
            "expected an http:// or https:// URL",
        ),
    ],
)
def test_the_command_says_what_to_set(
    env: dict[str, str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("MESHKIT_REGISTRY_URL", "MESHKIT_REGISTRY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = ["erasure", "work", "--domain", "orders", "--contracts", str(ORDERS)]
    assert run(meshkit_app, argv, prog_name="meshkit") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert expected in err
    assert "Traceback" not in err


def test_duckdb_loses_exactly_the_subjects_rows(tmp_path: Path) -> None:
    order = load_contract(ORDERS / "order.yaml")
    rows = [
        {
            "order_id": f"o{n}", "customer_id": c, "status": "paid", "total": Decimal("1.00"),
            "currency": "EUR", "shipping_postcode": "10",
            "placed_at": datetime(2026, 1, n, tzinfo=UTC),
        }
        for n, c in enumerate([SUBJECT, "other", SUBJECT, "o'ther"], 1)
    ]  # fmt: skip
    writer = DuckDBWarehouseWriter(tmp_path / "w.duckdb")
    writer.ensure(order)
    writer.write([Change.upsert(r, key=(r["order_id"],), position=i) for i, r in enumerate(rows)])
    writer.flush()
    writer.close()
    port = DuckDBPort(tmp_path / "w.duckdb", "orders", "order_v1")
    try:
        assert len(port.subject_rows("customer_id", SUBJECT)) == 2
        port.delete("customer_id", SUBJECT)
        assert port.subject_rows("customer_id", SUBJECT) == []
    finally:
        port.close()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        left = con.execute("SELECT order_id FROM orders.order_v1 ORDER BY 1").fetchall()
    assert [r[0] for r in left] == ["o2", "o4"]


def test_a_missing_warehouse_table_is_a_clear_error(tmp_path: Path) -> None:
    port = DuckDBPort(tmp_path / "empty.duckdb", "orders", "order_v1")
    try:
        with pytest.raises(ServiceError, match=r'warehouse table "orders"\."order_v1" does not'):
            port.subject_rows("customer_id", SUBJECT)
    finally:
        port.close()
