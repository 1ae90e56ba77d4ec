"""The code of a 代办 request that residents read and say on the phone: `DB`, the local date
of the request, the request number."""

from __future__ import annotations

from datetime import datetime

from wangge.common.localtime import SHANGHAI

PREFIX = "DB"  # 代办


def request_code(requested_at: datetime, request_id: int) -> str:
    """`DB` + `20261204` + `00042`: the date is Beijing's, not UTC's (07:00 Beijing is 23:00 UTC
    the day before), the number the request's id (never reused)."""
    return f"{PREFIX}{requested_at.astimezone(SHANGHAI):%Y%m%d}{request_id:05d}"
