"""Tables of the disputes: the dispute, its parties, mediation sessions and history events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.common.models import utcnow
from wangge.db import Base


class Dispute(Base):
    """A 矛盾纠纷 in a grid, from registration to the follow-up visit that closes it."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_area", "county_code", "community_code", "grid_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    community_code: Mapped[str] = mapped_column(String(12))
    # The social grid; its code is kept so scope checks need no join (and survive re-division).
    grid_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reporter_id: Mapped[str] = mapped_column(String(64))
    reporter_name: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    mediator_user_id: Mapped[int | None] = mapped_column(Integer)
    mediator_name: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    transferred_to: Mapped[str | None] = mapped_column(String(100))
    no_agreement_reason: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An uploaded photo or scan of the signed 调解协议书 (uploads.id; no cascade, as for cases).
    agreement_upload_id: Mapped[str | None] = mapped_column(String(32))
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_worker: Mapped[str | None] = mapped_column(String(100))
    follow_up_result: Mapped[str | None] = mapped_column(Text)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DisputeParty(Base):
    """A party to a dispute; name, phone and ID number are personal data (masked on read)."""

    __tablename__ = "dispute_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(18))


class DisputeSession(Base):
    """One mediation session: when, where, what was said."""

    __tablename__ = "dispute_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DisputeEvent(Base):
    """A step in a dispute's history (who, when, from which state to which)."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
