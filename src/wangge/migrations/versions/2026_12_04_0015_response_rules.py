"""response rules: the reporter's promises on cases (first answer, report → close) and due_at

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_MOMENTS = (
    "respond_due",
    "responded_at",
    "respond_escalated_for",
    "solve_due",
    "solve_escalated_for",
    "due_at",
)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for name in _MOMENTS:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("promise", sa.JSON(), nullable=True))
    # Existing cases have no promises: their earliest running deadline is the stage's.
    op.execute("UPDATE cases SET due_at = deadline")
    op.create_index(op.f("ix_cases_due_at"), "cases", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_due_at"), table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("promise")
        for name in reversed(_MOMENTS):
            batch.drop_column(name)
