"""Components (城市部件): coded facilities as points, lines or polygons, and serial counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import BBoxMixin, TenantMixin, TimestampMixin
from wangge.common.spatial import Geometry
from wangge.db import Base

STATES = ("完好", "破损", "丢失", "占用", "废弃")
NETWORKS = {
    "water": "给水", "drainage": "排水", "power": "电力",
    "telecom": "通信", "gas": "燃气", "heat": "热力",
}  # fmt: skip


class Component(TenantMixin, BBoxMixin, TimestampMixin, Base):
    """A component with its 16- (GB/T 30428.2) or 17-digit (GB/T 47678.5) identifier."""

    __tablename__ = "components"
    # Ids are never reused (SQLite would hand out a deleted max id again): history keys on them.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(17), unique=True)
    scheme: Mapped[str] = mapped_column(String(16))
    class_code: Mapped[str] = mapped_column(String(5), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("Geometry"))
    # A representative point: what grid assignment and re-location use.
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    unit_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    network: Mapped[str | None] = mapped_column(String(16))  # pipelines: water|drainage|…
    competent_dept: Mapped[str | None] = mapped_column(String(100))
    owner_dept: Mapped[str | None] = mapped_column(String(100))
    # The owner as a managed department (dispatch goes there by default); owner_dept keeps the
    # text the survey recorded.
    owner_department_code: Mapped[str | None] = mapped_column(
        ForeignKey("departments.code", ondelete="SET NULL")
    )
    maintenance_dept: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(4), default="完好")
    initial_date: Mapped[date | None] = mapped_column(Date)
    change_date: Mapped[date | None] = mapped_column(Date)
    data_source: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ComponentSerial(Base):
    """The last serial handed out per (county, class); never decremented, so never reused."""

    __tablename__ = "component_serials"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    class_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class ComponentClassExtension(Base):
    """A local component class under major class 21 (e.g. 2101 共享单车停放点) of a county."""

    __tablename__ = "component_class_extensions"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    # Pipeline classes: the network (NETWORKS) and "line" for the pipeline itself (else point).
    network: Mapped[str | None] = mapped_column(String(16))
    geometry: Mapped[str | None] = mapped_column(String(8))
