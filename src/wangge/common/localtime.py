"""The one way the platform shows a time: `2026-12-04 09:30` in Asia/Shanghai.

Times are stored in UTC; pages, scripts (`WG.fmt` in web/static/common.js writes the same
pattern), reports and case notes show them with `local_time`. A naive datetime counts as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"


def local_time(value: datetime | date | str | None, fmt: str = DATETIME_FORMAT) -> str:
    """Format a UTC datetime (or ISO string) in Asia/Shanghai; a bare date as `2026-12-04`."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):  # a calendar date has no time zone to convert
        return value.strftime(DATE_FORMAT)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)
