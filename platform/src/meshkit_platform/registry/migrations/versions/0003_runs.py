"""Run status from OpenLineage events: runs, each product line's last observation, and
lineage observed from runs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("job_namespace", sa.Text, nullable=False),
        sa.Column("job_name", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("facets", pg.JSONB, nullable=False, server_default="{}"),
    )
    op.create_table(
        "product_runs",
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("last_run_id", sa.String(64), nullable=False),
        sa.Column("last_state", sa.String(16), nullable=False),
        sa.Column("last_event_at", _TS, nullable=False),
        sa.Column("last_success_at", _TS),
    )
    op.create_table(
        "observed_edges",
        sa.Column("source_address", sa.String(300), primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
    )
    op.create_index("observed_edges_product", "observed_edges", ["product_id"])


def downgrade() -> None:
    op.drop_table("observed_edges")
    op.drop_table("product_runs")
    op.drop_table("runs")
