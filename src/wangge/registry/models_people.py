"""People (实有人口), households (户) and address history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, TimestampMixin, utcnow
from wangge.db import Base

RESIDENCE_KINDS = {"registered": "户籍", "floating": "流动", "overseas": "境外"}
RELATIONS = ("户主", "配偶", "子女", "父母", "祖父母", "孙子女", "兄弟姐妹", "其他")


class Household(TenantMixin, TimestampMixin, Base):
    """A household (户): people living together, entered into a room (户入房)."""

    __tablename__ = "households"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), index=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))


class Person(TenantMixin, TimestampMixin, Base):
    """A resident; the ID number may sit in clear here but leaves only masked or audited."""

    __tablename__ = "people"
    # Ids are never reused (SQLite would hand out a deleted max id again): history keys on them.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    id_number: Mapped[str | None] = mapped_column(String(18))
    # Keyed hashes: exact search by ID number or phone without scanning clear text.
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(30))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    residence_kind: Mapped[str] = mapped_column(String(16), default="registered")
    nationality: Mapped[str | None] = mapped_column(String(50))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    relation: Mapped[str | None] = mapped_column(String(10))
    room_id: Mapped[int | None] = mapped_column(
        ForeignKey("rooms.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    # The micro grid (微网格: a lane, a building) holding it inside its grid, if any.
    micro_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )


class PersonAddress(TenantMixin, Base):
    """One address of a person over a period; the open one (until is NULL) is current."""

    __tablename__ = "person_addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(12))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
