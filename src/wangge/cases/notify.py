"""Which actions notify whom; messages go to the outbox in the action's transaction.

A department hears of its share of a case (派遣, 督办, 退回重办, 预警, 超期), the county centre
of what waits on it (a department's 申请退回, 预警 and 超期 at the centre's own stages), a
reporter of the outcome. Each message is an in-app message; the five kinds the centre's day
runs on are also copied to the robots and SMS numbers the recipient configured
(`wangge.notifications.routing`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.models import Case, CasePart, CaseReporter
from wangge.cases.outbox import enqueue
from wangge.cases.vocabulary import ACTION_ZH, Action, CaseState
from wangge.common.localtime import local_time
from wangge.notifications.recipients import centre_recipient, department_recipient
from wangge.notifications.routing import copy_to_routes

A = Action
__all__ = ["after_action", "centre_recipient", "department_recipient", "reporters", "warn"]


def reporters(session: Session, case_id: int) -> list[str]:
    """Return every reporter of a case, merged duplicates included."""
    return list(
        session.scalars(
            select(CaseReporter.reporter_id)
            .where(CaseReporter.case_id == case_id)
            .order_by(CaseReporter.id)
        )
    )


def _send(
    session: Session,
    case: Case,
    topic: str,
    to: str,
    title: str,
    now: datetime,
    *,
    key: str | None = None,
    **extra: object,
) -> None:
    message = enqueue(
        session,
        topic=topic,
        recipient=to,
        body={"title": title, "case_code": case.code, "state": case.state, **extra},
        now=now,
        case_id=case.id,
        county_code=case.county_code,
        dedupe_key=key,
    )
    copy_to_routes(session, message)


def _tell_dispatched(session: Session, case: Case, parts: list[CasePart], now: datetime) -> None:
    """Tell each department a dispatch names, lead or assisting, with its deadline."""
    for p in parts:
        role = "主办" if p.lead else "协办"
        _send(
            session,
            case,
            "case.dispatched",
            department_recipient(p.department_code),
            f"案卷 {case.code} 已派遣至贵单位（{role}）",
            now,
            deadline=p.deadline.isoformat() if p.deadline else None,
        )


def _tell_pressed(
    session: Session,
    case: Case,
    action: Action,
    parts: list[CasePart],
    *,
    now: datetime,
    note: str | None,
    overdue: bool,
) -> None:
    """Tell the departments still holding the case of an urge, rework, escalation or overdue;
    the centre itself when nobody outside holds it."""
    topic = "case.overdue" if overdue else f"case.{action.value}"
    what = f"超期（{ACTION_ZH[action]}）" if overdue else ACTION_ZH[action]
    told = [p for p in parts if p.state != CaseState.HANDLED.value or action is A.CHECK_FAIL]
    for p in told:
        _send(
            session,
            case,
            topic,
            department_recipient(p.department_code),
            f"案卷 {case.code}：{what}",
            now,
            note=note,
        )
    if not told and (overdue or action is A.URGE):
        # Nobody outside holds the case: it waits on the centre itself.
        to = centre_recipient(case.county_code)
        _send(session, case, topic, to, f"案卷 {case.code}：{what}", now, note=note)


def _tell_return_requests(
    session: Session, case: Case, parts: list[CasePart], now: datetime, note: str | None
) -> None:
    """Tell the centre of each department asking to return the case."""
    for p in parts:
        if p.state == CaseState.RETURN_REQUESTED.value:
            _send(
                session,
                case,
                "case.return_dispatch",
                centre_recipient(case.county_code),
                f"案卷 {case.code}：{p.department_code} 申请退回",
                now,
                note=note,
                department=p.department_code,
            )


def after_action(
    session: Session,
    case: Case,
    action: Action,
    parts: list[CasePart],
    *,
    now: datetime,
    note: str | None = None,
    overdue: bool = False,
) -> None:
    """Queue the notifications an accepted action causes (`overdue`: the sweep's own)."""
    code = case.code
    if action is A.DISPATCH:
        _tell_dispatched(session, case, parts, now)
    elif action in (A.URGE, A.CHECK_FAIL, A.ESCALATE):
        _tell_pressed(session, case, action, parts, now=now, note=note, overdue=overdue)
    elif action is A.RETURN_DISPATCH:
        _tell_return_requests(session, case, parts, now, note)
    elif action is A.CLOSE:
        for rid in reporters(session, case.id):
            _send(session, case, "case.closed", rid, f"您反映的问题（案卷 {code}）已办结", now)
    elif action in (A.REJECT_INVALID, A.REJECT_DUPLICATE, A.VERIFY_FALSE, A.VOID):
        _send(
            session,
            case,
            f"case.{action.value}",
            case.reporter_id,
            f"您反映的问题（案卷 {code}）{ACTION_ZH[action]}",
            now,
            note=note,
        )


def warn(
    session: Session, case: Case, to: str, deadline: datetime, *, now: datetime, key: str
) -> None:
    """Queue a 预警: the clock of `to` has used most of its time (once per `key`)."""
    _send(
        session,
        case,
        "case.warning",
        to,
        f"案卷 {case.code} 即将超期（期限 {local_time(deadline)}）",
        now,
        key=key,
        deadline=deadline.isoformat(),
    )
