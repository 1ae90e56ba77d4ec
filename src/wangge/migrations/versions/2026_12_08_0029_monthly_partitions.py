"""monthly partitions of patrol_points (by day) and audit_log (by at) on PostgreSQL

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 21:00:00
"""

from __future__ import annotations

from alembic import op

from wangge.ops.partition_convert import partition_tables, unpartition_tables

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


TABLES = ("patrol_points", "audit_log")


def upgrade() -> None:
    partition_tables(op.get_bind(), TABLES)  # no-op on SQLite


def downgrade() -> None:
    unpartition_tables(op.get_bind(), TABLES[::-1])
