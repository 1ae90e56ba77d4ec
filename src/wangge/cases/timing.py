"""Stage clocks of stored cases: which stage is timed, its deadline, the light."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from wangge.cases.deadlines import Clock, Light
from wangge.cases.limits import AreaClass, Stage, TimeLimits
from wangge.cases.model import CaseState
from wangge.cases.models import Case, CasePart

S = CaseState
CLOCK = Clock()

_STAGE: dict[CaseState, Stage] = {
    S.REPORTED: Stage.ACCEPT,
    S.ACCEPTED: Stage.FILE,
    S.VERIFYING: Stage.VERIFY,
    S.VERIFIED: Stage.FILE,
    S.FILED: Stage.DISPATCH,
    S.HANDLED: Stage.CHECK,
    S.CHECKING: Stage.CHECK,
    S.CHECKED: Stage.CLOSE,
}
HANDLING = frozenset(
    {
        S.DISPATCHED,
        S.IN_PROGRESS,
        S.RETURN_REQUESTED,
        S.EXTENSION_REQUESTED,
        S.SUSPENSION_REQUESTED,
        S.SUSPENDED,
        S.REWORK,
    }
)
FINAL = frozenset({S.CLOSED, S.RATED, S.REJECTED, S.VOIDED})
# Parts whose clock runs; a suspended part's clock stands still until it resumes.
_RUNNING = HANDLING - {S.SUSPENDED}


def stage_of(state: CaseState) -> Stage | None:
    """Return the timed stage of a case state (None for final states)."""
    if state in HANDLING:
        return Stage.HANDLE
    return _STAGE.get(state)


def stage_deadline(
    limits: TimeLimits, category: str, area: str, urgent: bool, stage: Stage, start: datetime
) -> datetime:
    """Return the deadline of a stage starting at `start`."""
    limit = limits.limit_for(stage, category=category, area=AreaClass(area), urgent=urgent)
    return CLOCK.deadline(start, limit.hours, urgent=limit.urgent)


def intervals(part: CasePart) -> list[tuple[datetime, datetime]]:
    """Return the part's finished suspensions as datetimes."""
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in part.suspensions]


def part_deadline(
    limits: TimeLimits, case: Case, part: CasePart, *, now: datetime | None = None
) -> datetime:
    """Return a part's handling deadline: its limit plus extensions, suspensions not counted."""
    limit = limits.limit_for(
        Stage.HANDLE,
        category=case.category_code,
        area=AreaClass(case.area_class),
        urgent=case.urgent,
    )
    stops = intervals(part)
    if part.suspended_since is not None and now is not None:
        stops.append((part.suspended_since, now))
    return CLOCK.deadline(
        part.started_at,
        limit.hours,
        urgent=limit.urgent,
        suspensions=stops,
        extension_hours=part.extension_hours,
    )


def handling_deadline(parts: Sequence[CasePart]) -> datetime | None:
    """Return the earliest deadline among running parts (None when every clock stands)."""
    due = [p.deadline for p in parts if p.deadline is not None and S(p.state) in _RUNNING]
    return min(due) if due else None


def light(case: Case, now: datetime) -> Light | None:
    """Return the traffic light of the case's running stage, or None when nothing is timed."""
    if case.deadline is None or case.stage_started_at is None or S(case.state) in FINAL:
        return None
    if case.deadline <= case.stage_started_at:
        return Light.RED if now > case.deadline else Light.YELLOW
    return CLOCK.light(now, case.stage_started_at, case.deadline, urgent=case.urgent)
