"""Scheduled jobs of the case loop: escalate overdue cases once per missed deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.deadlines import ensure_aware
from wangge.cases.model import LEVEL_ORDER, Action, Level
from wangge.cases.models import Case
from wangge.cases.service import act
from wangge.cases.timing import FINAL
from wangge.errors import DomainError

# The sweep acts as the center's duty system: it may escalate (值班长) and urge (领导).
SYSTEM = Principal(
    name="system:overdue-sweep",
    permissions=frozenset({"*"}),
    roles=frozenset({"shift_leader", "leader"}),
)


@dataclass
class SweepReport:
    escalated: list[int] = field(default_factory=list)
    urged: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def sweep_overdue(session: Session, now: datetime, *, limit: int = 500) -> SweepReport:
    """Escalate (or, at district level, urge) each case past its deadline exactly once."""
    now = ensure_aware(now, "now")
    due = session.scalars(
        select(Case)
        .where(
            Case.deadline < now,
            Case.state.not_in([s.value for s in FINAL]),
            or_(Case.overdue_escalated_for.is_(None), Case.overdue_escalated_for != Case.deadline),
        )
        .order_by(Case.deadline)
        .limit(limit)
    ).all()
    report = SweepReport()
    for case in due:
        case_id, deadline = case.id, case.deadline
        top = Level(case.level) is LEVEL_ORDER[-1]
        action = Action.URGE if top else Action.ESCALATE
        note = f"超期未办（期限 {deadline:%Y-%m-%d %H:%M} UTC），系统自动{'督办' if top else '上报上级'}"
        savepoint = session.begin_nested()
        try:
            acted = act(
                session,
                case_id,
                action,
                SYSTEM,
                expected_version=case.version,
                payload={"note": note, "overdue": True},
                now=now,
            )
            # Mark the deadline as handled in the same transaction as the escalation event.
            session.execute(
                update(Case)
                .where(Case.id == case_id, Case.version == acted.version)
                .values(overdue_escalated_for=deadline, overdue_count=Case.overdue_count + 1)
                .execution_options(synchronize_session=False)
            )
            savepoint.commit()
        except DomainError:
            # Someone acted on the case meanwhile; the next sweep looks again.
            savepoint.rollback()
            report.skipped.append(case_id)
            continue
        session.expire(acted)
        (report.urged if top else report.escalated).append(case_id)
    return report
