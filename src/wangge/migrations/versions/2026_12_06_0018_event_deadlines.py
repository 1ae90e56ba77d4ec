"""case events record the deadlines the case showed; clock facts for 超期未处置 / 超期未结案

`case_events.deadline` / `part_deadline` hold the deadline of the stage clock an event leaves
running (while handling, the earliest running part's) and, for an event on one department's
part, that part's: the evaluation judges each stage against them (issue 16).

Existing events: what each case showed at the time cannot be recomputed faithfully (limits,
response rules and the calendar may have changed since), and recomputing would change periods
already evaluated; so they stay NULL and the evaluation keeps judging them by the old
wall-clock limits. Only the clocks running NOW are filled in, from the deadlines stored on the
open cases and their parts (exactly what the case page shows), so that a case already stuck
is counted 超期 from this release on: the latest event of each open case, the dispatch or
rework that started the running handling spell, and each running part's latest event since.

`case_event_facts.due_at` is the deadline an event was judged against; `case_clock_facts`
holds the clocks that outlived their deadline. Stored facts of existing events lack both, so
they are marked as not built (as `evaluation.stored.fingerprint` would also find): evaluations
read the events until `wangge eval rebuild-facts` has run.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import wangge.cases.models

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_FINAL = "('closed', 'rated', 'rejected', 'voided')"
_HANDLING = (
    "('dispatched', 'in_progress', 'return_requested', 'extension_requested', "
    "'suspension_requested', 'suspended', 'rework')"
)
_RUNNING_PARTS = (
    "('dispatched', 'in_progress', 'return_requested', 'extension_requested', "
    "'suspension_requested', 'rework')"
)


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, wangge.cases.models.UTCDateTime(timezone=True), nullable=nullable)


def _latest(where: str) -> str:
    # the id of the case's latest event matching `where` (e: the event, c: the case)
    return (
        f"(SELECT e.id FROM case_events e WHERE e.case_id = c.id AND {where} "
        'ORDER BY e."at" DESC, e.id DESC LIMIT 1)'
    )


def _after(e: str, s: str) -> str:
    return f'({e}."at" > {s}."at" OR ({e}."at" = {s}."at" AND {e}.id > {s}.id))'


def upgrade() -> None:
    with op.batch_alter_table("case_events") as batch:
        batch.add_column(_ts("deadline"))
        batch.add_column(_ts("part_deadline"))
    # 1. the stage clock an open case shows now, on its latest event
    op.execute(
        "UPDATE case_events SET deadline = "
        "(SELECT c.deadline FROM cases c WHERE c.id = case_events.case_id) "
        f"WHERE id IN (SELECT {_latest('1 = 1')} FROM cases c "
        f"WHERE c.state NOT IN {_FINAL} AND c.deadline IS NOT NULL)"
    )
    # 2. the dispatch or rework that started the running handling spell: the deadline its
    #    departments got then, still held by the parts that have not acted since
    spell_start = _latest("e.action IN ('dispatch', 'check_fail')")
    op.execute(
        "UPDATE case_events SET deadline = (SELECT MIN(p.deadline) FROM case_parts p "
        f"WHERE p.case_id = case_events.case_id AND p.state IN {_RUNNING_PARTS} "
        "AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = p.case_id "
        f"AND e.part = p.department_code AND {_after('e', 'case_events')})) "
        "WHERE deadline IS NULL AND id IN ("
        f"SELECT {spell_start} FROM cases c "
        f"WHERE c.state IN {_HANDLING})"
    )
    # 3. each running part's deadline on its latest event since that dispatch or rework
    op.execute(
        "UPDATE case_events SET part_deadline = (SELECT p.deadline FROM case_parts p "
        "WHERE p.case_id = case_events.case_id AND p.department_code = case_events.part) "
        "WHERE id IN (SELECT (SELECT e.id FROM case_events e WHERE e.case_id = p.case_id "
        "AND e.part = p.department_code AND NOT EXISTS (SELECT 1 FROM case_events s "
        "WHERE s.case_id = e.case_id AND s.action IN ('dispatch', 'check_fail') "
        f'AND {_after("s", "e")}) ORDER BY e."at" DESC, e.id DESC LIMIT 1) '
        "FROM case_parts p JOIN cases c ON c.id = p.case_id "
        f"WHERE c.state IN {_HANDLING} AND p.state IN {_RUNNING_PARTS})"
    )
    with op.batch_alter_table("case_event_facts") as batch:
        batch.add_column(_ts("due_at"))
    op.create_table(
        "case_clock_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=True),
        _ts("at", nullable=False),
        _ts("deadline", nullable=False),
        _ts("ends_at"),
        _ts("counted_at"),
        sa.Column("reporter", sa.String(length=64), nullable=True),
        sa.Column("grid", sa.String(length=20), nullable=True),
        sa.Column("community", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_clock_facts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.id"],
            name=op.f("fk_case_clock_facts_event_id_case_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_clock_facts")),
    )
    op.create_index(op.f("ix_case_clock_facts_case_id"), "case_clock_facts", ["case_id"])
    op.create_index(
        "ix_case_clock_facts_county_code_ends_at", "case_clock_facts", ["county_code", "ends_at"]
    )
    # Stored facts of existing events lack their clocks: read the events until they are derived
    # again (`wangge eval rebuild-facts`); an empty database has all its facts.
    if op.get_bind().execute(sa.text("SELECT 1 FROM case_events LIMIT 1")).first() is not None:
        op.execute("DELETE FROM evaluation_state WHERE key = 'facts.stage_hours'")


def downgrade() -> None:
    op.drop_index("ix_case_clock_facts_county_code_ends_at", table_name="case_clock_facts")
    op.drop_index(op.f("ix_case_clock_facts_case_id"), table_name="case_clock_facts")
    op.drop_table("case_clock_facts")
    with op.batch_alter_table("case_event_facts") as batch:
        batch.drop_column("due_at")
    with op.batch_alter_table("case_events") as batch:
        batch.drop_column("part_deadline")
        batch.drop_column("deadline")
