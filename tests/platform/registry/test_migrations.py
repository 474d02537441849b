"""The registry's schema migrates from empty, steps back one revision and forward again."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from meshkit_platform.registry import migrate

CATALOG = {
    "domains",
    "products",
    "product_versions",
    "output_ports",
    "personal_fields",
    "input_edges",
    "api_tokens",
    "audit_log",
}
RUNS = {"runs", "product_runs", "observed_edges"}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_empty_downgrade_one_step_and_upgrade_again(empty_engine: Engine) -> None:
    assert migrate.current(empty_engine) is None
    assert not _tables(empty_engine) & CATALOG

    migrate.upgrade(empty_engine, "0003")
    assert migrate.current(empty_engine) == "0003"
    assert _tables(empty_engine) >= CATALOG | RUNS
    assert "search" in {c["name"] for c in inspect(empty_engine).get_columns("products")}

    migrate.downgrade(empty_engine, "-1")
    assert migrate.current(empty_engine) == "0002"
    assert not _tables(empty_engine) & RUNS
    assert _tables(empty_engine) >= CATALOG

    migrate.upgrade(empty_engine, "0003")
    assert migrate.current(empty_engine) == "0003"
    assert _tables(empty_engine) >= CATALOG | RUNS

    migrate.downgrade(empty_engine, "0001")
    assert "search" not in {c["name"] for c in inspect(empty_engine).get_columns("products")}
    migrate.downgrade(empty_engine, "base")
    assert not _tables(empty_engine) & (CATALOG | RUNS)
