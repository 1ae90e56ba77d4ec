"""Column helpers shared by the domain models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, String
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC (the storage zone)."""
    return datetime.now(UTC)


class TenantMixin:
    """Every territorial row carries its county-level code: the tenant and distribution key."""

    county_code: Mapped[str] = mapped_column(String(6), index=True)


class BBoxMixin:
    """Bounding-box columns so SQLite filters by extent without a spatial extension."""

    minx: Mapped[float | None] = mapped_column(Float)
    miny: Mapped[float | None] = mapped_column(Float)
    maxx: Mapped[float | None] = mapped_column(Float)
    maxy: Mapped[float | None] = mapped_column(Float)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
