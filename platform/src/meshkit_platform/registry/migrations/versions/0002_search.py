"""Full-text search over product lines: a stored generated tsvector and its GIN index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from meshkit_platform.registry.db import SEARCH_VECTOR

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column("search", pg.TSVECTOR, sa.Computed(SEARCH_VECTOR, persisted=True)),
    )
    op.create_index("products_search", "products", ["search"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("products_search", table_name="products")
    op.drop_column("products", "search")
