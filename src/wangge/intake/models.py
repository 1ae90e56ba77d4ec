"""Tables of the intake: who called or which camera saw it, 回访 callbacks, replies to 12345."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.common.models import utcnow
from wangge.db import Base


class CaseIntake(Base):
    """How a case came in (one row per case): channel, 工单号, caller, camera, video events."""

    __tablename__ = "case_intakes"
    # A 12345 work order is one case per county (NULLs do not collide on either database).
    __table_args__ = (
        UniqueConstraint("county_code", "work_order_no", name="uq_case_intakes_work_order"),
        Index("ix_case_intakes_camera", "county_code", "camera_key", "category_code"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    county_code: Mapped[str] = mapped_column(String(6))
    category_code: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    work_order_no: Mapped[str | None] = mapped_column(String(32))
    caller_name: Mapped[str | None] = mapped_column(String(50))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    camera_key: Mapped[str | None] = mapped_column(String(100))
    external_event_id: Mapped[str | None] = mapped_column(String(64))
    # Video events folded into this case (the first included) and the latest one's time.
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseCallback(Base):
    """A 回访: the acceptor called the caller back (reached or not, how satisfied)."""

    __tablename__ = "case_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class HotlineReply(Base):
    """A reply sent back to the 12345 platform (过程反馈 or 办结回复) through the outbox."""

    __tablename__ = "hotline_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    work_order_no: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # progress | final
    result: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))


class VideoEvent(Base):
    """One event of a video-analytics platform, kept whether it opened a case or joined one."""

    __tablename__ = "video_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The platform's own id: the same event sent twice is answered with the first outcome.
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    county_code: Mapped[str] = mapped_column(String(6))
    camera_key: Mapped[str] = mapped_column(String(100))
    category_code: Mapped[str] = mapped_column(String(16))
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    opened_case: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
