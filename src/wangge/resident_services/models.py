"""Tables of the resident services: the county's catalogue, the requests and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.db import Base


class ServiceItem(Base):
    """One service of a county's 代办 catalogue, with its materials and response rule."""

    __tablename__ = "resident_service_items"
    __table_args__ = (UniqueConstraint("county_code", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    code: Mapped[str] = mapped_column(String(16))
    family: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    # 金牛: answer within 2 h, settle within 24 h, complex matters within 72 h.
    respond_hours: Mapped[float] = mapped_column(Float)
    answer_hours: Mapped[float] = mapped_column(Float)
    complex_hours: Mapped[float] = mapped_column(Float)
    # False: the hours are working hours of the official calendar (调休 included).
    around_the_clock: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ServiceRequest(Base):
    """A resident's request for one service, handled by the grid workers of his grid."""

    __tablename__ = "resident_service_requests"
    __table_args__ = (
        Index("ix_resident_service_requests_area", "county_code", "community_code", "grid_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    county_code: Mapped[str] = mapped_column(String(6))
    community_code: Mapped[str] = mapped_column(String(12))
    grid_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    service_id: Mapped[int] = mapped_column(ForeignKey("resident_service_items.id"), index=True)
    # Snapshot of what the resident asked for: a later catalogue edit does not rewrite it.
    service_code: Mapped[str] = mapped_column(String(16))
    service_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    applicant_name: Mapped[str] = mapped_column(String(50))
    applicant_phone: Mapped[str] = mapped_column(String(32))
    # Only a hash of the tracking secret: staff reading the row cannot rate in his name.
    secret_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    around_the_clock: Mapped[bool] = mapped_column(Boolean, default=False)
    respond_hours: Mapped[float] = mapped_column(Float)
    answer_hours: Mapped[float] = mapped_column(Float)
    respond_due: Mapped[datetime] = mapped_column(UTCDateTime)
    answer_due: Mapped[datetime] = mapped_column(UTCDateTime)
    complex: Mapped[bool] = mapped_column(Boolean, default=False)
    complex_reason: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by: Mapped[str | None] = mapped_column(String(64))
    taken_by_name: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[str | None] = mapped_column(String(24))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ServiceRequestEvent(Base):
    """A step in a request's history (who, when, from which state to which)."""

    __tablename__ = "resident_service_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("resident_service_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
