"""Erasure requests across the mesh: one request per data subject, and the status of
each product that holds data of that subject's type.

The subject id is never stored in clear: ``subject_digest`` is a keyed hash (duplicate
detection), ``subject_sealed`` the id encrypted under the registry's erasure key, kept
only while the request is open.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("subject_type", sa.String(64), nullable=False),
        sa.Column("subject_digest", sa.String(64), nullable=False),
        sa.Column("subject_sealed", sa.LargeBinary),
        sa.Column("filed_by", sa.Text, nullable=False),
        sa.Column("filed_at", _TS, nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("completed_at", _TS),
        sa.Column("excluded", pg.JSONB, nullable=False, server_default="[]"),
    )
    op.create_index(
        "erasure_requests_open_subject",
        "erasure_requests",
        ["subject_digest"],
        unique=True,
        postgresql_where=sa.text("completed_at IS NULL"),
    )
    op.create_table(
        "erasure_products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "request_id",
            sa.String(32),
            sa.ForeignKey("erasure_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(128), nullable=False),
        sa.Column("subject_field", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_at", _TS),
        sa.Column("verified_at", _TS),
        sa.Column("problem", sa.Text),
        sa.Column("evidence", pg.JSONB),
        sa.UniqueConstraint("request_id", "address"),
    )
    op.create_index("erasure_products_domain", "erasure_products", ["domain", "status"])


def downgrade() -> None:
    op.drop_table("erasure_products")
    op.drop_table("erasure_requests")
