"""cases: categories, routing, cases, parts, events, reporters, patrols, outbox, messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:47:05.931517
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "case_area_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("area_class", sa.String(length=1), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_area_classes")),
        sa.UniqueConstraint(
            "county_code", "prefix", name=op.f("uq_case_area_classes_county_code_prefix")
        ),
    )
    with op.batch_alter_table("case_area_classes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_area_classes_county_code"), ["county_code"], unique=False
        )

    op.create_table(
        "case_categories",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("major_code", sa.String(length=16), nullable=False),
        sa.Column("major_name", sa.String(length=100), nullable=False),
        sa.Column("filing_condition", sa.Text(), nullable=True),
        sa.Column("closing_condition", sa.Text(), nullable=True),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("default_department", sa.String(length=32), nullable=True),
        sa.Column("admitted_to_grid", sa.Boolean(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_case_categories")),
    )
    op.create_table(
        "case_routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("area_class", sa.String(length=1), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("assisting", sa.JSON(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["case_categories.code"],
            name=op.f("fk_case_routing_rules_category_code_case_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_case_routing_rules_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_routing_rules")),
        sa.UniqueConstraint(
            "county_code",
            "category_code",
            "area_class",
            name=op.f("uq_case_routing_rules_county_code_category_code_area_class"),
        ),
    )
    with op.batch_alter_table("case_routing_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_routing_rules_category_code"), ["category_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_routing_rules_county_code"), ["county_code"], unique=False
        )

    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_patrols_grid_id_grids"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
    )
    with op.batch_alter_table("patrols", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrols_county_code"), ["county_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrols_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrols_worker_id"), ["worker_id"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("unit_grid_id", sa.Integer(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("area_class", sa.String(length=1), nullable=False),
        sa.Column("component_code", sa.String(length=20), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_role", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("patrol_id", sa.Integer(), nullable=True),
        sa.Column("handler_ids", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_escalated_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_count", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["case_categories.code"],
            name=op.f("fk_cases_category_code_case_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["cases.id"], name=op.f("fk_cases_duplicate_of_cases")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_cases_grid_id_grids"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrols.id"], name=op.f("fk_cases_patrol_id_patrols")
        ),
        sa.ForeignKeyConstraint(
            ["unit_grid_id"],
            ["grids.id"],
            name=op.f("fk_cases_unit_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("code", name=op.f("uq_cases_code")),
        sa.UniqueConstraint(
            "reporter_id", "idempotency_key", name=op.f("uq_cases_reporter_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_category_code"), ["category_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_community_code"), ["community_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cases_component_code"), ["component_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_county_code"), ["county_code"], unique=False)
        batch_op.create_index("ix_cases_county_code_state", ["county_code", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_deadline"), ["deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_duplicate_of"), ["duplicate_of"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_patrol_id"), ["patrol_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_reported_at"), ["reported_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_reporter_id"), ["reporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_unit_grid_id"), ["unit_grid_id"], unique=False)

    op.create_table(
        "patrol_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("unit_grid_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
            name=op.f("fk_patrol_points_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrols.id"],
            name=op.f("fk_patrol_points_patrol_id_patrols"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_grid_id"],
            ["grids.id"],
            name=op.f("fk_patrol_points_unit_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_points")),
    )
    with op.batch_alter_table("patrol_points", schema=None) as batch_op:
        batch_op.create_index("ix_patrol_points_grid_id_day", ["grid_id", "day"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_points_patrol_id"), ["patrol_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_events_county_code"), ["county_code"], unique=False
        )

    op.create_table(
        "case_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handler_ids", sa.JSON(), nullable=False),
        sa.Column("extension_hours", sa.Float(), nullable=False),
        sa.Column("pending_extension_hours", sa.Float(), nullable=True),
        sa.Column("suspensions", sa.JSON(), nullable=False),
        sa.Column("suspended_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fed_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_parts_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_case_parts_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_parts")),
        sa.UniqueConstraint(
            "case_id", "department_code", name=op.f("uq_case_parts_case_id_department_code")
        ),
    )
    with op.batch_alter_table("case_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_parts_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_parts_department_code"), ["department_code"], unique=False
        )

    op.create_table(
        "case_reporters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        sa.Column("via_case_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_reporters_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["via_case_id"], ["cases.id"], name=op.f("fk_case_reporters_via_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reporters")),
        sa.UniqueConstraint(
            "case_id", "reporter_id", name=op.f("uq_case_reporters_case_id_reporter_id")
        ),
    )
    with op.batch_alter_table("case_reporters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_reporters_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_reporters_reporter_id"), ["reporter_id"], unique=False
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_messages_case_id_cases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_messages_outbox_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_recipient"), ["recipient"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_outbox_case_id_cases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_deliveries_message_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
    )
    with op.batch_alter_table("outbox_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_deliveries_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("outbox_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_deliveries_message_id"))

    op.drop_table("outbox_deliveries")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")

    op.drop_table("outbox")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_recipient"))

    op.drop_table("messages")
    with op.batch_alter_table("case_reporters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_reporters_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_case_reporters_case_id"))

    op.drop_table("case_reporters")
    with op.batch_alter_table("case_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_parts_department_code"))
        batch_op.drop_index(batch_op.f("ix_case_parts_case_id"))

    op.drop_table("case_parts")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_county_code"))
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_events_at"))
        batch_op.drop_index(batch_op.f("ix_case_events_action"))

    op.drop_table("case_events")
    with op.batch_alter_table("patrol_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_points_patrol_id"))
        batch_op.drop_index("ix_patrol_points_grid_id_day")

    op.drop_table("patrol_points")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_unit_grid_id"))
        batch_op.drop_index(batch_op.f("ix_cases_state"))
        batch_op.drop_index(batch_op.f("ix_cases_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_cases_reported_at"))
        batch_op.drop_index(batch_op.f("ix_cases_patrol_id"))
        batch_op.drop_index(batch_op.f("ix_cases_grid_id"))
        batch_op.drop_index(batch_op.f("ix_cases_duplicate_of"))
        batch_op.drop_index(batch_op.f("ix_cases_deadline"))
        batch_op.drop_index("ix_cases_county_code_state")
        batch_op.drop_index(batch_op.f("ix_cases_county_code"))
        batch_op.drop_index(batch_op.f("ix_cases_component_code"))
        batch_op.drop_index(batch_op.f("ix_cases_community_code"))
        batch_op.drop_index(batch_op.f("ix_cases_category_code"))

    op.drop_table("cases")
    with op.batch_alter_table("patrols", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrols_worker_id"))
        batch_op.drop_index(batch_op.f("ix_patrols_day"))
        batch_op.drop_index(batch_op.f("ix_patrols_county_code"))

    op.drop_table("patrols")
    with op.batch_alter_table("case_routing_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_routing_rules_county_code"))
        batch_op.drop_index(batch_op.f("ix_case_routing_rules_category_code"))

    op.drop_table("case_routing_rules")
    op.drop_table("case_categories")
    with op.batch_alter_table("case_area_classes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_area_classes_county_code"))

    op.drop_table("case_area_classes")
