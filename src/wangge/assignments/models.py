"""Who serves which grid (网格员配置): full- and part-time grid workers, grid and micro leaders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, TimestampMixin
from wangge.db import Base

KINDS = {
    "full_time": ("专职网格员", "full-time grid worker"),
    "part_time": ("兼职网格员", "part-time grid worker"),
    "leader": ("网格长", "grid leader"),
    "micro_leader": ("微网格长", "micro-grid leader"),
}


class GridAssignment(TenantMixin, TimestampMixin, Base):
    """One person serving one grid, from a start date to an end date (None: still serving).

    The grid is kept by code and layer, not id: a re-division that keeps a code keeps the
    assignment, and the "我的网格员" page, the worker's task list and the patrol denominator
    read the assignments in force on a day.
    """

    __tablename__ = "grid_assignments"
    __table_args__ = (Index("ix_grid_assignments_grid", "county_code", "layer", "grid_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(20))
    layer: Mapped[str] = mapped_column(String(8), default="social")
    kind: Mapped[str] = mapped_column(String(16))  # a key of KINDS
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # A micro-grid leader (微网格长) is shown on "我的网格员" only when published; the grid's own
    # workers always are (上岗公示).
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
