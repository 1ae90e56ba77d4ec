"""evaluation facts: one row per case event for the monthly evaluation

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 07:40:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import wangge.cases.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[datetime]:
    return sa.Column(name, wangge.cases.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "case_event_facts",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("at", wangge.cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("grid", sa.String(length=20), nullable=True),
        sa.Column("community", sa.String(length=12), nullable=True),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.Column("gap", sa.Float(), nullable=True),
        sa.Column("seg_first", sa.Boolean(), nullable=False),
        sa.Column("seg_rework", sa.Boolean(), nullable=False),
        *(
            _ts(n)
            for n in (
                "filed_at",
                "closed_at",
                "void_at",
                "late_at",
                "wrong_at",
                "fed_at",
                "fed_on_time_at",
                "ext_at",
                "susp_at",
                "returned_at",
            )
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_event_facts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.id"],
            name=op.f("fk_case_event_facts_event_id_case_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_case_event_facts")),
    )
    op.create_index(op.f("ix_case_event_facts_at"), "case_event_facts", ["at"])
    op.create_index(op.f("ix_case_event_facts_case_id"), "case_event_facts", ["case_id"])
    op.create_index("ix_case_event_facts_county_code_at", "case_event_facts", ["county_code", "at"])
    op.create_table(
        "evaluation_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.Column("updated_at", wangge.cases.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_evaluation_state")),
    )
    # An empty database has all its facts: mark them built. Events already stored need the
    # derivation, which is the package's (one copy of the definition) and reads columns later
    # migrations add, so it cannot run at this revision: until `wangge eval rebuild-facts`
    # runs, evaluations read the events (`evaluation.stored.usable`).
    from wangge.evaluation import stored

    if op.get_bind().execute(sa.text("SELECT 1 FROM case_events LIMIT 1")).first() is None:
        with Session(bind=op.get_bind()) as session:
            stored.mark_built(session)
            session.flush()


def downgrade() -> None:
    op.drop_table("evaluation_state")
    op.drop_index("ix_case_event_facts_county_code_at", table_name="case_event_facts")
    op.drop_index(op.f("ix_case_event_facts_case_id"), table_name="case_event_facts")
    op.drop_index(op.f("ix_case_event_facts_at"), table_name="case_event_facts")
    op.drop_table("case_event_facts")
