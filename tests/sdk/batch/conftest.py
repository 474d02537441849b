"""Fixtures of the batch tests: a fresh warehouse file and key store per test, contracts, data."""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from meshkit.batch import load_contract, local_resources
from meshkit.contracts import Contract
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV, new_master_key

FIXTURES = Path(__file__).parents[2] / "fixtures" / "batch"
SIGNED_UP = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Local environment, a fresh master key and key store, no registry."""
    monkeypatch.setenv(MASTER_KEY_ENV, new_master_key())
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "privacy"))
    for name in (
        "MESHKIT_ENV",
        "MESHKIT_REGISTRY_URL",
        "BIGQUERY_EMULATOR_HOST",
        "MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def warehouse(duckdb_path: Path) -> Path:
    """A DuckDB file of this test's own, next to the session's local warehouse."""
    return duckdb_path.parent / f"batch-{uuid.uuid4().hex[:12]}.duckdb"


@pytest.fixture
def resources(warehouse: Path) -> dict[str, Any]:
    return local_resources(duckdb_path=warehouse)


@pytest.fixture
def customer_contract() -> Contract:
    return load_contract(FIXTURES / "customers" / "contracts" / "customer.yaml")


@pytest.fixture
def order_contract() -> Contract:
    return load_contract(FIXTURES / "orders" / "contracts" / "order_facts.yaml")


def customers_table(n: int = 3, **overrides: list[Any]) -> pa.Table:
    """``n`` valid customer rows; ``overrides`` replace whole columns."""
    columns: dict[str, list[Any]] = {
        "customer_id": [f"c{i}" for i in range(n)],
        "email": [f"person{i}@example.com" for i in range(n)],
        "full_name": [f"Person Number{i}" for i in range(n)],
        "birth_date": [dt.date(1980 + i % 30, 1 + i % 12, 1 + i % 28) for i in range(n)],
        "tier": [("free", "plus", "pro")[i % 3] for i in range(n)],
        "lifetime_value": [Decimal(f"{i}.50") for i in range(n)],
        "country": ["DE"] * n,
        "note": [None] * n,
        "signed_up_at": [SIGNED_UP] * n,
    }
    columns.update(overrides)
    return pa.table(columns)


def load_module(path: Path) -> ModuleType:
    """Import a fixture domain's ``definitions.py`` under a unique module name."""
    spec = importlib.util.spec_from_file_location(f"fixture_{uuid.uuid4().hex[:8]}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TableFactory = Callable[..., pa.Table]
