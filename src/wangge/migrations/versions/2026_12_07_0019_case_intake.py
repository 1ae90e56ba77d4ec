"""case intake: channel, 12345 work order, caller, camera; 回访 callbacks; replies; video events

`case_intakes` holds how a case came in, one row per case (a report without intake details
has none): the channel (12345热线, 窗口来访, 来信, 视频监控, 视频智能分析), the 12345 work-order
number (unique per county when given), the caller's name and phone (personal data, shown
masked), the camera and the video events folded into the case. `case_callbacks` are the
acceptor's 回访, `hotline_replies` the answers sent back to the 12345 platform (through the
outbox), `video_events` every event a video-analytics platform posted (its own id unique, so
a resent event is answered with the first outcome).

The 受理员 role gains `cases.intake` (the 受理登记 page) when it still has the default
permissions' shape; a role an administrator has emptied or renamed is left as it is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import wangge.cases.models

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

INTAKE = "cases.intake"


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, wangge.cases.models.UTCDateTime(timezone=True), nullable=nullable)


def _case_fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_id"], ["cases.id"], name=op.f(f"fk_{table}_case_id_cases"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "case_intakes",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("work_order_no", sa.String(length=32), nullable=True),
        sa.Column("caller_name", sa.String(length=50), nullable=True),
        sa.Column("caller_phone", sa.String(length=32), nullable=True),
        sa.Column("camera_key", sa.String(length=100), nullable=True),
        sa.Column("external_event_id", sa.String(length=64), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        _ts("last_event_at"),
        _ts("created_at", nullable=False),
        _case_fk("case_intakes"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_intakes")),
        sa.UniqueConstraint("county_code", "work_order_no", name="uq_case_intakes_work_order"),
    )
    op.create_index(
        "ix_case_intakes_camera", "case_intakes", ["county_code", "camera_key", "category_code"]
    )
    op.create_table(
        "case_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        _ts("at", nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _case_fk("case_callbacks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_callbacks")),
    )
    op.create_index(op.f("ix_case_callbacks_case_id"), "case_callbacks", ["case_id"])
    op.create_table(
        "hotline_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("work_order_no", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        _ts("at", nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        _case_fk("hotline_replies"),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_hotline_replies_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_replies")),
    )
    op.create_index(op.f("ix_hotline_replies_case_id"), "hotline_replies", ["case_id"])
    op.create_table(
        "video_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("camera_key", sa.String(length=100), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        _ts("event_at", nullable=False),
        sa.Column("snapshot", sa.String(length=200), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("opened_case", sa.Boolean(), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        _ts("received_at", nullable=False),
        _case_fk("video_events", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_events")),
        sa.UniqueConstraint("external_id", name=op.f("uq_video_events_external_id")),
    )
    op.create_index(op.f("ix_video_events_case_id"), "video_events", ["case_id"])
    _grant(add=True)


def downgrade() -> None:
    _grant(add=False)
    op.drop_index(op.f("ix_video_events_case_id"), table_name="video_events")
    op.drop_table("video_events")
    op.drop_index(op.f("ix_hotline_replies_case_id"), table_name="hotline_replies")
    op.drop_table("hotline_replies")
    op.drop_index(op.f("ix_case_callbacks_case_id"), table_name="case_callbacks")
    op.drop_table("case_callbacks")
    op.drop_index("ix_case_intakes_camera", table_name="case_intakes")
    op.drop_table("case_intakes")


def _grant(*, add: bool) -> None:
    """Give the built-in 受理员 role `cases.intake` (or take it back on downgrade)."""
    roles = sa.table(
        "roles",
        sa.column("code", sa.String),
        sa.column("permissions", sa.JSON),
        sa.column("builtin", sa.Boolean),
    )
    bind = op.get_bind()
    row = bind.execute(
        sa.select(roles.c.permissions).where(roles.c.code == "acceptor", roles.c.builtin)
    ).first()
    if row is None or not isinstance(row.permissions, list) or "cases.act" not in row.permissions:
        return
    perms = [p for p in row.permissions if p != INTAKE] + ([INTAKE] if add else [])
    if perms != row.permissions:
        bind.execute(roles.update().where(roles.c.code == "acceptor").values(permissions=perms))
