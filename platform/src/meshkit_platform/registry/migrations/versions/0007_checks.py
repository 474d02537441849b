"""Each product line's last quality checks, from the ``dataQualityAssertions`` of the
OpenLineage run events that read it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_checks",
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assertions", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("product_checks")
