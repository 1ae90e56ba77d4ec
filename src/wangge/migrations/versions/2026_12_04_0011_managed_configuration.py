"""managed configuration: departments, catalogue origin, routing by area and line, business
lines, grid assignments, response rules by channel

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(
            sa.Column("level", sa.String(length=16), nullable=False, server_default="county")
        )
        batch.add_column(sa.Column("parent_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("business_line", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("contact", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("duty_phone", sa.String(length=40), nullable=True))
        batch.add_column(
            sa.Column("serves_counties", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.create_foreign_key(
            op.f("fk_departments_parent_code_departments"), "departments", ["parent_code"], ["code"]
        )
    with op.batch_alter_table("case_categories") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="standard")
        )
        batch.add_column(sa.Column("release", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("edited", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("business_line", sa.String(length=32), nullable=True))
    with op.batch_alter_table("case_routing_rules") as batch:
        batch.drop_constraint(
            op.f("uq_case_routing_rules_county_code_category_code_area_class"), type_="unique"
        )
        batch.add_column(sa.Column("area_prefix", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("business_line", sa.String(length=32), nullable=True))
    # Keep SQLite's AUTOINCREMENT when the table is rebuilt: component ids are never reused.
    with op.batch_alter_table("components", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("owner_department_code", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_components_owner_department_code_departments"),
            "departments",
            ["owner_department_code"],
            ["code"],
            ondelete="SET NULL",
        )
    op.create_table(
        "business_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_lines")),
        sa.UniqueConstraint("county_code", "code", name=op.f("uq_business_lines_county_code_code")),
    )
    op.create_index(op.f("ix_business_lines_county_code"), "business_lines", ["county_code"])
    op.create_table(
        "grid_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=20), nullable=False),
        sa.Column("layer", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_grid_assignments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_assignments")),
    )
    op.create_index(op.f("ix_grid_assignments_user_id"), "grid_assignments", ["user_id"])
    op.create_index(op.f("ix_grid_assignments_county_code"), "grid_assignments", ["county_code"])
    op.create_index(
        "ix_grid_assignments_grid", "grid_assignments", ["county_code", "layer", "grid_code"]
    )
    op.create_table(
        "case_response_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("around_the_clock", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_response_rules")),
    )
    op.create_index(
        op.f("ix_case_response_rules_county_code"), "case_response_rules", ["county_code"]
    )


def downgrade() -> None:
    op.drop_table("case_response_rules")
    op.drop_table("grid_assignments")
    op.drop_table("business_lines")
    # Keep SQLite's AUTOINCREMENT when the table is rebuilt: component ids are never reused.
    with op.batch_alter_table("components", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(
            op.f("fk_components_owner_department_code_departments"), type_="foreignkey"
        )
        batch.drop_column("owner_department_code")
    with op.batch_alter_table("case_routing_rules") as batch:
        batch.drop_column("business_line")
        batch.drop_column("area_prefix")
        batch.create_unique_constraint(
            op.f("uq_case_routing_rules_county_code_category_code_area_class"),
            ["county_code", "category_code", "area_class"],
        )
    with op.batch_alter_table("case_categories") as batch:
        for name in ("business_line", "edited", "release", "origin"):
            batch.drop_column(name)
    with op.batch_alter_table("departments") as batch:
        batch.drop_constraint(op.f("fk_departments_parent_code_departments"), type_="foreignkey")
        for name in ("serves_counties", "duty_phone", "contact", "business_line", "parent_code"):
            batch.drop_column(name)
        batch.drop_column("level")
