"""Administrative divisions: 区/县 → 街道/乡镇 → 社区/村."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import BBoxMixin, TenantMixin, TimestampMixin
from wangge.common.spatial import Geometry
from wangge.db import Base


class Division(TenantMixin, BBoxMixin, TimestampMixin, Base):
    """One division, keyed by its code: 6 digits (county), 9 (street) or 12 (community)."""

    __tablename__ = "divisions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("divisions.code", ondelete="RESTRICT"), index=True
    )
    area_m2: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("MultiPolygon"))
