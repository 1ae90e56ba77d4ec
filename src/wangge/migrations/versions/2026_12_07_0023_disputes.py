"""disputes (矛盾纠纷): dispute, parties, mediation sessions, history events

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _child(name: str, *columns: sa.Column[Any]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name=op.f(f"fk_{name}_dispute_id_disputes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )  # fmt: skip
    op.create_index(op.f(f"ix_{name}_dispute_id"), name, ["dispute_id"])


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_name", sa.String(length=100), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mediator_user_id", sa.Integer(), nullable=True),
        sa.Column("mediator_name", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("transferred_to", sa.String(length=100), nullable=True),
        sa.Column("no_agreement_reason", sa.Text(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agreement_upload_id", sa.String(length=32), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("follow_up_worker", sa.String(length=100), nullable=True),
        sa.Column("follow_up_result", sa.Text(), nullable=True),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index("ix_disputes_area", "disputes", ["county_code", "community_code", "grid_code"])
    op.create_index(op.f("ix_disputes_state"), "disputes", ["state"])
    op.create_index(op.f("ix_disputes_registered_at"), "disputes", ["registered_at"])
    _child(
        "dispute_parties",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
    )
    _child(
        "dispute_sessions",
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    _child(
        "dispute_events",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    for name in ("dispute_events", "dispute_sessions", "dispute_parties"):
        op.drop_index(op.f(f"ix_{name}_dispute_id"), table_name=name)
        op.drop_table(name)
    op.drop_index(op.f("ix_disputes_registered_at"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_state"), table_name="disputes")
    op.drop_index("ix_disputes_area", table_name="disputes")
    op.drop_table("disputes")
