"""Tables of the case loop: categories and routing, cases, parts, events, patrols, outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from wangge.common.models import TenantMixin, TimestampMixin, utcnow
from wangge.db import Base


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; SQLite gives naive values back, made UTC here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC so that text comparison on SQLite orders correctly."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; pass a timezone-aware value")
        out = value.astimezone(UTC)
        return out.replace(tzinfo=None) if dialect.name == "sqlite" else out

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Category(TimestampMixin, Base):
    """A class of problem: GB/T 30428.2 event/component classes plus social-governance ones."""

    __tablename__ = "case_categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # event | component | social
    name: Mapped[str] = mapped_column(String(100))
    major_code: Mapped[str] = mapped_column(String(16))
    major_name: Mapped[str] = mapped_column(String(100))
    filing_condition: Mapped[str | None] = mapped_column(Text)  # 立案条件
    closing_condition: Mapped[str | None] = mapped_column(Text)  # 结案条件
    # {stage: {"A": hours, "B": hours, "C": hours}}; missing stages use the city default.
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    default_department: Mapped[str | None] = mapped_column(String(32))
    admitted_to_grid: Mapped[bool] = mapped_column(Boolean, default=False)  # 准入清单
    minor: Mapped[bool] = mapped_column(Boolean, default=False)  # 小事: grid may self-handle
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "standard" rows come from a catalogue release and are upgraded by newer releases,
    # except the fields in `edited` (the district's own changes); "local" rows (X…) are the
    # district's own and never touched by an upgrade.
    origin: Mapped[str] = mapped_column(String(16), default="standard")
    release: Mapped[str | None] = mapped_column(String(32))
    edited: Mapped[list[Any]] = mapped_column(JSON, default=list)
    business_line: Mapped[str | None] = mapped_column(String(32))  # BusinessLine.code


class RoutingRule(TenantMixin, TimestampMixin, Base):
    """Which department handles a class in an area class (None: any); editable by the center."""

    __tablename__ = "case_routing_rules"
    # One rule per (county, category, area class, area prefix, line): None means "any", and a
    # plain unique index treats NULLs as distinct, so the key compares coalesced values.
    __table_args__ = (
        Index(
            "uq_case_routing_rules_key",
            "county_code",
            "category_code",
            text("coalesce(area_class, '')"),
            text("coalesce(area_prefix, '')"),
            text("coalesce(business_line, '')"),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("case_categories.code"), index=True)
    area_class: Mapped[str | None] = mapped_column(String(1))
    # A street (9 digits) or community (12) the rule is limited to; None: the whole county.
    area_prefix: Mapped[str | None] = mapped_column(String(12))
    business_line: Mapped[str | None] = mapped_column(String(32))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    assisting: Mapped[list[str]] = mapped_column(JSON, default=list)


class ResponseRule(TenantMixin, TimestampMixin, Base):
    """A time limit by intake channel and urgency (金牛: citizens answered in 2 h / 24 h / 72 h).

    `stage` is a stage of the loop, or "respond" (first answer to the reporter) or "solve"
    (report to close); `around_the_clock` counts wall-clock hours instead of working hours.
    """

    __tablename__ = "case_response_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))  # cases.vocabulary.Source
    urgent: Mapped[bool | None] = mapped_column(Boolean)  # None: urgent or not
    stage: Mapped[str] = mapped_column(String(16))
    hours: Mapped[float] = mapped_column(Float)
    around_the_clock: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class AreaClassRule(TenantMixin, Base):
    """Area class (A core / B general / C outer) of a division or grid code prefix."""

    __tablename__ = "case_area_classes"
    __table_args__ = (UniqueConstraint("county_code", "prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20))
    area_class: Mapped[str] = mapped_column(String(1))


class Case(TenantMixin, TimestampMixin, Base):
    """A case (案卷); `state` caches the newest event, `version` guards compare-and-set."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("reporter_id", "idempotency_key"),
        Index("ix_cases_county_code_state", "county_code", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("case_categories.code"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    unit_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    # The micro grid (微网格: a lane, a building) holding it inside its grid, if any.
    micro_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    # Division codes do not change with re-divisions, so scope checks use them first.
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    area_class: Mapped[str] = mapped_column(String(1), default="B")
    component_code: Mapped[str | None] = mapped_column(String(20), index=True)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(24), index=True)
    level: Mapped[str] = mapped_column(String(12), default="community")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reporter_id: Mapped[str] = mapped_column(String(64), index=True)
    reporter_role: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id"), index=True)
    handler_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[str | None] = mapped_column(String(24))
    # The running stage clock: what is timed now, since when, and until when.
    stage: Mapped[str | None] = mapped_column(String(16))
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The deadline the sweep escalated for: set once, so a re-run does nothing.
    overdue_escalated_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_count: Mapped[int] = mapped_column(Integer, default=0)
    # Promises to the reporter from the channel's response rules (issue 13): the first answer
    # and report → close, each with the deadline the sweep escalated for; `promise` keeps the
    # rules as made (hours, clock, start) for the lights and the citizen page.
    respond_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    respond_escalated_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solve_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solve_escalated_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promise: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The earliest running deadline (stage, answer or solve): what overdue queues compare.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class CasePart(Base):
    """One department's share of a dispatched case (主办 or 协办) with its own clock."""

    __tablename__ = "case_parts"
    __table_args__ = (UniqueConstraint("case_id", "department_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    lead: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handler_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    extension_hours: Mapped[float] = mapped_column(Float, default=0.0)
    pending_extension_hours: Mapped[float | None] = mapped_column(Float)
    suspensions: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    suspended_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)


class CaseEvent(Base):
    """One accepted action; never updated or deleted (the state columns are its cache)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    action: Mapped[str] = mapped_column(String(24), index=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    part: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The deadlines the case showed right after this event, computed by the case clocks
    # (`cases.timing`): the running stage's (while handling, the earliest running part's;
    # None once final or while every clock stands) and, for an event on one department's
    # part, that part's. The evaluation judges each stage against them, so a later change of
    # the calendar or of a limit never changes a period already evaluated. None on events
    # from before migration 0018 except where it filled in what open cases showed.
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    part_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)


def events_of(case: Case) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Where-clauses of one case's events, bounded by its report (no event comes before it).

    On PostgreSQL the events and their facts are partitioned by month: a read by case id alone
    probes every month's partition (28 months: 0.9–1.2 ms instead of 0.06 ms); with the
    report's time the months before it are pruned.
    """
    return CaseEvent.case_id == case.id, CaseEvent.at >= case.reported_at


class CaseReporter(Base):
    """Everyone who reported a case, including reporters of duplicates merged into it."""

    __tablename__ = "case_reporters"
    __table_args__ = (UniqueConstraint("case_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[str] = mapped_column(String(64), index=True)
    via_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Patrol(TenantMixin, Base):
    """One patrol (巡查) of a grid worker; reports made during it link to it."""

    __tablename__ = "patrols"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date, index=True)  # local (Asia/Shanghai) day
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    point_count: Mapped[int] = mapped_column(Integer, default=0)


class PatrolPoint(Base):
    """A track point; carries its grid ids computed on write so daily tracks are equality."""

    __tablename__ = "patrol_points"
    __table_args__ = (Index("ix_patrol_points_grid_id_day", "grid_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[date] = mapped_column(Date)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    unit_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))


class OutboxMessage(Base):
    """A notification written with the change that causes it, delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str | None] = mapped_column(String(6))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="in_app")
    recipient: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A scheduled message (one 预警 per deadline) is written once: its key is unique.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    # The external copy of a message goes through this route (`wangge.notifications`).
    route_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_routes.id", ondelete="SET NULL")
    )


class Delivery(Base):
    """One delivery attempt of an outbox message, successful or not."""

    __tablename__ = "outbox_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class Message(Base):
    """An in-app message (站内信) delivered by the InAppChannel."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    outbox_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
