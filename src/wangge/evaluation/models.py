"""Stored evaluation facts: one row per case event, kept in step with the event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
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
    # the deadline the case showed while waiting for this event (None: judged by `gap`)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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


class CaseClockFact(Base):
    """A clock of a case that outlived its recorded deadline (`evaluation.facts.clock_spans`).

    The case's stage clock once it was filed (`part` None) or one department's handling clock
    (`part`), shown by event `event_id` from `at` until `ends_at` (the next event that moves
    it; None: still running). A period ending at E finds it overdue when
    `at < E <= ends_at` and `deadline < E`: 超期未结案 / 超期未处置. Only clocks that can be
    found so are kept (still running, or ended after their deadline). Kept in step with the
    events like `CaseEventFact`.
    """

    __tablename__ = "case_clock_facts"
    __table_args__ = (Index("ix_case_clock_facts_county_code_ends_at", "county_code", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    part: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the department's handling spell entered 应处置数 (its first own event)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reporter: Mapped[str | None] = mapped_column(String(64))  # grid worker who reported it
    grid: Mapped[str | None] = mapped_column(String(20))
    community: Mapped[str | None] = mapped_column(String(12))


class EvaluationState(Base):
    """Singleton rows of evaluation bookkeeping, e.g. the stage limits the facts were built with."""

    __tablename__ = "evaluation_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
