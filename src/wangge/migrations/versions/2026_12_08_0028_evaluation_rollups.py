"""evaluation rollups (issue 16 items 6-7)

`evaluation_rollups` holds the evaluation's counts per local day and object as signed delta
rows (`wangge.evaluation.rollups`). An empty database has all its rollups (marked built); a
database whose stored facts are built gets them from those facts (one INSERT ... SELECT).
Otherwise evaluations keep reading `case_event_facts` (or the events) until
`wangge eval rebuild-facts` has run; from then on the case service keeps them in step.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_rollups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("span", sa.String(1), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("eff_day", sa.Date(), nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        *(sa.Column(f"c{i}", sa.Integer(), nullable=False) for i in range(11)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_rollups")),
    )
    op.create_index(
        "ix_evaluation_rollups_county_code_span_day",
        "evaluation_rollups",
        ["county_code", "span", "day"],
    )
    # the derivation is the package's (one definition of every count), as in migration 0007
    from wangge.evaluation import rollups, stored

    with Session(bind=op.get_bind()) as session:
        empty = session.execute(sa.text("SELECT 1 FROM case_event_facts LIMIT 1")).first() is None
        if empty or stored.usable(session, stored.DEFAULT_CFG):
            rollups.rebuild(session)  # empty: nothing to count, only marks them built
        session.flush()


def downgrade() -> None:
    op.execute("DELETE FROM evaluation_state WHERE key LIKE 'rollups.%'")
    op.drop_index("ix_evaluation_rollups_county_code_span_day", table_name="evaluation_rollups")
    op.drop_table("evaluation_rollups")
