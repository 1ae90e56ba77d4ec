"""Stored evaluation facts: one row per case event, kept in step with the event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.db import Base


class CaseEventFact(Base):
    """What `evaluation.facts.stored_facts_of_case` derives for one event.

    Written in the transaction that writes the event (and rewritten for the case's earlier
    events when the new one changes their flags), so a month's evaluation is a GROUP BY over
    the month's rows instead of window functions over the whole history. `*_at` columns hold
    the time of the first event that makes a flag true: the flag as seen at the end of a
    period is `x_at < end`. `wangge eval rebuild-facts` recomputes the table from the events.
    """

    __tablename__ = "case_event_facts"
    __table_args__ = (Index("ix_case_event_facts_county_code_at", "county_code", "at"),)

    event_id: Mapped[int] = mapped_column(
        ForeignKey("case_events.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    part: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    # the case's place (follows the case when a re-division moves it; see stored.py)
    grid: Mapped[str | None] = mapped_column(String(20))
    community: Mapped[str | None] = mapped_column(String(12))
    rating: Mapped[str | None] = mapped_column(String(24))
    gap: Mapped[float | None] = mapped_column(Float)  # seconds since the previous state change
    seg_first: Mapped[bool] = mapped_column(Boolean, default=False)
    seg_rework: Mapped[bool] = mapped_column(Boolean, default=False)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrong_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fed_on_time_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ext_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    susp_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvaluationState(Base):
    """Singleton rows of evaluation bookkeeping, e.g. the stage limits the facts were built with."""

    __tablename__ = "evaluation_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
