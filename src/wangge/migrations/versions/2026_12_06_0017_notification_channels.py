"""notifications that go out by themselves: channel routes per county/department, outbox dedupe
keys and routes, and leases so that one process delivers at a time

`notification_routes` says which group robot (企业微信 / 钉钉) or SMS gateway a county centre or
a department wants its messages on; the webhook URLs and signing secrets are *names* of
secrets kept in the settings, never the secrets themselves. `outbox.dedupe_key` makes a
scheduled message (a 预警 per deadline) exist once; `outbox.route_id` names the route an
external copy goes through. `leases` holds the delivery worker's single-flight lease.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("url_ref", sa.String(length=64), nullable=True),
        sa.Column("sign_ref", sa.String(length=64), nullable=True),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_notification_routes_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_routes")),
    )
    op.create_index(
        op.f("ix_notification_routes_county_code"), "notification_routes", ["county_code"]
    )
    op.create_index(
        op.f("ix_notification_routes_department_code"),
        "notification_routes",
        ["department_code"],
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("route_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_outbox_dedupe_key"), ["dedupe_key"])
        batch.create_foreign_key(
            op.f("fk_outbox_route_id_notification_routes"),
            "notification_routes",
            ["route_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("fk_outbox_route_id_notification_routes"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_outbox_dedupe_key"), type_="unique")
        batch.drop_column("route_id")
        batch.drop_column("dedupe_key")
    op.drop_index(op.f("ix_notification_routes_department_code"), "notification_routes")
    op.drop_index(op.f("ix_notification_routes_county_code"), "notification_routes")
    op.drop_table("notification_routes")
