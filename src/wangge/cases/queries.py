"""Read side: search with filters and sorting, and the work queues, always scoped by the principal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, String, and_, cast, false, func, or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import actor_id, area_condition, visible
from wangge.cases.labels import label
from wangge.cases.models import Case, CasePart, Category
from wangge.cases.timing import light, overdue_hours
from wangge.cases.vocabulary import FINAL_VALUES, PUBLIC_SOURCES, Action, CaseState, Role
from wangge.cases.workflow import PART_STATES
from wangge.cases.worklist import QUEUE_ACTIONS, WORK, queues_of
from wangge.departments.models import Department
from wangge.grids.models import Grid
from wangge.grids.scope import layer_grid_ids, social_grid_condition
from wangge.lines.service import in_line, in_switched_off_line

S, A = CaseState, Action
LIGHTS = ("green", "yellow", "red")
# reported: newest report first; deadline: the earliest running deadline first; overdue: the
# longest past its deadline first (hours on the deadline's own clock, `timing.overdue_hours`).
SORTS = ("reported", "deadline", "overdue")
_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class CaseFilter:
    """Search filters; every one optional, all of them combined."""

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
    street: str | None = None  # 街道 code
    community: str | None = None  # 社区 code
    grid: str | None = None  # social grid code (its micro grids included)
    light: str | None = None  # green | yellow | red
    text: str | None = None  # in the code, the address or the description


_Ts = TypeVarTuple("_Ts")


def _narrow(
    q: Select[*_Ts], line: str | None, grids: tuple[tuple[str, str], ...] | None
) -> Select[*_Ts]:
    """Keep the cases of one business line and/or of some grids (per layer)."""
    if line:
        q = q.where(in_line(line))
    if grids is not None:
        conds = [
            Case.unit_grid_id.in_(layer_grid_ids(layer, code))
            if layer == "unit"
            else social_grid_condition(Case.grid_id, Case.micro_grid_id, code)
            for layer, code in grids
        ]
        q = q.where(or_(*conds) if conds else false())
    return q


# --- the work queues ---------------------------------------------------------------------


def _open() -> ColumnElement[bool]:
    return Case.state.not_in(FINAL_VALUES)


def _late(now: datetime) -> ColumnElement[bool]:
    """Past any running clock (stage, first answer, solving), see `timing.next_due`."""
    return and_(_open(), Case.due_at < now)


def _not_late(now: datetime) -> ColumnElement[bool]:
    return or_(~_open(), Case.due_at.is_(None), Case.due_at >= now)


def _waits_for_verification() -> ColumnElement[bool]:
    # `guards.check_guards`: an accepted public report is verified on site before filing.
    return and_(Case.state == S.ACCEPTED.value, Case.source.in_([s.value for s in PUBLIC_SOURCES]))


def _own_grid(principal: Principal) -> ColumnElement[bool]:
    # `access.actor_for` gives the case's grid to a post whose area holds it.
    return or_(and_(Case.grid_id.is_(None), Case.unit_grid_id.is_(None)), area_condition(principal))


def _handled_by(principal: Principal) -> ColumnElement[bool]:
    mark = f'"{actor_id(principal)}"'  # an id inside the JSON list of handler ids
    parts = select(CasePart.case_id).where(
        cast(CasePart.handler_ids, String).contains(mark, autoescape=True)
    )
    return or_(cast(Case.handler_ids, String).contains(mark, autoescape=True), Case.id.in_(parts))


def _guard(action: Action, principal: Principal) -> ColumnElement[bool] | None:
    """Return the SQL of what `guards.check_guards` refuses beyond the table (None: nothing)."""
    if action in (A.VERIFY_TRUE, A.VERIFY_FALSE):
        return _own_grid(principal)
    if action is A.SELF_HANDLE:
        grid_work = select(Category.code).where(
            Category.minor.is_(True), Category.admitted_to_grid.is_(True)
        )
        return and_(
            ~Case.id.in_(select(CasePart.case_id)),
            Case.category_code.in_(grid_work),
            _own_grid(principal),
        )
    if action is A.FILE:
        return ~_waits_for_verification()
    if action is A.REQUEST_VERIFICATION:  # queued only where filing waits for it
        return _waits_for_verification()
    if action in (A.CHECK_PASS, A.CHECK_FAIL):
        return ~_handled_by(principal)
    return None


def _roles(principal: Principal) -> frozenset[Role]:
    return frozenset(Role(r) for r in principal.roles if r in _ROLES)


def queue_condition(principal: Principal, queue: str) -> ColumnElement[bool]:
    """Return the SQL condition 'the principal can act on the case in this queue'."""
    conds: list[ColumnElement[bool]] = []
    for role in _roles(principal):
        work = WORK[role].get(queue)
        if work is None:
            continue
        for action, states in work.case.items():
            cond = Case.state.in_([s.value for s in states])
            guard = _guard(action, principal)
            conds.append(cond if guard is None else and_(cond, guard))
        if work.part:  # no guard of `check_guards` concerns the part-level actions
            part_states = sorted({s.value for found in work.part.values() for s in found})
            parts = select(CasePart.case_id).where(CasePart.state.in_(part_states))
            if role is Role.DEPARTMENT:  # a handler acts on his own department's part only
                parts = parts.where(
                    CasePart.department_code.in_(sorted(principal.department_codes))
                )
            conds.append(and_(Case.state.in_([s.value for s in PART_STATES]), Case.id.in_(parts)))
    return or_(*conds) if conds else false()


# --- search ------------------------------------------------------------------------------


def search_query(
    principal: Principal, f: CaseFilter, now: datetime, sort: str = "reported"
) -> Select[Case]:
    """Return the scoped SELECT of cases matching the filters, in the SQL part of `sort`."""
    q = select(Case).where(visible(principal))
    if f.state:
        q = q.where(Case.state.in_(f.state))
    if f.queue is not None and f.queue in QUEUE_ACTIONS:
        q = q.where(queue_condition(principal, f.queue), ~in_switched_off_line())
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
    for code in (f.street, f.community):
        if code:
            q = q.where(Case.community_code.startswith(code, autoescape=True))
    if f.grid:
        q = q.where(social_grid_condition(Case.grid_id, Case.micro_grid_id, f.grid))
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
    if f.text:
        q = q.where(
            or_(
                *(
                    c.contains(f.text, autoescape=True)
                    for c in (Case.code, Case.address, Case.description)
                )
            )
        )
    if f.overdue is True or f.light == "red":
        q = q.where(_late(now))
    elif f.overdue is False:
        q = q.where(_not_late(now))
    if f.light in ("green", "yellow"):  # the rest of the light is measured in Python
        q = q.where(_open(), Case.due_at >= now)
    if f.light is not None and f.light not in LIGHTS:
        q = q.where(false())
    if sort in ("deadline", "overdue"):
        return q.order_by(Case.due_at.is_(None), Case.due_at, Case.id)
    return q.order_by(Case.reported_at.desc(), Case.id.desc())


def _in_python(f: CaseFilter) -> bool:
    # Yellow and green are read on the working-day clock of each case (`timing.light`).
    return f.light in ("green", "yellow")


def _measured(session: Session, q: Select[Case], f: CaseFilter, now: datetime) -> list[Case]:
    """Run a query whose light is measured on the working-day clock (yellow / green)."""
    return [c for c in session.scalars(q) if (lamp := light(c, now)) and lamp.value == f.light]


def search(
    session: Session,
    principal: Principal,
    f: CaseFilter,
    *,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
    sort: str = "reported",
) -> tuple[int, list[Case]]:
    """Return the total count and one page of matching cases, sorted."""
    q = search_query(principal, f, now, sort)
    if _in_python(f):
        rows = _measured(session, q, f, now)
        return len(rows), rows[offset : offset + limit]
    total = int(session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)
    if sort != "overdue":
        return total, list(session.scalars(q.limit(limit).offset(offset)))
    # The late cases come first, longest late first: their hours are read on each one's clock
    # (working hours unless it runs around the clock), so they are sorted here; there are only
    # as many as open cases are late. The others follow by deadline, paged in SQL.
    late = _by_overdue(list(session.scalars(q.where(_late(now)))), now)
    page = late[offset : offset + limit]
    if len(page) < limit:
        rest = q.where(_not_late(now)).offset(max(0, offset - len(late)))
        page += list(session.scalars(rest.limit(limit - len(page))))
    return total, page


def matching(
    session: Session, principal: Principal, f: CaseFilter, *, now: datetime, sort: str
) -> Iterable[Case]:
    """Return every matching case in order (streamed from the database where it can be)."""
    q = search_query(principal, f, now, sort)
    if _in_python(f):
        return _measured(session, q, f, now)
    if sort == "overdue":
        late = _by_overdue(list(session.scalars(q.where(_late(now)))), now)
        rest = session.scalars(q.where(_not_late(now)).execution_options(yield_per=1000))
        return [*late, *rest]
    return session.scalars(q.execution_options(yield_per=1000))


def _by_overdue(rows: list[Case], now: datetime) -> list[Case]:
    return sorted(rows, key=lambda c: -(overdue_hours(c, now) or 0.0))


def departments_of(session: Session, case_ids: Iterable[int]) -> dict[int, list[str]]:
    """Return each case's departments by name (the lead 主办 first, then the assisting)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(CasePart.case_id, func.coalesce(Department.name, CasePart.department_code))
        .outerjoin(Department, Department.code == CasePart.department_code)
        .where(CasePart.case_id.in_(ids))
        .order_by(CasePart.case_id, CasePart.lead.desc(), CasePart.id)
    ).all()
    out: dict[int, list[str]] = {}
    for case_id, name in rows:
        out.setdefault(case_id, []).append(name)
    return out


# --- queue counts ------------------------------------------------------------------------


def queues(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    line: str | None = None,
    grids: tuple[tuple[str, str], ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """Return the queues the principal works, each with its label and count, plus overdue.

    A queue counts only the cases where the principal can act (`queue_condition`). Cases of a
    line the county switched off are in no queue; `line` and `grids` narrow.
    """
    out: dict[str, dict[str, Any]] = {}
    for key in queues_of(_roles(principal)):
        q = _narrow(select(func.count(Case.id)).where(visible(principal)), line, grids)
        q = q.where(queue_condition(principal, key), ~in_switched_off_line())
        out[key] = {"label": label("queue", key), "count": int(session.scalar(q) or 0)}
    overdue = select(func.count(Case.id)).where(visible(principal), _late(now))
    overdue = _narrow(overdue, line, grids).where(~in_switched_off_line())
    out["overdue"] = {
        "label": label("queue", "overdue"),
        "count": int(session.scalar(overdue) or 0),
    }
    return out
