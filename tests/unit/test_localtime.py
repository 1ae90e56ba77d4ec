"""The one time format: `2026-12-04 09:30` in Asia/Shanghai, whatever the input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from wangge.common.localtime import DATETIME_FORMAT, local_time


def test_a_utc_time_is_shown_in_shanghai_to_the_minute():
    assert local_time(datetime(2026, 12, 4, 1, 30, 59, tzinfo=UTC)) == "2026-12-04 09:30"


def test_a_time_in_another_zone_is_converted_first():
    new_york = timezone(timedelta(hours=-5))
    assert local_time(datetime(2026, 12, 3, 20, 30, tzinfo=new_york)) == "2026-12-04 09:30"


def test_a_naive_time_counts_as_utc_as_it_is_stored():
    assert local_time(datetime(2026, 12, 4, 1, 30)) == "2026-12-04 09:30"


def test_iso_strings_as_the_api_writes_them_format_the_same():
    assert local_time("2026-12-04T01:30:00+00:00") == "2026-12-04 09:30"
    assert local_time("2026-12-04T01:30:00Z") == "2026-12-04 09:30"


def test_the_day_changes_at_shanghai_midnight_not_utc_midnight():
    assert local_time(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01-01 00:00"


def test_a_calendar_date_shows_as_a_date_and_nothing_as_nothing():
    assert local_time(date(2026, 12, 4)) == "2026-12-04"
    assert local_time(None) == "" and local_time("") == ""


def test_a_shorter_format_can_be_asked_for():
    assert local_time(datetime(2026, 12, 4, 1, 30, tzinfo=UTC), "%Y-%m-%d") == "2026-12-04"
    assert DATETIME_FORMAT == "%Y-%m-%d %H:%M"
