"""Read side: search with filters and the work queues, always scoped by the principal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.labels import label
from wangge.cases.model import CaseState
from wangge.cases.models import Case, CasePart
from wangge.cases.timing import FINAL
from wangge.grids.models import Grid
from wangge.grids.scope import layer_grid_ids
from wangge.lines.service import in_line, in_switched_off_line

S = CaseState

# Queue → (states, roles that work it); the labels are `wangge.cases.labels.QUEUE`'s.
# Departments count their own parts (below).
QUEUES: dict[str, tuple[tuple[CaseState, ...], frozenset[str]]] = {
    "to_accept": ((S.REPORTED,), frozenset({"acceptor"})),
    "to_verify": ((S.VERIFYING,), frozenset({"supervisor"})),
    "to_file": ((S.ACCEPTED, S.VERIFIED), frozenset({"shift_leader"})),
    "to_dispatch": (
        (S.FILED, S.RETURN_REQUESTED, S.EXTENSION_REQUESTED, S.SUSPENSION_REQUESTED),
        frozenset({"dispatcher"}),
    ),
    "to_handle": (
        (S.DISPATCHED, S.IN_PROGRESS, S.REWORK),
        frozenset({"department", "grid_leader"}),
    ),
    "to_check": ((S.HANDLED, S.CHECKING), frozenset({"acceptor", "supervisor"})),
    "to_close": ((S.CHECKED,), frozenset({"shift_leader"})),
}


@dataclass(frozen=True)
class CaseFilter:
    """Search filters; every one optional."""

    state: list[str] | None = None
    category: str | None = None
    prefix: str | None = None  # division or grid code prefix
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool | None = None
    department: str | None = None
    queue: str | None = None
    line: str | None = None  # business line code: cases whose category belongs to it
    # (layer, grid code) pairs, e.g. the caller's assigned grids; None: no restriction.
    grids: tuple[tuple[str, str], ...] | None = None


def _narrow(q: Select, line: str | None, grids: tuple[tuple[str, str], ...] | None) -> Select:
    """Keep the cases of one business line and/or of some grids (per layer)."""
    if line:
        q = q.where(in_line(line))
    if grids is not None:
        conds = [
            (Case.unit_grid_id if layer == "unit" else Case.grid_id).in_(
                layer_grid_ids(layer, code)
            )
            for layer, code in grids
        ]
        q = q.where(or_(*conds) if conds else false())
    return q


def _department_states(principal: Principal, states: tuple[CaseState, ...]) -> Select:
    return select(CasePart.case_id).where(
        CasePart.department_code.in_(sorted(principal.department_codes)),
        CasePart.state.in_([s.value for s in states]),
    )


def search_query(principal: Principal, f: CaseFilter, now: datetime) -> Select:
    """Return the scoped SELECT of cases matching the filters, newest first."""
    q = select(Case).where(visible(principal))
    if f.state:
        q = q.where(Case.state.in_(f.state))
    if f.queue in QUEUES:
        states = QUEUES[f.queue][0]
        if (
            f.queue == "to_handle"
            and "department" in principal.roles
            and principal.department_codes
        ):
            q = q.where(Case.id.in_(_department_states(principal, states)))
        else:
            q = q.where(Case.state.in_([s.value for s in states]))
        q = q.where(~in_switched_off_line())  # a line switched off leaves the queues
    q = _narrow(q, f.line, f.grids)
    if f.category:
        q = q.where(
            or_(Case.category_code == f.category, Case.category_code.startswith(f.category))
        )
    if f.prefix:
        if len(f.prefix) <= 12:
            q = q.where(or_(Case.community_code.startswith(f.prefix), Case.county_code == f.prefix))
        else:
            grids = select(Grid.id).where(Grid.code.startswith(f.prefix))
            q = q.where(or_(Case.grid_id.in_(grids), Case.unit_grid_id.in_(grids)))
    if f.source:
        q = q.where(Case.source == f.source)
    if f.since:
        q = q.where(Case.reported_at >= f.since)
    if f.until:
        q = q.where(Case.reported_at < f.until)
    if f.department:
        q = q.where(
            Case.id.in_(select(CasePart.case_id).where(CasePart.department_code == f.department))
        )
    open_ = Case.state.not_in([s.value for s in FINAL])
    # Overdue: past any running clock (stage, first answer, solving), see `timing.next_due`.
    if f.overdue is True:
        q = q.where(open_, Case.due_at < now)
    elif f.overdue is False:
        q = q.where(or_(~open_, Case.due_at.is_(None), Case.due_at >= now))
    return q.order_by(Case.reported_at.desc(), Case.id.desc())


def search(
    session: Session,
    principal: Principal,
    f: CaseFilter,
    *,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Case]]:
    """Return the total count and one page of matching cases."""
    q = search_query(principal, f, now)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    return int(total), list(session.scalars(q.limit(limit).offset(offset)))


def queues(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    line: str | None = None,
    grids: tuple[tuple[str, str], ...] | None = None,
) -> dict[str, dict]:
    """Return the queues the principal works, each with its label and count, plus overdue.

    Cases of a line the county switched off are in no queue; `line` and `grids` narrow.
    """
    roles = set(principal.roles) | ({"*"} if "*" in principal.permissions else set())
    out: dict[str, dict] = {}
    for key, (states, who) in QUEUES.items():
        if "*" not in roles and not roles & who:
            continue
        q = _narrow(select(func.count(Case.id)).where(visible(principal)), line, grids)
        q = q.where(~in_switched_off_line())
        if key == "to_handle" and "department" in roles and principal.department_codes:
            q = q.where(Case.id.in_(_department_states(principal, states)))
        else:
            q = q.where(Case.state.in_([s.value for s in states]))
        out[key] = {"label": label("queue", key), "count": int(session.scalar(q) or 0)}
    overdue = select(func.count(Case.id)).where(
        visible(principal), Case.state.not_in([s.value for s in FINAL]), Case.due_at < now
    )
    overdue = _narrow(overdue, line, grids).where(~in_switched_off_line())
    out["overdue"] = {
        "label": label("queue", "overdue"),
        "count": int(session.scalar(overdue) or 0),
    }
    return out
