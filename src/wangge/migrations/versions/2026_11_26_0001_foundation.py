"""foundation: divisions, grids, versions

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:31:27.575321
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wangge.common.spatial

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _spatial_index(table: str) -> None:
    # GiST on PostGIS (QGIS and ST_* filters use it); a bbox index on SQLite.
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    else:
        op.create_index(f"ix_{table}_bbox", table, ["minx", "maxx", "miny", "maxy"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "divisions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("geom", wangge.common.spatial.Geometry("MultiPolygon"), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("minx", sa.Float(), nullable=True),
        sa.Column("miny", sa.Float(), nullable=True),
        sa.Column("maxx", sa.Float(), nullable=True),
        sa.Column("maxy", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["divisions.code"],
            name=op.f("fk_divisions_parent_code_divisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_divisions")),
    )
    with op.batch_alter_table("divisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_divisions_county_code"), ["county_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_divisions_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_divisions_parent_code"), ["parent_code"], unique=False)
    _spatial_index("divisions")

    op.create_table(
        "grid_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_report", sa.JSON(), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["based_on_id"],
            ["grid_versions.id"],
            name=op.f("fk_grid_versions_based_on_id_grid_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_versions")),
        sa.UniqueConstraint(
            "county_code", "layer", "number", name=op.f("uq_grid_versions_county_code_layer_number")
        ),
    )
    with op.batch_alter_table("grid_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_grid_versions_county_code"), ["county_code"], unique=False
        )

    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("land_use", sa.String(length=50), nullable=True),
        sa.Column("responsible_party", sa.String(length=100), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("geom", wangge.common.spatial.Geometry("MultiPolygon"), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("minx", sa.Float(), nullable=True),
        sa.Column("miny", sa.Float(), nullable=True),
        sa.Column("maxx", sa.Float(), nullable=True),
        sa.Column("maxy", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_code"], ["divisions.code"], name=op.f("fk_grids_community_code_divisions")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["grids.id"], name=op.f("fk_grids_parent_id_grids"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["grid_versions.id"],
            name=op.f("fk_grids_version_id_grid_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_grids_version_id_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_grids_community_code"), ["community_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_grids_county_code"), ["county_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_grids_version_id"), ["version_id"], unique=False)
    _spatial_index("grids")

    op.create_table(
        "duty_grid_members",
        sa.Column("duty_grid_id", sa.Integer(), nullable=False),
        sa.Column("unit_grid_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duty_grid_id"],
            ["grids.id"],
            name=op.f("fk_duty_grid_members_duty_grid_id_grids"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_grid_id"],
            ["grids.id"],
            name=op.f("fk_duty_grid_members_unit_grid_id_grids"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("duty_grid_id", "unit_grid_id", name=op.f("pk_duty_grid_members")),
    )
    op.create_table(
        "located_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("unit_grid_id", sa.Integer(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
            name=op.f("fk_located_points_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_grid_id"],
            ["grids.id"],
            name=op.f("fk_located_points_unit_grid_id_grids"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_located_points")),
        sa.UniqueConstraint(
            "county_code", "layer", "key", name=op.f("uq_located_points_county_code_layer_key")
        ),
    )
    with op.batch_alter_table("located_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_located_points_county_code"), ["county_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_located_points_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_located_points_unit_grid_id"), ["unit_grid_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("located_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_located_points_unit_grid_id"))
        batch_op.drop_index(batch_op.f("ix_located_points_grid_id"))
        batch_op.drop_index(batch_op.f("ix_located_points_county_code"))

    op.drop_table("located_points")
    op.drop_table("duty_grid_members")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_version_id"))
        batch_op.drop_index(batch_op.f("ix_grids_county_code"))
        batch_op.drop_index(batch_op.f("ix_grids_community_code"))
        batch_op.drop_index(batch_op.f("ix_grids_code"))

    op.drop_table("grids")
    with op.batch_alter_table("grid_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_versions_county_code"))

    op.drop_table("grid_versions")
    with op.batch_alter_table("divisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_divisions_parent_code"))
        batch_op.drop_index(batch_op.f("ix_divisions_level"))
        batch_op.drop_index(batch_op.f("ix_divisions_county_code"))

    op.drop_table("divisions")
