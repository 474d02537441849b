"""The registry's schema migrates from empty, steps back one revision and forward again."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from meshkit_platform.registry import migrate


def _product_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("products")}


def test_upgrade_from_empty_downgrade_one_step_and_upgrade_again(empty_engine: Engine) -> None:
    assert migrate.current(empty_engine) is None
    assert not inspect(empty_engine).has_table("products")

    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == "0002"
    tables = set(inspect(empty_engine).get_table_names())
    assert {
        "domains",
        "products",
        "product_versions",
        "output_ports",
        "personal_fields",
        "input_edges",
        "api_tokens",
        "audit_log",
    } <= tables
    assert "search" in _product_columns(empty_engine)

    migrate.downgrade(empty_engine, "-1")
    assert migrate.current(empty_engine) == "0001"
    assert "search" not in _product_columns(empty_engine)

    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == "0002"
    assert "search" in _product_columns(empty_engine)

    migrate.downgrade(empty_engine, "base")
    assert not inspect(empty_engine).has_table("products")
