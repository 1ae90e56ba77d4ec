"""代办 figures for the evaluation, kept apart from the problem-case indicators.

Counted over the requests made in a period (Beijing days): requested, answered (taken) and
answered on time, closed and closed on time, still open past due, rated and satisfied
(满意 + 基本满意, the cases' rule). Rates are None when their denominator is zero.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import ValidationFailed
from wangge.evaluation.periods import Period, parse_period
from wangge.resident_services.models import ServiceRequest
from wangge.resident_services.service import CLOSED, OPEN, RATED, area_condition

COUNTS = (
    "requested", "answered", "answered_on_time", "closed", "closed_on_time", "open_overdue",
    "rated", "satisfied",
)  # fmt: skip
LABELS: dict[str, tuple[str, str]] = {
    "requested": ("申请数", "requested"),
    "answered": ("已接单", "answered"),
    "answered_on_time": ("按时接单", "answered on time"),
    "closed": ("办结数", "closed"),
    "closed_on_time": ("按期办结", "closed on time"),
    "open_overdue": ("超期未办结", "open past due"),
    "rated": ("已评价", "rated"),
    "satisfied": ("满意（含基本满意）", "satisfied (incl. basically)"),
    "on_time_answer_rate": ("按时接单率", "answered-on-time rate"),
    "on_time_close_rate": ("按期办结率", "closed-on-time rate"),
    "close_rate": ("办结率", "closing rate"),
    "satisfaction_rate": ("满意率", "satisfaction rate"),
}


def period_from(text: str) -> Period:
    """Parse a period (2026-11, 2026-Q4, 2026-11-01..2026-11-15 ...) or raise 422."""
    try:
        return parse_period(text)
    except ValueError:
        raise ValidationFailed(
            f"期间 {text} 无法识别（如 2026-11、2026-Q4、2026-11-01..2026-11-15）",
            f"unknown period {text!r} (e.g. 2026-11, 2026-Q4, 2026-11-01..2026-11-15)",
            code="bad_period", field="period",
        ) from None  # fmt: skip


def _counts(row: ServiceRequest, now: datetime) -> dict[str, int]:
    done = row.state in (CLOSED, RATED)
    return {
        "requested": 1,
        "answered": int(row.taken_at is not None),
        "answered_on_time": int(row.taken_at is not None and row.taken_at <= row.respond_due),
        "closed": int(done),
        "closed_on_time": int(done and row.closed_at is not None and row.closed_at <= row.answer_due),
        "open_overdue": int(row.state in OPEN and now > row.answer_due),
        "rated": int(row.rating is not None),
        "satisfied": int(row.rating in ("satisfied", "basically_satisfied")),
    }  # fmt: skip


def _rates(c: dict[str, int]) -> dict[str, float | None]:
    def ratio(a: str, b: str) -> float | None:
        return round(c[a] / c[b], 4) if c[b] else None

    return {
        "on_time_answer_rate": ratio("answered_on_time", "requested"),
        "on_time_close_rate": ratio("closed_on_time", "closed"),
        "close_rate": ratio("closed", "requested"),
        "satisfaction_rate": ratio("satisfied", "rated"),
    }


def figures(
    session: Session, principal: Principal, period: Period, *, now: datetime
) -> dict[str, Any]:
    """Return the 代办 figures of the principal's area: the total and per community."""
    if not (principal.can("evaluation.read") or principal.can("cases.read")):
        principal.require("evaluation.read")
    rows = session.scalars(
        select(ServiceRequest).where(
            area_condition(principal),
            ServiceRequest.requested_at >= period.start,
            ServiceRequest.requested_at < period.end,
        )
    )
    total = dict.fromkeys(COUNTS, 0)
    by: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for row in rows:
        for key, n in _counts(row, now).items():
            total[key] += n
            by[row.community_code][key] += n
    return {
        "period": period.label,
        "total": {**total, **_rates(total)},
        "communities": [{"community_code": c, **v, **_rates(v)} for c, v in sorted(by.items())],
        "labels": {k: {"zh": zh, "en": en} for k, (zh, en) in LABELS.items()},
    }
