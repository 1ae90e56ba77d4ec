"""代办 resident services (issue 18 item 3): catalogue, requests, history events

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resident_service_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("family", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("respond_hours", sa.Float(), nullable=False),
        sa.Column("answer_hours", sa.Float(), nullable=False),
        sa.Column("complex_hours", sa.Float(), nullable=False),
        sa.Column("around_the_clock", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_service_items")),
        sa.UniqueConstraint(
            "county_code", "code", name=op.f("uq_resident_service_items_county_code_code")
        ),
    )
    op.create_index(
        op.f("ix_resident_service_items_county_code"), "resident_service_items", ["county_code"]
    )
    op.create_table(
        "resident_service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("service_name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("applicant_name", sa.String(length=50), nullable=False),
        sa.Column("applicant_phone", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", _AT, nullable=False),
        sa.Column("around_the_clock", sa.Boolean(), nullable=False),
        sa.Column("respond_hours", sa.Float(), nullable=False),
        sa.Column("answer_hours", sa.Float(), nullable=False),
        sa.Column("respond_due", _AT, nullable=False),
        sa.Column("answer_due", _AT, nullable=False),
        sa.Column("complex", sa.Boolean(), nullable=False),
        sa.Column("complex_reason", sa.Text(), nullable=True),
        sa.Column("taken_at", _AT, nullable=True),
        sa.Column("taken_by", sa.String(length=64), nullable=True),
        sa.Column("taken_by_name", sa.String(length=100), nullable=True),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.Column("rated_at", _AT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["resident_service_items.id"],
            name=op.f("fk_resident_service_requests_service_id_resident_service_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_service_requests")),
        sa.UniqueConstraint("code", name=op.f("uq_resident_service_requests_code")),
    )  # fmt: skip
    op.create_index(
        "ix_resident_service_requests_area",
        "resident_service_requests",
        ["county_code", "community_code", "grid_code"],
    )
    for column in ("service_id", "state", "requested_at"):
        op.create_index(
            op.f(f"ix_resident_service_requests_{column}"), "resident_service_requests", [column]
        )
    op.create_table(
        "resident_service_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["resident_service_requests.id"],
            name=op.f("fk_resident_service_events_request_id_resident_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_service_events")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_resident_service_events_request_id"), "resident_service_events", ["request_id"]
    )


def downgrade() -> None:
    op.drop_table("resident_service_events")
    op.drop_table("resident_service_requests")
    op.drop_table("resident_service_items")
