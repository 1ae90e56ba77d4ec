"""micro grids carried by records (issue 18 item 2)

cases, people, buildings and organisations get `micro_grid_id` (the 微网格 holding them inside
their grid); grid_assignments get `published` (a micro-grid leader shown on 我的网格员).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

TABLES = ("cases", "people", "buildings", "organisations")


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, with its reference) on both databases: SQLite accepts a
    # REFERENCES clause on a NULL-default column, so the large tables are not rebuilt.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:  # Alembic refuses a constraint here; SQLite itself does not
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN micro_grid_id INTEGER "
                "REFERENCES grids (id) ON DELETE SET NULL"
            )
            op.create_index(op.f(f"ix_{table}_micro_grid_id"), table, ["micro_grid_id"])
            continue
        op.add_column(
            table,
            sa.Column(
                "micro_grid_id",
                sa.Integer(),
                sa.ForeignKey(
                    "grids.id", name=op.f(f"fk_{table}_micro_grid_id_grids"), ondelete="SET NULL"
                ),
                nullable=True,
            ),
        )
        op.create_index(op.f(f"ix_{table}_micro_grid_id"), table, ["micro_grid_id"])
    op.add_column(
        "grid_assignments",
        sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("grid_assignments") as batch:
        batch.drop_column("published")
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_micro_grid_id"), table_name=table)
        kwargs = {"sqlite_autoincrement": True} if table != "cases" else {}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            if op.get_bind().dialect.name != "sqlite":
                batch.drop_constraint(op.f(f"fk_{table}_micro_grid_id_grids"), type_="foreignkey")
            batch.drop_column("micro_grid_id")
