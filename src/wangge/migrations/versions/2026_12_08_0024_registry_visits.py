"""信息采集 visit log (issue 18 item 1)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "household_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("worker_name", sa.String(length=100), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"],
            name=op.f("fk_household_visits_household_id_households"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_household_visits_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_visits")),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index(op.f("ix_household_visits_county_code"), "household_visits", ["county_code"])
    op.create_index(op.f("ix_household_visits_household_id"), "household_visits", ["household_id"])
    op.create_index(
        op.f("ix_household_visits_community_code"), "household_visits", ["community_code"]
    )
    op.create_index("ix_household_visits_grid_day", "household_visits", ["grid_id", "visited_on"])


def downgrade() -> None:
    op.drop_index("ix_household_visits_grid_day", table_name="household_visits")
    op.drop_index(op.f("ix_household_visits_community_code"), table_name="household_visits")
    op.drop_index(op.f("ix_household_visits_household_id"), table_name="household_visits")
    op.drop_index(op.f("ix_household_visits_county_code"), table_name="household_visits")
    op.drop_table("household_visits")
