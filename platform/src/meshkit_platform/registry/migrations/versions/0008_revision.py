"""What tells a registry process that an answer it keeps is out of date, whoever wrote.

- ``catalog_revision.n``: one number that every write to what search and lineage read
  moves on. Triggers bump it in the writing transaction, so the new number becomes
  visible with the rows it stands for (at commit): on any change of ``domains``,
  ``products`` or ``input_edges`` (per statement), and on an observed edge that appears,
  disappears or changes its job (per row: a run event that only confirms an edge again
  leaves the number alone).
- ``NOTIFY meshkit_registry_pages``: sent (at commit) by every statement that changes
  what a product page shows: domains, products, their versions, ports, personal fields,
  input edges, last runs and last checks.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STATEMENT_TABLES = ("domains", "products", "input_edges")
_PAGE_TABLES = (
    "domains",
    "products",
    "product_versions",
    "output_ports",
    "personal_fields",
    "input_edges",
    "product_runs",
    "product_checks",
)


def upgrade() -> None:
    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="catalog_revision_one_row"),
    )
    op.execute("INSERT INTO catalog_revision (id, n) VALUES (1, 1)")
    op.execute(
        """
CREATE FUNCTION meshkit_bump_catalog_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE catalog_revision SET n = n + 1 WHERE id = 1;
  RETURN NULL;
END $$
"""
    )
    for table in _STATEMENT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_revision "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION meshkit_bump_catalog_revision()"
        )
    op.execute(
        """
CREATE FUNCTION meshkit_notify_pages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('meshkit_registry_pages', '');
  RETURN NULL;
END $$
"""
    )
    for table in _PAGE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_pages "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION meshkit_notify_pages()"
        )
    op.execute(
        "CREATE TRIGGER observed_edges_revision AFTER INSERT OR DELETE ON observed_edges "
        "FOR EACH ROW EXECUTE FUNCTION meshkit_bump_catalog_revision()"
    )
    op.execute(
        "CREATE TRIGGER observed_edges_revision_job AFTER UPDATE ON observed_edges "
        "FOR EACH ROW WHEN (OLD.job IS DISTINCT FROM NEW.job "
        "OR OLD.source_address IS DISTINCT FROM NEW.source_address "
        "OR OLD.product_id IS DISTINCT FROM NEW.product_id) "
        "EXECUTE FUNCTION meshkit_bump_catalog_revision()"
    )


def downgrade() -> None:
    for table in _PAGE_TABLES:
        op.execute(f"DROP TRIGGER {table}_pages ON {table}")
    op.execute("DROP FUNCTION meshkit_notify_pages()")
    op.execute("DROP TRIGGER observed_edges_revision_job ON observed_edges")
    op.execute("DROP TRIGGER observed_edges_revision ON observed_edges")
    for table in _STATEMENT_TABLES:
        op.execute(f"DROP TRIGGER {table}_revision ON {table}")
    op.execute("DROP FUNCTION meshkit_bump_catalog_revision()")
    op.drop_table("catalog_revision")
