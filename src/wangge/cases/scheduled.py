"""Scheduled jobs of the case loop: escalate overdue cases once per missed deadline.

A case runs up to three clocks (its stage, the first answer and report → close, see
`cases.timing`); each missed deadline is escalated once, marked in its own `*_escalated_for`
column. Clocks missed together are escalated by one action, so a late sweep does not jump a
case two levels at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases import notify
from wangge.cases.deadlines import Light, ensure_aware
from wangge.cases.limits import RESPOND, SOLVE
from wangge.cases.models import Case, CasePart, OutboxMessage
from wangge.cases.service import act
from wangge.cases.timing import CLOCK, intervals, lights, missed
from wangge.cases.vocabulary import FINAL_VALUES, HANDLING, LEVEL_ORDER, Action, CaseState, Level
from wangge.common.localtime import local_time
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
            Case.due_at < now,
            Case.state.not_in(FINAL_VALUES),
            or_(*_unescalated(now)),
        )
        .order_by(Case.due_at)
        .limit(limit)
    ).all()
    report = SweepReport()
    for case in due:
        case_id, late = case.id, missed(case, now)
        if not late:
            continue
        top = Level(case.level) is LEVEL_ORDER[-1]
        action = Action.URGE if top else Action.ESCALATE
        what = "，".join(f"{_ZH[k]} {local_time(d)}" for k, d in late.items())
        note = f"超期未办（{what}），系统自动{'督办' if top else '上报上级'}"
        savepoint = session.begin_nested()
        try:
            acted = act(
                session,
                case_id,
                action,
                SYSTEM,
                expected_version=case.version,
                payload={"note": note, "overdue": True, "missed": sorted(late)},
                now=now,
            )
            # Mark the deadlines as handled in the same transaction as the escalation event.
            session.execute(
                update(Case)
                .where(Case.id == case_id, Case.version == acted.version)
                .values(
                    **{_MARK[k]: d for k, d in late.items()}, overdue_count=Case.overdue_count + 1
                )
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


_ZH = {"stage": "阶段期限", RESPOND: "答复期限", SOLVE: "办结期限"}
_MARK = {
    "stage": "overdue_escalated_for",
    RESPOND: "respond_escalated_for",
    SOLVE: "solve_escalated_for",
}


def _unescalated(now: datetime) -> list[ColumnElement[bool]]:
    """Return SQL conditions, one per clock, for a deadline missed and not yet escalated."""

    def fresh(mark: Any, due: Any) -> ColumnElement[bool]:
        return or_(mark.is_(None), mark != due)

    return [
        and_(Case.deadline < now, fresh(Case.overdue_escalated_for, Case.deadline)),
        and_(
            Case.respond_due < now,
            Case.responded_at.is_(None),
            fresh(Case.respond_escalated_for, Case.respond_due),
        ),
        and_(Case.solve_due < now, fresh(Case.solve_escalated_for, Case.solve_due)),
    ]


_TICKING = HANDLING - {CaseState.SUSPENDED}


def _yellow_clocks(
    cases: list[Case], parts: dict[int, list[CasePart]], now: datetime
) -> list[tuple[Case, str, datetime]]:
    """Return (case, recipient, deadline) for each clock now yellow: a part's or the stage's."""
    found = []
    for case in cases:
        if CaseState(case.state) not in HANDLING:
            if lights(case, now).get("stage") is Light.YELLOW and case.deadline is not None:
                found.append((case, notify.centre_recipient(case.county_code), case.deadline))
            continue
        for p in parts.get(case.id, []):
            if p.deadline is None or p.deadline <= now or CaseState(p.state) not in _TICKING:
                continue
            lamp = CLOCK.light(
                now, p.started_at, p.deadline, urgent=case.urgent, suspensions=intervals(p)
            )
            if lamp is Light.YELLOW:
                found.append((case, notify.department_recipient(p.department_code), p.deadline))
    return found


def sweep_warnings(session: Session, now: datetime, *, batch: int = 500) -> list[int]:
    """Queue one 预警 per clock that turned yellow; return the ids of the cases warned.

    Who hears: the department whose share is running out, or the centre when the case waits
    at one of its own stages. Once per deadline: the message's unique key names the case,
    the recipient and the deadline, so a re-run (or a second sweep at the same moment)
    writes nothing twice, and an extended deadline warns again when it too runs short.
    """
    now = ensure_aware(now, "now")
    warned: list[int] = []
    after = 0
    while True:
        cases = list(
            session.scalars(
                select(Case)
                .where(
                    Case.id > after,
                    Case.deadline.is_not(None),
                    Case.state.not_in(FINAL_VALUES),
                )
                .order_by(Case.id)
                .limit(batch)
            )
        )
        if not cases:
            return warned
        after = cases[-1].id
        parts: dict[int, list[CasePart]] = {}
        for p in session.scalars(
            select(CasePart).where(CasePart.case_id.in_([c.id for c in cases]))
        ):
            parts.setdefault(p.case_id, []).append(p)
        due = {
            f"warning:{case.id}:{to}:{deadline.isoformat()}": (case, to, deadline)
            for case, to, deadline in _yellow_clocks(cases, parts, now)
        }
        done = set(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(due))
            )
        )
        for key, (case, to, deadline) in due.items():
            if key in done:
                continue
            savepoint = session.begin_nested()
            try:
                notify.warn(session, case, to, deadline, now=now, key=key)
                savepoint.commit()
            except IntegrityError:  # a concurrent sweep wrote it first
                savepoint.rollback()
                continue
            warned.append(case.id)
