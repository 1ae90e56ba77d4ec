"""Which actions notify whom; messages go to the outbox in the action's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.model import ACTION_ZH, Action, CaseState
from wangge.cases.models import Case, CasePart, CaseReporter
from wangge.cases.outbox import enqueue

A = Action


def department_recipient(code: str) -> str:
    """Return the outbox recipient of a department's inbox."""
    return f"dept:{code}"


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
    session: Session, case: Case, topic: str, to: str, title: str, now: datetime, **extra: object
) -> None:
    enqueue(
        session,
        topic=topic,
        recipient=to,
        body={"title": title, "case_code": case.code, "state": case.state, **extra},
        now=now,
        case_id=case.id,
        county_code=case.county_code,
    )


def after_action(
    session: Session,
    case: Case,
    action: Action,
    parts: list[CasePart],
    *,
    now: datetime,
    note: str | None = None,
) -> None:
    """Queue the notifications an accepted action causes."""
    code = case.code
    if action is A.DISPATCH:
        for p in parts:
            role = "主办" if p.lead else "协办"
            _send(
                session,
                case,
                "case.dispatched",
                department_recipient(p.department_code),
                f"案卷 {code} 已派遣至贵单位（{role}）",
                now,
                deadline=p.deadline.isoformat() if p.deadline else None,
            )
    elif action in (A.URGE, A.CHECK_FAIL, A.ESCALATE):
        for p in parts:
            if p.state != CaseState.HANDLED.value or action is A.CHECK_FAIL:
                _send(
                    session,
                    case,
                    f"case.{action.value}",
                    department_recipient(p.department_code),
                    f"案卷 {code}：{ACTION_ZH[action]}",
                    now,
                    note=note,
                )
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
