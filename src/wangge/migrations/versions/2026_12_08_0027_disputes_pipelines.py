"""disputes and pipelines follow-ups (issue 18 items 4-5)

A local component class (component_class_extensions) records the pipeline network it belongs
to and whether its components are lines (给水管线 …), so the catalogue can mark line classes.
The disputes need no schema change (a PDF agreement is an `uploads` row like a photo).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "component_class_extensions", sa.Column("network", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "component_class_extensions", sa.Column("geometry", sa.String(length=8), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("component_class_extensions") as batch:
        batch.drop_column("geometry")
        batch.drop_column("network")
