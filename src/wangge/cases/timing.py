"""Clocks of stored cases: the timed stage and its deadline, the reporter's promises, lights.

A case may run up to three clocks at once: its stage, the first answer to the reporter
("respond", until the case leaves `reported`) and the whole matter ("solve", report → close).
The two promises come from the channel's response rules (`cases.response`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from wangge.cases.deadlines import Clock, Light
from wangge.cases.limits import RESPOND, SOLVE, AreaClass, ChannelRule, Stage, TimeLimits
from wangge.cases.models import Case, CasePart
from wangge.cases.vocabulary import FINAL, HANDLING, CaseState

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
# Parts whose clock runs; a suspended part's clock stands still until it resumes.
_RUNNING = HANDLING - {S.SUSPENDED}


def stage_of(state: CaseState) -> Stage | None:
    """Return the timed stage of a case state (None for final states)."""
    if state in HANDLING:
        return Stage.HANDLE
    return _STAGE.get(state)


Channel = Mapping[str, ChannelRule]


def stage_deadline(
    limits: TimeLimits,
    category: str,
    area: str,
    urgent: bool,
    stage: Stage,
    start: datetime,
    channel: Channel | None = None,
) -> datetime:
    """Return the deadline of a stage starting at `start` (the channel's rule if stricter)."""
    limit = limits.limit_for(stage, category=category, area=AreaClass(area), urgent=urgent)
    due = CLOCK.deadline(start, limit.hours, urgent=limit.urgent)
    rule = (channel or {}).get(stage.value)
    if rule is not None:
        # Compared as moments: the two limits may run on different clocks (working/wall).
        due = min(due, CLOCK.deadline(start, rule.hours, urgent=rule.around_the_clock))
    return due


def intervals(part: CasePart) -> list[tuple[datetime, datetime]]:
    """Return the part's finished suspensions as datetimes."""
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in part.suspensions]


def part_deadline(
    limits: TimeLimits,
    case: Case,
    part: CasePart,
    *,
    now: datetime | None = None,
    channel: Channel | None = None,
) -> datetime:
    """Return a part's handling deadline: its limit plus extensions, suspensions not counted.

    A channel rule for the handling stage wins when it is stricter, on the same terms.
    """
    limit = limits.limit_for(
        Stage.HANDLE,
        category=case.category_code,
        area=AreaClass(case.area_class),
        urgent=case.urgent,
    )
    stops = intervals(part)
    if part.suspended_since is not None and now is not None:
        stops.append((part.suspended_since, now))
    due = CLOCK.deadline(
        part.started_at,
        limit.hours,
        urgent=limit.urgent,
        suspensions=stops,
        extension_hours=part.extension_hours,
    )
    rule = (channel or {}).get(Stage.HANDLE.value)
    if rule is not None:
        due = min(
            due,
            CLOCK.deadline(
                part.started_at,
                rule.hours,
                urgent=rule.around_the_clock,
                suspensions=stops,
                extension_hours=part.extension_hours,
            ),
        )
    return due


def handling_deadline(parts: Sequence[CasePart]) -> datetime | None:
    """Return the earliest deadline among running parts (None when every clock stands)."""
    due = [p.deadline for p in parts if p.deadline is not None and S(p.state) in _RUNNING]
    return min(due) if due else None


def _stage_light(case: Case, now: datetime) -> Light | None:
    if case.deadline is None or case.stage_started_at is None:
        return None
    if case.deadline <= case.stage_started_at:
        return Light.RED if now > case.deadline else Light.YELLOW
    return CLOCK.light(now, case.stage_started_at, case.deadline, urgent=case.urgent)


def _running_promises(case: Case) -> dict[str, datetime]:
    """Return the promise deadlines still running: the answer until given, solving until closed."""
    out = {}
    if case.respond_due is not None and case.responded_at is None:
        out[RESPOND] = case.respond_due
    if case.solve_due is not None:
        out[SOLVE] = case.solve_due
    return out


def lights(case: Case, now: datetime) -> dict[str, Light]:
    """Return the light of each running clock: "stage", "respond", "solve"."""
    if S(case.state) in FINAL:
        return {}
    out: dict[str, Light] = {}
    stage = _stage_light(case, now)
    if stage is not None:
        out["stage"] = stage
    promise = case.promise or {}
    for kind, due in _running_promises(case).items():
        made = promise.get(kind) or {}
        start = datetime.fromisoformat(made["since"]) if made.get("since") else case.reported_at
        if due <= start:
            out[kind] = Light.RED if now > due else Light.YELLOW
        else:
            out[kind] = CLOCK.light(now, start, due, urgent=made.get("around_the_clock", True))
    return out


_WORST = (Light.RED, Light.YELLOW, Light.GREEN)


def light(case: Case, now: datetime) -> Light | None:
    """Return the worst light of the case's running clocks, or None when nothing is timed."""
    found = set(lights(case, now).values())
    return next((lamp for lamp in _WORST if lamp in found), None)


def next_due(case: Case) -> datetime | None:
    """Return the earliest running deadline (None for final states or when nothing is timed)."""
    if S(case.state) in FINAL:
        return None
    due = [d for d in (case.deadline, *_running_promises(case).values()) if d is not None]
    return min(due) if due else None


def overdue_hours(case: Case, now: datetime) -> float | None:
    """Return how long the case is past its missed deadlines (the longest), None when on time.

    Hours count on the missed clock itself: working hours on the official calendar, wall-clock
    hours for an urgent stage or a promise made around the clock.
    """
    if S(case.state) in FINAL:
        return None
    late: list[float] = []
    if case.deadline is not None and case.deadline < now:
        late.append(CLOCK.elapsed(case.deadline, now, urgent=case.urgent))
    promise = case.promise or {}
    for kind, due in _running_promises(case).items():
        if due < now:
            wall = (promise.get(kind) or {}).get("around_the_clock", True)
            late.append(CLOCK.elapsed(due, now, urgent=wall))
    return max(late) if late else None


def missed(case: Case, now: datetime) -> dict[str, datetime]:
    """Return the clocks past their deadline that the sweep has not escalated for yet."""
    if S(case.state) in FINAL:
        return {}
    out = {}
    stage = case.deadline
    if stage is not None and stage < now and case.overdue_escalated_for != stage:
        out["stage"] = stage
    marks = {RESPOND: case.respond_escalated_for, SOLVE: case.solve_escalated_for}
    for kind, due in _running_promises(case).items():
        if due < now and marks[kind] != due:
            out[kind] = due
    return out


def open_promises(case: Case, channel: Channel, start: datetime) -> None:
    """Make the channel's promises for a new case: first answer and report → close."""
    made: dict[str, Any] = {}
    for kind in (RESPOND, SOLVE):
        rule = channel.get(kind)
        if rule is not None:
            made[kind] = _promise(rule, start)
    case.promise = made or None
    case.respond_due = _due(made.get(RESPOND))
    case.solve_due = _due(made.get(SOLVE))


def renew_solve(case: Case, channel: Channel, start: datetime) -> None:
    """Give a reopened case the channel's solving time again, from the reopening."""
    rule = channel.get(SOLVE)
    made = dict(case.promise or {})
    if rule is None:
        made.pop(SOLVE, None)
    else:
        made[SOLVE] = _promise(rule, start)
    case.promise = made or None
    case.solve_due = _due(made.get(SOLVE))
    case.solve_escalated_for = None


def _promise(rule: ChannelRule, start: datetime) -> dict[str, Any]:
    due = CLOCK.deadline(start, rule.hours, urgent=rule.around_the_clock)
    return {
        "rule": rule.id,
        "name": rule.name,
        "hours": rule.hours,
        "around_the_clock": rule.around_the_clock,
        "since": start.isoformat(),
        "due": due.isoformat(),
    }


def _due(made: Mapping[str, Any] | None) -> datetime | None:
    return datetime.fromisoformat(made["due"]) if made else None
