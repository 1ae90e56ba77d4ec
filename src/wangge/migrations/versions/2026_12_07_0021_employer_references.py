"""employer reference lists (两网化 coverage: registered employers / employers on the list)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "employer_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("delisted_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employer_references")),
    )
    op.create_index(
        op.f("ix_employer_references_county_code"), "employer_references", ["county_code"]
    )
    op.create_index(
        "ix_employer_references_county_credit", "employer_references",
        ["county_code", "credit_code"],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_employer_references_county_credit", table_name="employer_references")
    op.drop_index(op.f("ix_employer_references_county_code"), table_name="employer_references")
    op.drop_table("employer_references")
