"""component grids (a line or polygon component is located in every grid it crosses)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "component_grids",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_component_grids_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
            name=op.f("fk_component_grids_grid_id_grids"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("component_id", "grid_id", name=op.f("pk_component_grids")),
    )
    op.create_index(op.f("ix_component_grids_grid_id"), "component_grids", ["grid_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_component_grids_grid_id"), table_name="component_grids")
    op.drop_table("component_grids")
