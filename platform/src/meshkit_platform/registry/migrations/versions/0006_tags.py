"""Tags of data products: each published version keeps its contract's tags, and a line
its current version's tags (filtered by a GIN index; searched through ``keywords``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TAGS = pg.ARRAY(sa.Text)


def upgrade() -> None:
    for table in ("product_versions", "products"):
        op.add_column(
            table, sa.Column("tags", _TAGS, nullable=False, server_default=sa.text("'{}'"))
        )
    op.create_index("products_tags", "products", ["tags"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("products_tags", table_name="products")
    for table in ("products", "product_versions"):
        op.drop_column(table, "tags")
