"""Reference lists to measure the registry against (两网化: the employers a county should have)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, utcnow
from wangge.db import Base


class EmployerReference(TenantMixin, Base):
    """An employer on a reference list (e.g. the market-regulation register) from one date on.

    Each import is the county's whole list as of a date: an employer first seen is listed from
    that date, one no longer on the list is delisted from it, so coverage at any past month is
    measured against the list as it stood then.
    """

    __tablename__ = "employer_references"
    __table_args__ = (Index("ix_employer_references_county_credit", "county_code", "credit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    # Where the list places it (its community code, or a position located in a grid); the
    # registered organisation's own place is preferred once there is one.
    community_code: Mapped[str | None] = mapped_column(String(12))
    grid_id: Mapped[int | None] = mapped_column(Integer)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(100))
    listed_on: Mapped[date] = mapped_column(Date)
    delisted_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
