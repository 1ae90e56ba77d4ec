"""Working time on the official calendar (调休 included), stage clocks, lights and limits."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pydantic
import pytest

from wangge.cases.deadlines import (
    SHANGHAI,
    AreaClass,
    CalendarFallbackWarning,
    Clock,
    Light,
    LimitRule,
    Stage,
    TimeLimits,
    WorkCalendar,
)
from wangge.errors import ValidationFailed

CAL = WorkCalendar()
CLOCK = Clock(CAL)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """Return a Shanghai wall-clock moment."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


# --- the official calendar -------------------------------------------------------------------

SPRING_2026_OFF = [date(2026, 2, d) for d in range(15, 24)]
SPRING_2026_MAKEUP = [date(2026, 2, 14), date(2026, 2, 28)]
SPRING_2025_OFF = [date(2025, 1, 28) + timedelta(days=i) for i in range(8)]
SPRING_2025_MAKEUP = [date(2025, 1, 26), date(2025, 2, 8)]


def test_the_package_and_the_calendar_agree_on_spring_festival_2026() -> None:
    for day in SPRING_2026_OFF:
        assert not chinese_calendar.is_workday(day) and not CAL.is_workday(day), day
    for day in SPRING_2026_MAKEUP:
        assert day.weekday() == 5
        assert chinese_calendar.is_workday(day) and CAL.is_workday(day), day
    assert CAL.day_source(date(2026, 2, 14)) == "official"


def test_the_package_and_the_calendar_agree_on_spring_festival_2025() -> None:
    for day in SPRING_2025_OFF:
        assert not CAL.is_workday(day), day
    assert [d.weekday() for d in SPRING_2025_MAKEUP] == [6, 5]
    assert all(CAL.is_workday(d) for d in SPRING_2025_MAKEUP)
    assert not CAL.is_workday(date(2025, 1, 25)) and not CAL.is_workday(date(2025, 2, 9))


def test_friday_evening_before_spring_festival_2026_runs_into_the_saturday_makeup_day() -> None:
    assert CAL.add_working_hours(sh(2026, 2, 13, 17), 4) == sh(2026, 2, 14, 11)


def test_a_deadline_across_spring_festival_2026_skips_the_nine_days_off() -> None:
    assert CAL.add_working_hours(sh(2026, 2, 14, 16), 8) == sh(2026, 2, 24, 16)
    assert CAL.working_hours_between(sh(2026, 2, 13, 8), sh(2026, 2, 25, 8)) == 24
    assert CAL.add_working_hours(sh(2026, 2, 27, 17), 4) == sh(2026, 2, 28, 11)


def test_spring_festival_2025_counts_the_sunday_and_saturday_makeup_days() -> None:
    assert CAL.add_working_hours(sh(2025, 1, 24, 17), 4) == sh(2025, 1, 26, 11)
    assert CAL.add_working_hours(sh(2025, 1, 27, 17), 2) == sh(2025, 2, 5, 9)
    assert CAL.add_working_hours(sh(2025, 2, 7, 17), 4) == sh(2025, 2, 8, 11)
    # 1-24, 1-26, 1-27, 2-05 … 2-08: seven working days.
    assert CAL.working_hours_between(sh(2025, 1, 24, 8), sh(2025, 2, 10, 8)) == 7 * 8


def test_a_deadline_starting_friday_17_00_with_4_working_hours_ends_monday_11_00() -> None:
    due = CAL.add_working_hours(sh(2026, 3, 6, 17), 4)
    assert due == sh(2026, 3, 9, 11) and due.tzinfo is UTC


def test_a_start_inside_the_lunch_break_counts_from_14_00() -> None:
    assert CAL.add_working_hours(sh(2026, 3, 4, 12, 30), 1) == sh(2026, 3, 4, 15)
    assert CAL.working_hours_between(sh(2026, 3, 4, 12, 30), sh(2026, 3, 4, 14)) == 0
    assert CAL.add_working_hours(sh(2026, 3, 4, 11), 1) == sh(2026, 3, 4, 12)
    assert not CAL.is_working_time(sh(2026, 3, 4, 13))


def test_custom_working_periods_are_honoured_and_bad_ones_refused() -> None:
    summer = WorkCalendar(periods=((8, 30, 12, 0), (14, 30, 18, 0)))
    assert summer.add_working_hours(sh(2026, 3, 4, 8), 4) == sh(2026, 3, 4, 15)
    with pytest.raises(ValidationFailed):
        WorkCalendar(periods=((14, 0, 18, 0), (8, 0, 12, 0)))


# --- clocks ---------------------------------------------------------------------------------


def test_an_urgent_clock_runs_24_hours_straight_through_a_holiday() -> None:
    start = sh(2026, 2, 16, 10)
    assert CLOCK.deadline(start, 24, urgent=True) == sh(2026, 2, 17, 10)
    assert CLOCK.deadline(start, 24) == sh(2026, 2, 26, 18)


def test_a_suspension_stops_the_clock() -> None:
    start = sh(2026, 3, 2, 9)
    assert CLOCK.deadline(start, 8) == sh(2026, 3, 3, 9)
    paused = [(sh(2026, 3, 2, 10), sh(2026, 3, 3, 10))]
    assert CLOCK.deadline(start, 8, suspensions=paused) == sh(2026, 3, 4, 9)
    lunch_pause = [(sh(2026, 3, 2, 12), sh(2026, 3, 2, 14))]
    assert CLOCK.deadline(start, 24, urgent=True, suspensions=lunch_pause) == sh(2026, 3, 3, 11)
    after = [(sh(2026, 3, 5, 9), sh(2026, 3, 6, 9))]
    assert CLOCK.deadline(start, 8, suspensions=after) == sh(2026, 3, 3, 9)
    assert CLOCK.elapsed(start, sh(2026, 3, 3, 12), suspensions=paused) == 1 + 2


def test_an_extension_moves_the_deadline_by_working_hours() -> None:
    start = sh(2026, 3, 2, 9)
    assert CLOCK.deadline(start, 8, extension_hours=8) == sh(2026, 3, 4, 9)
    assert CLOCK.deadline(start, 2, urgent=True, extension_hours=1) == sh(2026, 3, 2, 12)


def test_the_light_turns_yellow_at_80_percent_and_red_when_overdue() -> None:
    start = sh(2026, 3, 2, 8)
    due = CLOCK.deadline(start, 10)
    assert due == sh(2026, 3, 3, 10)
    assert CLOCK.light(sh(2026, 3, 2, 17, 35), start, due) is Light.GREEN
    assert CLOCK.light(sh(2026, 3, 2, 18), start, due) is Light.YELLOW
    assert CLOCK.light(sh(2026, 3, 3, 8), start, due) is Light.YELLOW
    assert CLOCK.light(due, start, due) is Light.YELLOW
    assert CLOCK.light(sh(2026, 3, 3, 10, 1), start, due) is Light.RED


def test_the_yellow_ratio_is_configurable_and_suspended_time_does_not_count() -> None:
    half = Clock(CAL, yellow_ratio=0.5)
    start = sh(2026, 3, 2, 8)
    due = half.deadline(start, 10)
    assert half.light(sh(2026, 3, 2, 13), start, due) is Light.GREEN
    assert half.light(sh(2026, 3, 2, 15), start, due) is Light.YELLOW
    paused = [(sh(2026, 3, 2, 8), sh(2026, 3, 2, 18))]
    due = CLOCK.deadline(start, 10, suspensions=paused)
    assert CLOCK.light(sh(2026, 3, 3, 17), start, due, suspensions=paused) is Light.GREEN
    assert CLOCK.light(sh(2026, 3, 3, 17), start, due) is Light.YELLOW


# --- local overrides and guards -------------------------------------------------------------


def test_a_local_extra_holiday_and_an_extra_workday_override_the_official_calendar() -> None:
    start = sh(2026, 3, 6, 17)
    holiday = WorkCalendar(extra_holidays={date(2026, 3, 9)})
    assert holiday.add_working_hours(start, 4) == sh(2026, 3, 10, 11)
    workday = WorkCalendar(extra_workdays={date(2026, 3, 7)})
    assert workday.add_working_hours(start, 4) == sh(2026, 3, 7, 11)
    assert workday.day_source(date(2026, 3, 7)) == "override"
    with pytest.raises(ValidationFailed):
        WorkCalendar(extra_holidays={date(2026, 3, 7)}, extra_workdays={date(2026, 3, 7)})


def test_years_unknown_to_the_package_fall_back_to_monday_to_friday_and_say_so() -> None:
    assert CAL.day_source(date(2027, 3, 1)) == "fallback"
    with pytest.warns(CalendarFallbackWarning):
        assert CAL.is_workday(date(2027, 3, 1))
    with pytest.warns(CalendarFallbackWarning):
        assert not CAL.is_workday(date(2027, 3, 6))


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9)
    aware = sh(2026, 3, 2, 9)
    calls = [
        lambda: CAL.add_working_hours(naive, 1),
        lambda: CAL.working_hours_between(naive, aware),
        lambda: CAL.working_hours_between(aware, naive),
        lambda: CLOCK.deadline(naive, 8),
        lambda: CLOCK.deadline(aware, 8, suspensions=[(naive, naive)]),
        lambda: CLOCK.light(naive, aware, aware),
        lambda: CLOCK.elapsed(aware, naive),
    ]
    for call in calls:
        with pytest.raises(ValidationFailed) as err:
            call()
        assert err.value.code == "naive_datetime"


def test_negative_hours_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        CAL.add_working_hours(sh(2026, 3, 2, 9), -1)
    with pytest.raises(ValidationFailed):
        CLOCK.deadline(sh(2026, 3, 2, 9), 8, extension_hours=-1)


def test_working_hours_between_inverts_add_working_hours_over_many_random_starts() -> None:
    rng = random.Random(20260215)
    first = sh(2025, 1, 1)
    for _ in range(1500):
        start = first + timedelta(minutes=rng.randrange(0, 690 * 24 * 60))
        hours = rng.choice([0.25, 1, 4, 8, 16, 40]) * rng.random() * 2
        due = CAL.add_working_hours(start, hours)
        assert due >= start
        assert CAL.working_hours_between(start, due) == pytest.approx(hours, abs=1e-6)
        assert CAL.working_hours_between(due, start) == pytest.approx(-hours, abs=1e-6)
        if hours > 0:
            assert CAL.is_working_time(due - timedelta(seconds=1))


# --- configuration --------------------------------------------------------------------------


def test_limits_pick_the_condition_then_the_class_then_the_stage_default() -> None:
    limits = TimeLimits(
        rules=(
            LimitRule(category="0101", condition="010101", hours={"A": 2, "B": 4, "C": 8}),
            LimitRule(category="0101", hours={"A": 8, "B": 16}),
            LimitRule(category="0102", hours={"A": 1}, urgent=True),
        )
    )
    assert (
        limits.limit_for(Stage.HANDLE, category="0101", condition="010101", area=AreaClass.A).hours
        == 2
    )
    assert (
        limits.limit_for(Stage.HANDLE, category="0101", condition="other", area=AreaClass.B).hours
        == 16
    )
    assert limits.limit_for(Stage.HANDLE, category="0101", area=AreaClass.C).hours == 8
    assert limits.limit_for(Stage.HANDLE, category="0102", area=AreaClass.A).urgent
    assert limits.limit_for(Stage.VERIFY, category="0101").hours == 1
    assert limits.days(1.5) == 12
    with pytest.raises(pydantic.ValidationError):
        TimeLimits(rules=(LimitRule(category="01", hours={"A": 1}),) * 2)


def test_a_bad_configuration_is_refused_as_a_domain_error() -> None:
    with pytest.raises(ValidationFailed) as err:
        TimeLimits.load({"rules": [{"category": "0101", "hours": {"A": -1}}]})
    assert err.value.code == "bad_time_limits" and "rules" in (err.value.field or "")
    loaded = TimeLimits.load({"hours_per_day": 7.5})
    assert loaded.days(2) == 15
