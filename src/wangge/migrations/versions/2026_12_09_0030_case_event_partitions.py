"""monthly partitions of case_events and case_event_facts (by at) on PostgreSQL

The facts' keys to their event become `(event_id, at) REFERENCES case_events (id, at)`
(a key to a partitioned table names its partition key; a fact's `at` is its event's).
case_clock_facts stays a plain table: see docs/deployment.md, "Monthly partitions".

Reads of one case now start at its report (`cases.models.events_of`), on both databases: an
event stamped before its case's report (servers whose clocks were seconds apart) would be
hidden, so such events, and their facts, move to the report's time first.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, text

from wangge.ops.partition_convert import partition_tables, unpartition_tables

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

# the events first: the facts' keys to them are made composite when they are partitioned
TABLES = ("case_events", "case_event_facts")


def upgrade() -> None:
    _no_event_before_its_report(op.get_bind())
    partition_tables(op.get_bind(), TABLES)  # no-op on SQLite


def _no_event_before_its_report(conn: Connection) -> None:
    facts = ("case_event_facts", "case_clock_facts")  # a fact's `at` is its event's
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "WITH moved AS (UPDATE case_events e SET at = c.reported_at FROM cases c "
                "WHERE c.id = e.case_id AND e.at < c.reported_at RETURNING e.id, e.at), "
                "facts AS (UPDATE case_event_facts f SET at = moved.at FROM moved "
                "WHERE f.event_id = moved.id) "
                "UPDATE case_clock_facts f SET at = moved.at FROM moved WHERE f.event_id = moved.id"
            )
        )
        return
    report = "(SELECT reported_at FROM cases WHERE cases.id = case_events.case_id)"
    conn.execute(text(f"UPDATE case_events SET at = {report} WHERE at < {report}"))
    for table in facts:
        event = f"(SELECT at FROM case_events WHERE case_events.id = {table}.event_id)"
        conn.execute(text(f"UPDATE {table} SET at = {event} WHERE at <> {event}"))


def downgrade() -> None:
    unpartition_tables(op.get_bind(), TABLES[::-1])
