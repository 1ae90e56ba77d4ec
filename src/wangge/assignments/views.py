"""HTTP routes of grid assignments under /api/v1/grid-assignments (writes: users.manage)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.assignments import service
from wangge.assignments.models import GridAssignment
from wangge.assignments.schemas import AssignmentCreate, AssignmentEnd, AssignmentRead
from wangge.auth.models import User
from wangge.cases.deadlines import SHANGHAI
from wangge.common.models import utcnow

router = APIRouter(prefix="/grid-assignments", tags=["grid assignments 网格员配置"])


def get_today() -> date:
    """Return today's date in Beijing (tests override this)."""
    return utcnow().astimezone(SHANGHAI).date()


TodayDep = Annotated[date, Depends(get_today)]


def read(a: GridAssignment, user: User, today: date) -> dict[str, Any]:
    """Shape one assignment for the API and the pages."""
    return {
        "id": a.id,
        "county_code": a.county_code,
        "user_id": a.user_id,
        "username": user.username,
        "name": user.display_name,
        "phone": user.phone,
        "grid_code": a.grid_code,
        "layer": a.layer,
        "kind": a.kind,
        "kind_zh": service.kind_label(a.kind),
        "starts_on": a.starts_on,
        "ends_on": a.ends_on,
        "in_force": a.starts_on <= today and (a.ends_on is None or a.ends_on >= today),
        "published": bool(a.published),
    }


@router.get("", response_model=list[AssignmentRead])
def list_assignments(
    session: SessionDep,
    principal: PrincipalDep,
    today: TodayDep,
    grid: Annotated[str | None, Query(description="grid code (or its prefix)")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    county: str | None = None,
    layer: Annotated[str | None, Query(pattern="^(social|unit)$")] = None,
    on: Annotated[date | None, Query(description="only those in force on this day")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> list[dict[str, Any]]:
    """List who serves which grid, in the caller's area."""
    if not principal.can("users.manage"):
        principal.require("grids.read")
    rows = service.list_assignments(
        session, principal, grid_code=grid, user_id=user_id, county_code=county, layer=layer,
        on=on, limit=limit,
    )  # fmt: skip
    return [read(a, u, today) for a, u in rows]


@router.get("/mine", response_model=list[AssignmentRead])
def my_assignments(
    session: SessionDep, principal: PrincipalDep, today: TodayDep
) -> list[dict[str, Any]]:
    """The caller's own assignments in force today (the phone page's "我的网格")."""
    if principal.user_id is None:
        return []
    rows = session.execute(service.select_mine(principal.user_id, today)).all()
    return [read(a, u, today) for a, u in rows]


@router.post("", response_model=AssignmentRead, status_code=status.HTTP_201_CREATED)
def post_assignment(
    body: AssignmentCreate, session: SessionDep, principal: PrincipalDep, today: TodayDep
) -> dict[str, Any]:
    """Record that a person serves a grid (audited); 409 when he already does in that period."""
    a = service.add_assignment(session, principal, **body.model_dump())
    return read(a, session.get(User, a.user_id), today)  # type: ignore[arg-type]


@router.post("/{assignment_id}/actions/end", response_model=AssignmentRead)
def end_assignment(
    assignment_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: AssignmentEnd,
    session: SessionDep,
    principal: PrincipalDep,
    today: TodayDep,
) -> dict[str, Any]:
    """End an assignment on its last day served (audited)."""
    a = service.end_assignment(session, principal, assignment_id, ends_on=body.ends_on)
    return read(a, session.get(User, a.user_id), today)  # type: ignore[arg-type]
