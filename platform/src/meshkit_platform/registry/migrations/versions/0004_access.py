"""Access requests and grants: a consumer asks for read access to a product line's
ports for a purpose; the owning domain approves (a grant per port, with an expiry) or
denies; provisioning reports each grant's applied state back.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("grantee", sa.String(63), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("ports", pg.ARRAY(sa.String(32)), nullable=False),
        sa.Column("fields", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_at", _TS),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("reason", sa.Text),
    )
    op.create_index("access_requests_product", "access_requests", ["product_id"])
    op.create_index("access_requests_status", "access_requests", ["status"])
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer,
            sa.ForeignKey("access_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("grantee", sa.String(63), nullable=False),
        sa.Column("port_kind", sa.String(32), nullable=False),
        sa.Column("port_address", sa.String(300), nullable=False),
        sa.Column("columns", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS),
        sa.Column("revoked_by", sa.String(32)),
        sa.Column("applied", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("applied_at", _TS),
        sa.UniqueConstraint("request_id", "port_kind"),
    )
    op.create_index("grants_product", "grants", ["product_id"])
    op.create_index("grants_grantee", "grants", ["grantee"])


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_table("access_requests")
