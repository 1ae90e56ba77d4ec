"""What each accepted action changes on the snapshot, and the payload checks behind `Need`.

Pure helpers for `wangge.cases.workflow.apply`; the table there decides whether an action may
happen at all, this module only applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from wangge.cases.vocabulary import (
    ACTION_ZH,
    LEVEL_ORDER,
    Action,
    Actor,
    CaseSnapshot,
    CaseState,
    Level,
    Need,
    Part,
    Satisfaction,
)
from wangge.errors import ValidationFailed

_NEED_ZH: Mapping[Need, str] = {
    Need.NOTE: "说明",
    Need.PHOTOS: "照片",
    Need.DEPARTMENT: "主办部门",
    Need.HOURS: "时长（工作小时）",
    Need.RATING: "满意度",
    Need.DUPLICATE_OF: "重复的案卷编号",
}


def _missing(action: Action, need: Need, why_en: str = "is required") -> ValidationFailed:
    return ValidationFailed(
        f"「{ACTION_ZH[action]}」需要{_NEED_ZH[need]}",
        f"action '{action}': {need} {why_en}",
        code=f"{need}_required",
        field=str(need),
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def check_needs(action: Action, needs: frozenset[Need], payload: Mapping[str, Any]) -> None:
    """Raise ValidationFailed when the payload lacks something the action needs."""
    for need in sorted(needs):
        value = payload.get(str(need))
        if need is Need.PHOTOS:
            ok = (
                isinstance(value, list | tuple)
                and len(value) > 0
                and all(isinstance(x, str) and x for x in value)
            )
        elif need is Need.HOURS:
            ok = _positive(value)
        elif need is Need.RATING:
            ok = value in set(Satisfaction)
        else:
            ok = isinstance(value, str) and bool(value.strip())
        if not ok:
            raise _missing(action, need)
    if action is Action.DISPATCH:
        assisting = list(payload.get("assisting") or ())
        if payload["department"] in assisting or len(set(assisting)) != len(assisting):
            raise ValidationFailed(
                "协办部门不能重复，也不能与主办部门相同",
                "assisting departments must be distinct and differ from the lead",
                code="duplicate_department",
                field="assisting",
            )
    if (
        "hours" in payload
        and action is Action.APPROVE_EXTENSION
        and not _positive(payload["hours"])
    ):
        raise _missing(action, Need.HOURS, "must be a positive number")
    deadlines = payload.get("deadlines") or {}
    moments = [("deadline", payload.get("deadline"))]
    moments += [("deadlines", v) for v in deadlines.values()]
    for key, value in moments:
        if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
            raise ValidationFailed(
                "期限必须是带时区的时间",
                "deadline must be a timezone-aware datetime",
                code="naive_datetime",
                field=key,
            )


def perform(
    case: CaseSnapshot,
    action: Action,
    actor: Actor,
    at: datetime,
    payload: Mapping[str, Any],
    to: CaseState,
    part_index: int | None,
) -> CaseSnapshot:
    """Return the snapshot after the action; the caller sets the resulting state."""
    if part_index is not None:
        return _perform_part(case, action, actor, at, payload, to, part_index)
    if action is Action.DISPATCH:
        lead = payload["department"]
        deadlines = payload.get("deadlines") or {}
        departments = [lead, *(payload.get("assisting") or ())]
        parts = tuple(
            Part(department=d, lead=d == lead, deadline=deadlines.get(d)) for d in departments
        )
        return replace(case, parts=parts)
    if action is Action.CHECK_FAIL:
        return replace(case, parts=_rework_parts(case, payload))
    if action is Action.SELF_HANDLE:
        return replace(case, handler_ids=case.handler_ids | {actor.id})
    if action is Action.CLOSE:
        return replace(case, closed_at=at)
    if action is Action.REOPEN:
        # The old parts are history (kept in the events); the dispatcher dispatches afresh.
        return replace(case, parts=(), closed_at=None, reopen_count=case.reopen_count + 1)
    if action is Action.ESCALATE:
        return replace(case, level=_next_level(case.level, payload.get("to_level")))
    return case


def _rework_parts(case: CaseSnapshot, payload: Mapping[str, Any]) -> tuple[Part, ...]:
    """Send the named parts (default: all) back for rework; the others stay handled."""
    if not case.parts:
        return ()
    named = payload.get("departments")
    chosen = set(named) if named else {p.department for p in case.parts}
    unknown = chosen - {p.department for p in case.parts}
    if unknown:
        raise ValidationFailed(
            f"这些部门没有本案的分案：{sorted(unknown)}",
            f"no part for departments {sorted(unknown)}",
            code="unknown_part",
            field="departments",
        )
    return tuple(
        replace(p, state=CaseState.REWORK) if p.department in chosen else p for p in case.parts
    )


def _next_level(level: Level, wanted: Any) -> Level:
    here = LEVEL_ORDER.index(level)
    if wanted is None:
        return LEVEL_ORDER[here + 1]
    if wanted not in set(Level) or LEVEL_ORDER.index(Level(wanted)) <= here:
        raise ValidationFailed(
            "只能上报到更高一级",
            "escalation must go to a higher level",
            code="bad_level",
            field="to_level",
        )
    return Level(wanted)


def _perform_part(
    case: CaseSnapshot,
    action: Action,
    actor: Actor,
    at: datetime,
    payload: Mapping[str, Any],
    to: CaseState,
    index: int,
) -> CaseSnapshot:
    part = case.parts[index]
    if action is Action.APPROVE_RETURN:
        others = case.parts[:index] + case.parts[index + 1 :]
        # A wrongly dispatched lead means the dispatch was wrong as a whole: everything goes
        # back to the dispatcher. A wrong assisting department simply leaves the case.
        return replace(case, parts=() if part.lead else others)
    new = replace(part, state=to)
    if "deadline" in payload:
        new = replace(new, deadline=payload["deadline"])
    if action is Action.FEED_BACK:
        new = replace(new, handler_ids=part.handler_ids | {actor.id})
    elif action is Action.REQUEST_EXTENSION:
        new = replace(new, pending_extension_hours=float(payload["hours"]))
    elif action is Action.APPROVE_EXTENSION:
        hours = payload.get("hours", part.pending_extension_hours) or 0.0
        new = replace(
            new, extension_hours=part.extension_hours + float(hours), pending_extension_hours=None
        )
    elif action is Action.REJECT_EXTENSION:
        new = replace(new, pending_extension_hours=None)
    elif action is Action.APPROVE_SUSPENSION:
        new = replace(new, suspended_since=at)
    elif action is Action.RESUME and part.suspended_since is not None:
        new = replace(
            new, suspensions=(*part.suspensions, (part.suspended_since, at)), suspended_since=None
        )
    parts = list(case.parts)
    parts[index] = new
    return replace(case, parts=tuple(parts))
