"""The registry's schema migrates from empty, steps back one revision and forward again."""

from __future__ import annotations

from sqlalchemy import inspect, text
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


def test_tags_migrate_up_with_the_rows_there_and_back(empty_engine: Engine) -> None:
    migrate.downgrade(empty_engine, "base")
    migrate.upgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO domains (name, owners, updated_at) VALUES ('d', '{}', now())")
        )
        conn.execute(
            text(
                "INSERT INTO products (domain_id, name, major, address, version, status,"
                " owner_team, owner_contact, keywords, field_names, has_personal_data,"
                " content_hash, updated_at) SELECT id, 'p', 1, 'd.p.v1', '1.0.0', 'active',"
                " 't', 't@example.com', 'd p t', 'id', false, 'h', now() FROM domains"
            )
        )
        conn.execute(
            text(
                "INSERT INTO product_versions (product_id, version, status, content_hash,"
                " contract_text, published_at) SELECT id, '1.0.0', 'active', 'h', 'x', now()"
                " FROM products"
            )
        )

    migrate.upgrade(empty_engine, "0006")
    assert migrate.current(empty_engine) == "0006"
    with empty_engine.connect() as conn:
        # the rows published before tags existed have none
        assert conn.execute(text("SELECT tags FROM products")).scalar_one() == []
        assert conn.execute(text("SELECT tags FROM product_versions")).scalar_one() == []
    indexes = {i["name"] for i in inspect(empty_engine).get_indexes("products")}
    assert "products_tags" in indexes

    migrate.downgrade(empty_engine, "-1")
    assert migrate.current(empty_engine) == "0005"
    for table in ("products", "product_versions"):
        assert "tags" not in {c["name"] for c in inspect(empty_engine).get_columns(table)}
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT address FROM products")).scalar_one() == "d.p.v1"

    migrate.upgrade(empty_engine, "0006")
    assert migrate.current(empty_engine) == "0006"
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE products SET tags = '{finance}'"))
        found = conn.execute(text("SELECT address FROM products WHERE tags @> '{finance}'"))
        assert found.scalar_one() == "d.p.v1"
    migrate.downgrade(empty_engine, "base")


def test_the_last_checks_table_steps_back_and_forward(empty_engine: Engine) -> None:
    migrate.downgrade(empty_engine, "base")
    migrate.upgrade(empty_engine, "0007")
    assert migrate.current(empty_engine) == "0007"
    assert "product_checks" in _tables(empty_engine)
    migrate.downgrade(empty_engine, "-1")
    assert migrate.current(empty_engine) == "0006"
    assert "product_checks" not in _tables(empty_engine)
    migrate.upgrade(empty_engine, "0007")
    assert "product_checks" in _tables(empty_engine)
    migrate.downgrade(empty_engine, "base")


def test_the_catalog_revision_moves_with_writes_and_steps_back_and_forward(
    empty_engine: Engine,
) -> None:
    migrate.downgrade(empty_engine, "base")
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == "0008"

    def revision() -> int:
        with empty_engine.connect() as c:
            return int(c.execute(text("SELECT n FROM catalog_revision")).scalar_one())

    first = revision()
    with empty_engine.begin() as c:
        c.execute(text("INSERT INTO domains (name, owners, updated_at) VALUES ('d', '{}', now())"))
        assert revision() == first  # not before the writer commits
    assert revision() > first
    migrate.downgrade(empty_engine, "-1")
    assert migrate.current(empty_engine) == "0007"
    assert "catalog_revision" not in _tables(empty_engine)
    with empty_engine.begin() as c:  # no trigger is left behind
        c.execute(text("UPDATE domains SET repository = 'r'"))
    migrate.upgrade(empty_engine)
    assert revision() == 1
    migrate.downgrade(empty_engine, "base")
