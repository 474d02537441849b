"""Migration 0004 adds the access-request and grant tables and removes them again."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from meshkit_platform.registry import migrate

ACCESS = {"access_requests", "grants"}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_0004_creates_and_drops_the_access_tables(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0003")
    assert not _tables(empty_engine) & ACCESS

    migrate.upgrade(empty_engine, "0004")
    assert migrate.current(empty_engine) == "0004"
    assert _tables(empty_engine) >= ACCESS
    grant_columns = {c["name"] for c in inspect(empty_engine).get_columns("grants")}
    assert {"grantee", "columns", "expires_at", "revoked_at", "applied"} <= grant_columns

    migrate.downgrade(empty_engine, "0003")
    assert not _tables(empty_engine) & ACCESS
    migrate.downgrade(empty_engine, "base")
