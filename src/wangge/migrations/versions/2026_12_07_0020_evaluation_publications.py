"""published evaluations (frozen snapshots, versioned) and automatically produced reports

`evaluation_publications` holds one row per published version of a county's evaluation of a
period: the chosen rankings and the unit credit list as they were when published (`data`,
never updated). A correction is a new version with a reason; the earlier rows stay.
`evaluation_reports` holds the monthly report files (xlsx, pdf) the server produces once a
month has closed, one per county, period and kind (the unique key makes a second producer's
insert fail instead of storing the report twice).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import wangge.cases.models

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, wangge.cases.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "evaluation_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("object_types", sa.JSON(), nullable=False),
        sa.Column("include_credit", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        _ts("published_at", nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_publications")),
        sa.UniqueConstraint(
            "county_code",
            "period",
            "version",
            name=op.f("uq_evaluation_publications_county_code_period_version"),
        ),
    )
    op.create_index(
        "ix_evaluation_publications_county_code_published_at",
        "evaluation_publications",
        ["county_code", "published_at"],
    )
    op.create_table(
        "evaluation_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_reports")),
        sa.UniqueConstraint(
            "county_code",
            "period",
            "kind",
            name=op.f("uq_evaluation_reports_county_code_period_kind"),
        ),
    )


def downgrade() -> None:
    op.drop_table("evaluation_reports")
    op.drop_index(
        "ix_evaluation_publications_county_code_published_at",
        table_name="evaluation_publications",
    )
    op.drop_table("evaluation_publications")
