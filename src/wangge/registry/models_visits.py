"""走访 (household visits): who visited which household when, with notes and photos."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, utcnow
from wangge.db import Base


class HouseholdVisit(TenantMixin, Base):
    """One visit of a household (入户走访) by a grid worker."""

    __tablename__ = "household_visits"
    __table_args__ = (
        Index("ix_household_visits_grid_day", "grid_id", "visited_on"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    # The household's social grid on the day (coverage counts per grid; re-divisions move
    # households, not past visits).
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    visited_on: Mapped[date] = mapped_column(Date)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    worker_name: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    # References to uploads (/api/v1/uploads/<id>), as cases store them.
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
