"""The case code people read and say on the phone: county, local report date, case number."""

from __future__ import annotations

from datetime import datetime

from wangge.common.localtime import SHANGHAI


def case_code(county_code: str, reported_at: datetime, case_id: int) -> str:
    """`110108` + `20261204` + `0000042`: the date is the county's, not UTC's (07:00 Beijing is
    23:00 UTC the day before), the number the case's id (from a sequence, never reused)."""
    return f"{county_code}{reported_at.astimezone(SHANGHAI):%Y%m%d}{case_id:07d}"
