"""Working-time arithmetic on the official Chinese calendar, stage clocks and traffic lights.

Pure: no database, web or clock; `now` is always an argument. Datetimes must be timezone-aware
(naive ones are refused); results are returned in UTC, the arithmetic runs in Asia/Shanghai.
Working days come from `chinese_calendar` (weekends and public holidays off, make-up working
days 调休 on), overridden by local extra holidays and workdays; outside the years the package
knows, Monday–Friday is assumed and a `CalendarFallbackWarning` says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]  # ships no type hints

from wangge.cases.limits import (
    WORKING_DAY_HOURS,
    AreaClass,
    LimitRule,
    Stage,
    StageLimit,
    TimeLimits,
)
from wangge.errors import ValidationFailed

__all__ = [
    "SHANGHAI",
    "WORKING_DAY_HOURS",
    "AreaClass",
    "CalendarFallbackWarning",
    "Clock",
    "Light",
    "LimitRule",
    "Stage",
    "StageLimit",
    "TimeLimits",
    "WorkCalendar",
    "ensure_aware",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Searching further than this for working time means the calendar has none: refuse, don't spin.
_MAX_DAYS = 3700

Period = tuple[int, int, int, int]
Interval = tuple[datetime, datetime]


class CalendarFallbackWarning(UserWarning):
    """A date lies outside the years `chinese_calendar` knows; Monday–Friday was assumed."""


class Light(StrEnum):
    """Traffic light of a running clock."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return `value` in UTC, or raise ValidationFailed if it has no time zone."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{name} 必须是带时区的时间",
            f"{name} must be a timezone-aware datetime",
            code="naive_datetime",
            field=name,
        )
    return value.astimezone(UTC)


@lru_cache(maxsize=8192)
def _official_workday(day: date) -> bool | None:
    """Return the official answer for `day`, or None when the package has no data for its year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class WorkCalendar:
    """Working periods of the day plus the official calendar with local overrides."""

    periods: tuple[Period, ...] = ((8, 0, 12, 0), (14, 0, 18, 0))
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)
    tz: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        """Freeze the override sets and refuse overlapping or unordered periods."""
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        both = self.extra_holidays & self.extra_workdays
        if both:
            raise ValidationFailed(
                f"日期不能同时是节假日和工作日：{sorted(both)}",
                f"dates cannot be both extra holidays and extra workdays: {sorted(both)}",
                code="calendar_conflict",
            )
        minutes = [(h1 * 60 + m1, h2 * 60 + m2) for h1, m1, h2, m2 in self.periods]
        flat = [m for pair in minutes for m in pair]
        if (
            not minutes
            or flat != sorted(flat)
            or any(a >= b for a, b in minutes)
            or flat[-1] > 1440
        ):
            raise ValidationFailed(
                "工作时段必须按时间顺序排列且互不重叠",
                "working periods must be ordered, non-empty and non-overlapping within a day",
                code="bad_periods",
                field="periods",
            )

    def day_source(self, day: date) -> Literal["override", "official", "fallback"]:
        """Say where the working-day answer for `day` comes from."""
        if day in self.extra_holidays or day in self.extra_workdays:
            return "override"
        return "official" if _official_workday(day) is not None else "fallback"

    def is_workday(self, day: date) -> bool:
        """Return True if `day` is a working day (overrides, then official, then Mon–Fri)."""
        if day in self.extra_holidays:
            return False
        if day in self.extra_workdays:
            return True
        official = _official_workday(day)
        if official is None:
            warnings.warn(
                f"chinese_calendar has no data for {day.year}; assuming Monday–Friday",
                CalendarFallbackWarning,
                stacklevel=2,
            )
            return day.weekday() < 5
        return official

    def windows(self, day: date) -> list[Interval]:
        """Return the working intervals of `day` (empty on days off), aware in `tz`."""
        if not self.is_workday(day):
            return []
        out = []
        for h1, m1, h2, m2 in self.periods:
            begin = datetime.combine(day, time(h1, m1), self.tz)
            # 24:00 is allowed as an end; it is the next midnight.
            end = datetime.combine(day, time(0), self.tz) + timedelta(hours=h2, minutes=m2)
            out.append((begin, end))
        return out

    def is_working_time(self, at: datetime) -> bool:
        """Return True if `at` falls inside a working period."""
        local = ensure_aware(at, "at").astimezone(self.tz)
        return any(b <= local < e for b, e in self.windows(local.date()))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the moment `hours` working hours after `start` (in UTC)."""
        start = ensure_aware(start, "start")
        if hours < 0:
            raise ValidationFailed(
                "工作小时数不能为负", "hours must not be negative", code="negative_hours"
            )
        remaining = timedelta(hours=hours)
        if not remaining:
            return start
        cursor = start.astimezone(self.tz)
        day = cursor.date()
        for _ in range(_MAX_DAYS):
            for begin, end in self.windows(day):
                seg_start = max(cursor, begin)
                if seg_start >= end:
                    continue
                available = end - seg_start
                if remaining <= available:
                    return (seg_start + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise ValidationFailed(
            "日历中找不到足够的工作时间",
            "no working time found in the calendar",
            code="no_worktime",
        )

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Return the working hours from `a` to `b` (negative if `b` is earlier)."""
        a, b = ensure_aware(a, "a"), ensure_aware(b, "b")
        if b < a:
            return -self.working_hours_between(b, a)
        a_local, b_local = a.astimezone(self.tz), b.astimezone(self.tz)
        total = timedelta()
        day = a_local.date()
        while day <= b_local.date():
            for begin, end in self.windows(day):
                lo, hi = max(begin, a_local), min(end, b_local)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total / timedelta(hours=1)


def _merge(intervals: Iterable[Interval], floor: datetime) -> list[Interval]:
    """Return the suspensions after `floor`, validated, sorted and merged."""
    cleaned = []
    for begin, end in intervals:
        begin, end = ensure_aware(begin, "suspension_from"), ensure_aware(end, "suspension_to")
        if end < begin:
            raise ValidationFailed(
                "挂账结束时间早于开始时间",
                "a suspension ends before it starts",
                code="bad_interval",
                field="suspensions",
            )
        begin = max(begin, floor)
        if end > begin:
            cleaned.append((begin, end))
    merged: list[Interval] = []
    for begin, end in sorted(cleaned):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


@dataclass(frozen=True)
class Clock:
    """The clock of one case stage: deadline, time used and the traffic light."""

    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    yellow_ratio: float = 0.8

    def _measure(self, a: datetime, b: datetime, urgent: bool) -> float:
        if urgent:
            return (b - a) / timedelta(hours=1)
        return self.calendar.working_hours_between(a, b)

    def deadline(
        self,
        start: datetime,
        limit_hours: float,
        *,
        urgent: bool = False,
        suspensions: Sequence[Interval] = (),
        extension_hours: float = 0.0,
    ) -> datetime:
        """Return when the stage is due: urgent on the wall clock, otherwise in working hours.

        Suspended intervals do not count; for a suspension still running pass `now` as its end.
        An approved extension adds its hours on the same clock.
        """
        start = ensure_aware(start, "start")
        if limit_hours < 0 or extension_hours < 0:
            raise ValidationFailed(
                "时限不能为负", "time limits must not be negative", code="negative_hours"
            )
        total = limit_hours + extension_hours
        if urgent:
            end = start + timedelta(hours=total)
            for begin, stop in _merge(suspensions, start):
                if begin >= end:
                    break
                end += stop - begin
            return end
        cursor, remaining = start, total
        for begin, stop in _merge(suspensions, start):
            due = self.calendar.add_working_hours(cursor, remaining)
            if due <= begin:
                return due
            remaining -= self.calendar.working_hours_between(cursor, begin)
            cursor = stop
        return self.calendar.add_working_hours(cursor, max(remaining, 0.0))

    def elapsed(
        self,
        start: datetime,
        now: datetime,
        *,
        urgent: bool = False,
        suspensions: Sequence[Interval] = (),
    ) -> float:
        """Return the hours the clock has run from `start` to `now`, suspensions excluded."""
        start, now = ensure_aware(start, "start"), ensure_aware(now, "now")
        if now <= start:
            return 0.0
        used = self._measure(start, now, urgent)
        for begin, stop in _merge(suspensions, start):
            if begin >= now:
                break
            used -= self._measure(begin, min(stop, now), urgent)
        return used

    def light(
        self,
        now: datetime,
        start: datetime,
        deadline: datetime,
        *,
        urgent: bool = False,
        suspensions: Sequence[Interval] = (),
    ) -> Light:
        """Return red past the deadline, yellow once `yellow_ratio` of the limit is used."""
        now, deadline = ensure_aware(now, "now"), ensure_aware(deadline, "deadline")
        if now > deadline:
            return Light.RED
        limit = self.elapsed(start, deadline, urgent=urgent, suspensions=suspensions)
        used = self.elapsed(start, now, urgent=urgent, suspensions=suspensions)
        # A zero limit is due at once: warn rather than show green.
        if limit <= 0 or used >= self.yellow_ratio * limit - 1e-9:
            return Light.YELLOW
        return Light.GREEN
