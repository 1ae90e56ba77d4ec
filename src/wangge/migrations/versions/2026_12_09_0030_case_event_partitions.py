"""monthly partitions of case_events and case_event_facts (by at) on PostgreSQL

The facts' keys to their event become `(event_id, at) REFERENCES case_events (id, at)`
(a key to a partitioned table names its partition key; a fact's `at` is its event's).
case_clock_facts stays a plain table: see docs/deployment.md, "Monthly partitions".

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

from alembic import op

from wangge.ops.partition_convert import partition_tables, unpartition_tables

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

# the events first: the facts' keys to them are made composite when they are partitioned
TABLES = ("case_events", "case_event_facts")


def upgrade() -> None:
    partition_tables(op.get_bind(), TABLES)  # no-op on SQLite


def downgrade() -> None:
    unpartition_tables(op.get_bind(), TABLES[::-1])
