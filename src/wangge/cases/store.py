"""Storing what the pure workflow decided: events, parts and the stage clocks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from wangge.cases import timing
from wangge.cases.access import grid_key
from wangge.cases.categories import get_category, time_limits
from wangge.cases.limits import Stage
from wangge.cases.models import Case, CaseEvent, CasePart, Category
from wangge.cases.response import channel_of
from wangge.cases.vocabulary import (
    FINAL,
    Action,
    CaseSnapshot,
    CaseState,
    EventDraft,
    Level,
    Part,
    Source,
)
from wangge.common.hooks import require_wired

S, A = CaseState, Action


# What must follow each stored event (the evaluation facts: `evaluation.stored.refresh_case`),
# registered by the composition root `wangge.wiring`: cases do not import the evaluation.
EVENT_HOOKS: list[Callable[[Session, Case, CaseEvent], None]] = []


def add_event(
    session: Session,
    case: Case,
    event: EventDraft,
    case_id: int | None,
    parts: Sequence[CasePart] = (),
) -> CaseEvent:
    """Store the event and bring the case's evaluation facts in step with it.

    Call it once the clocks are set (`restart_clock`): the event records the deadline the case
    shows now and, for an event on a part, that part's (`parts`: the case's stored parts).
    """
    require_wired("storing a case event")
    part = next((p for p in parts if p.department_code == event.part), None)
    # No event before its case's report (`models.events_of` reads from there on): a server
    # whose clock is behind the one that took the report would store a step that the case
    # page and the evaluation could not see.
    at = max(event.at, case.reported_at) if case.reported_at is not None else event.at
    row = CaseEvent(
        case_id=case_id or case.id,
        county_code=case.county_code,
        action=event.action.value,
        actor_id=event.actor_id,
        role=event.role.value,
        at=at,
        from_state=event.from_state.value if event.from_state else None,
        to_state=event.to_state.value,
        part=event.part,
        note=event.note,
        attachments=list(event.attachments),
        payload=_jsonable(dict(event.payload)),
        deadline=case.deadline,
        part_deadline=part.deadline if part is not None else None,
    )
    session.add(row)
    for hook in EVENT_HOOKS:
        hook(session, case, row)
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def parts_of(session: Session, case_id: int) -> list[CasePart]:
    """Return a case's parts, lead first."""
    return list(
        session.scalars(
            select(CasePart)
            .where(CasePart.case_id == case_id)
            .order_by(CasePart.lead.desc(), CasePart.id)
        )
    )


def snapshot(case: Case, parts: list[CasePart]) -> CaseSnapshot:
    """Return what the pure workflow needs to know about a stored case."""
    session = object_session(case)
    category = session.get(Category, case.category_code) if session is not None else None
    return CaseSnapshot(
        id=str(case.id),
        state=S(case.state),
        source=Source(case.source),
        reporter_id=case.reporter_id,
        grid_id=grid_key(case),
        level=Level(case.level),
        parts=tuple(
            Part(
                department=p.department_code,
                state=S(p.state),
                lead=p.lead,
                deadline=p.deadline,
                handler_ids=frozenset(p.handler_ids or ()),
                extension_hours=p.extension_hours,
                pending_extension_hours=p.pending_extension_hours,
                suspensions=tuple(timing.intervals(p)),
                suspended_since=p.suspended_since,
            )
            for p in parts
        ),
        handler_ids=frozenset(case.handler_ids or ()),
        closed_at=case.closed_at,
        reopen_count=case.reopen_count,
        category=case.category_code,
        minor=category.minor if category is not None else True,
        admitted=category.admitted_to_grid if category is not None else True,
    )


def sync_parts(
    session: Session,
    case: Case,
    parts: list[CasePart],
    new: CaseSnapshot,
    action: Action,
    now: datetime,
) -> list[CasePart]:
    """Store the snapshot's parts: insert new ones, update changed ones, drop returned ones."""
    limits = time_limits(get_category(session, case.category_code))
    channel: timing.Channel | None = None
    by_dept = {p.department_code: p for p in parts}
    keep = {p.department for p in new.parts}
    for old in parts:
        if old.department_code not in keep:
            session.delete(old)
    out = []
    for p in new.parts:
        row = by_dept.get(p.department)
        fresh = row is None
        if row is None:
            row = CasePart(case_id=case.id, department_code=p.department, started_at=now)
            session.add(row)
        before = S(row.state) if row.state else None
        row.lead, row.state = p.lead, p.state.value
        row.handler_ids = sorted(p.handler_ids)
        row.extension_hours = p.extension_hours
        row.pending_extension_hours = p.pending_extension_hours
        row.suspensions = [[a.isoformat(), b.isoformat()] for a, b in p.suspensions]
        row.suspended_since = p.suspended_since
        if action is A.CHECK_FAIL and p.state is S.REWORK and before is not S.REWORK:
            # Rework restarts the department's clock and counts against it.
            row.started_at, row.rework_count = now, (row.rework_count or 0) + 1
            fresh = True
        if p.state is S.HANDLED and before is not S.HANDLED:
            row.fed_back_at = now
        if fresh or action in (A.APPROVE_EXTENSION, A.RESUME):
            channel = channel_of(session, case) if channel is None else channel
            row.deadline = timing.part_deadline(limits, case, row, now=now, channel=channel)
        out.append(row)
    session.flush()
    return out


def restart_clock(
    session: Session, case: Case, parts: list[CasePart], before: CaseState, now: datetime
) -> None:
    """Start the new stage's clock when the stage changed; follow the parts while handling.

    Then keep the reporter's promises: the first state change away from `reported` is the
    answer; a reopened case gets the channel's solving time again. `due_at` follows all.
    """
    state = S(case.state)
    stage = timing.stage_of(state)
    if stage is None:
        case.stage = case.deadline = None
    elif stage is Stage.HANDLE:
        if case.stage != Stage.HANDLE.value:
            case.stage, case.stage_started_at = stage.value, now
        case.deadline = timing.handling_deadline(parts)
    elif stage.value != case.stage or timing.stage_of(before) is not stage:
        limits = time_limits(get_category(session, case.category_code))
        case.stage, case.stage_started_at = stage.value, now
        case.deadline = timing.stage_deadline(
            limits,
            case.category_code,
            case.area_class,
            case.urgent,
            stage,
            now,
            channel_of(session, case),
        )
    if before is S.REPORTED and state is not S.REPORTED and case.responded_at is None:
        case.responded_at = now
    if before in FINAL and state not in FINAL:
        timing.renew_solve(case, channel_of(session, case), now)
    case.due_at = timing.next_due(case)
