"""Who may see which cases (scope in the query) and the workflow Actor built from a Principal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.models import Case, CasePart, CaseReporter
from wangge.cases.vocabulary import Actor, Role
from wangge.errors import Forbidden, NotFound
from wangge.grids.scope import layer_grid_ids, social_grid_condition

_ROLES = {r.value for r in Role}
# Posts that watch an area rather than their own parts or their own reports.
AREA_ROLES = frozenset(
    {
        "acceptor", "shift_leader", "supervisor", "dispatcher", "grid_leader", "leader", "admin",
        "video_supervisor",
    }
)  # fmt: skip


def actor_id(principal: Principal) -> str:
    """Return the id events carry for this principal (the user id, else its name)."""
    return str(principal.user_id) if principal.user_id is not None else principal.name


def require_county(principal: Principal, permission: str, county_code: str | None) -> None:
    """Refuse a principal without the permission, or whose scope does not hold the whole
    county (a street's administrator would otherwise set county-wide rules)."""
    principal.require(permission)
    if county_code is not None and not principal.contains(county_code):
        raise Forbidden(
            f"区县 {county_code} 不在您的管辖范围内",
            f"county {county_code} is outside your scope",
            code="out_of_scope",
            field="county_code",
        )


def sees_area(principal: Principal) -> bool:
    """Return True for posts that watch an area (a department handler sees only his parts)."""
    return bool(set(principal.roles) & AREA_ROLES) or "*" in principal.permissions


def area_condition(principal: Principal) -> ColumnElement[bool]:
    """Return the SQL condition 'the case lies in the principal's area scope'.

    A grid-level scope names a grid of one layer: a social grid holds the cases whose social
    grid it is, a unit or duty grid those of its unit grids; never the cases of a grid of the
    other layer that happens to carry the same code.
    """
    if principal.scope_prefixes is None:
        return true()
    conds: list[ColumnElement[bool]] = []
    for p in principal.scope_prefixes:
        if len(p) <= 6:
            conds.append(Case.county_code.startswith(p))
        elif len(p) <= 12:
            conds.append(Case.community_code.startswith(p))
        else:
            conds.append(social_grid_condition(Case.grid_id, Case.micro_grid_id, p))
    for p in principal.unit_grid_scopes:
        conds.append(Case.unit_grid_id.in_(layer_grid_ids("unit", p)))
    return or_(*conds) if conds else false()


def visible(principal: Principal) -> ColumnElement[bool]:
    """Return the condition for cases the principal may see: area, own parts, own reports."""
    conds: list[ColumnElement[bool]] = []
    if sees_area(principal):
        conds.append(area_condition(principal))
    if "department" in principal.roles and principal.department_codes:
        parts = select(CasePart.case_id).where(
            CasePart.department_code.in_(sorted(principal.department_codes))
        )
        conds.append(Case.id.in_(parts))
    mine = select(CaseReporter.case_id).where(CaseReporter.reporter_id == actor_id(principal))
    conds.append(Case.id.in_(mine))
    return or_(*conds)


def get_visible(session: Session, case_id: int, principal: Principal) -> Case:
    """Return the case if the principal may see it; NotFound otherwise (no existence leak)."""
    case = session.scalars(select(Case).where(Case.id == case_id, visible(principal))).first()
    if case is None:
        raise NotFound(f"案卷 {case_id} 不存在", f"case {case_id} does not exist")
    return case


def grid_key(case: Case) -> str | None:
    """Return the grid id the workflow's own-grid guards compare (social, else unit layer)."""
    gid = case.grid_id if case.grid_id is not None else case.unit_grid_id
    return str(gid) if gid is not None else None


def actor_for(
    session: Session, principal: Principal, case: Case | None, parts: Sequence[CasePart] = ()
) -> Actor:
    """Build the workflow Actor: roles, the department with a part here, the grids covered."""
    roles = frozenset(Role(r) for r in principal.roles if r in _ROLES)
    department = None
    if principal.department_codes:
        mine = [p.department_code for p in parts if p.department_code in principal.department_codes]
        department = mine[0] if mine else sorted(principal.department_codes)[0]
    key = grid_key(case) if case is not None else None
    grids: frozenset[str] = frozenset()
    if key is None or case is None:
        pass  # nothing located: the own-grid guards have nothing to compare
    elif principal.scope_prefixes is None:
        grids = frozenset({key})  # whole-territory posts cover every grid
    elif case.community_code and any(
        case.community_code.startswith(p) for p in principal.scope_prefixes
    ):
        grids = frozenset({key})  # his scope holds the whole community
    elif (
        case.id is not None  # a report being made is in no table yet: nothing to ask
        and (any(len(p) > 12 for p in principal.scope_prefixes) or principal.unit_grid_scopes)
        and session.scalar(select(Case.id).where(Case.id == case.id, area_condition(principal)))
    ):
        grids = frozenset({key})  # a grid-level scope of the right layer holds the case
    return Actor(id=actor_id(principal), roles=roles, department=department, grid_ids=grids)
