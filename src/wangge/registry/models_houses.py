"""Houses (实有房屋): buildings with a location or footprint, rooms, tenancies."""

from __future__ import annotations

from datetime import date, datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import BBoxMixin, TenantMixin, TimestampMixin
from wangge.common.spatial import Geometry
from wangge.db import Base

ROOM_USES = {"owner_occupied": "自住", "rented": "出租", "vacant": "空置", "business": "经营"}


class Building(TenantMixin, BBoxMixin, TimestampMixin, Base):
    """A building (楼栋): a point or a footprint, located in its grids (房入格)."""

    __tablename__ = "buildings"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("Geometry"))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    unit_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    # The micro grid (微网格: a lane, a building) holding it inside its grid, if any.
    micro_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    floors: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str | None] = mapped_column(String(20))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Room(TenantMixin, TimestampMixin, Base):
    """A room (房屋) of a building, with its use and, when rented, the landlord."""

    __tablename__ = "rooms"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    unit: Mapped[str | None] = mapped_column(String(10))
    floor: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    area_m2: Mapped[float | None] = mapped_column(Float)
    use: Mapped[str] = mapped_column(String(16), default="owner_occupied")
    landlord_name: Mapped[str | None] = mapped_column(String(50))
    landlord_phone: Mapped[str | None] = mapped_column(String(30))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Tenancy(TenantMixin, TimestampMixin, Base):
    """A rental contract of a room: tenant and contract period."""

    __tablename__ = "tenancies"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    tenant_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    tenant_name: Mapped[str] = mapped_column(String(50))
    contract_no: Mapped[str | None] = mapped_column(String(50))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
