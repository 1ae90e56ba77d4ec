"""Grids and their versions (划分版本), plus the generic located-point layer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import BBoxMixin, TenantMixin, TimestampMixin
from wangge.common.spatial import Geometry
from wangge.db import Base


class GridVersion(TenantMixin, TimestampMixin, Base):
    """One division (划分) of a county's grid layer; re-division makes a new version."""

    __tablename__ = "grid_versions"
    __table_args__ = (UniqueConstraint("county_code", "layer", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(16))  # "social" | "unit"
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|active|retired
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("grid_versions.id"))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activation_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How the version was made (e.g. the automatic division's quality report and moves).
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Grid(TenantMixin, BBoxMixin, TimestampMixin, Base):
    """A grid of one version: basic, exclusive, unit, duty (a set of unit grids) or micro."""

    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("grid_versions.id", ondelete="CASCADE"), index=True
    )
    community_code: Mapped[str] = mapped_column(ForeignKey("divisions.code"), index=True)
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    area_m2: Mapped[float | None] = mapped_column(Float)
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    land_use: Mapped[str | None] = mapped_column(String(50))
    responsible_party: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("MultiPolygon"))


class DutyGridMember(Base):
    """A unit grid that belongs to a duty grid (责任网格)."""

    __tablename__ = "duty_grid_members"

    duty_grid_id: Mapped[int] = mapped_column(
        ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True
    )
    unit_grid_id: Mapped[int] = mapped_column(
        ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True
    )


class LocatedPoint(TenantMixin, TimestampMixin, Base):
    """A point of any layer (e.g. an imported CSV), kept in its grids across re-divisions."""

    __tablename__ = "located_points"
    __table_args__ = (UniqueConstraint("county_code", "layer", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(100))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    unit_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
