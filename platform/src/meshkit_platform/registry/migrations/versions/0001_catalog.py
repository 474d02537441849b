"""The catalog: domains, product lines and versions, ports, personal fields, input edges,
API tokens and the append-only audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("owners", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("repository", sa.Text),
        sa.Column("template_version", sa.String(64)),
        sa.Column("sdk_version", sa.String(64)),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("address", sa.String(300), nullable=False, unique=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner_team", sa.Text, nullable=False),
        sa.Column("owner_contact", sa.Text, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("field_names", sa.Text, nullable=False),
        sa.Column("has_personal_data", sa.Boolean, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("slo", pg.JSONB),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("domain_id", "name", "major"),
    )
    op.create_index("products_status", "products", ["status"])
    op.create_table(
        "product_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("contract_text", sa.Text, nullable=False),
        sa.Column("published_at", _TS, nullable=False),
        sa.UniqueConstraint("product_id", "version"),
    )
    op.create_table(
        "output_ports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("description", sa.Text),
        sa.UniqueConstraint("product_id", "kind"),
    )
    op.create_table(
        "personal_fields",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "port_id",
            sa.Integer,
            sa.ForeignKey("output_ports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("pii", sa.String(64)),
        sa.Column("classification", sa.String(32), nullable=False),
        sa.Column("transform", sa.String(32)),
    )
    op.create_table(
        "input_edges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer,
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("port_name", sa.String(128), nullable=False),
        sa.Column("source_address", sa.String(300), nullable=False),
    )
    op.create_index("input_edges_source", "input_edges", ["source_address"])
    op.create_index("input_edges_product", "input_edges", ["product_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("domain", sa.String(128)),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("detail", pg.JSONB, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # Append-only: the database itself refuses to change or delete an entry.
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    for table in (
        "audit_log",
        "api_tokens",
        "input_edges",
        "personal_fields",
        "output_ports",
        "product_versions",
        "products",
        "domains",
    ):
        op.drop_table(table)
