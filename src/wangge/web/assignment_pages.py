"""Console page of grid assignments (网格员配置): who serves which grid, add and end.

Reads go through `assignments.service` (the admin's area is in its SQL); adding and ending
are calls from the page to the audited /api/v1/grid-assignments routes.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRouter
from sqlalchemy import select

from wangge.api.deps import SessionDep
from wangge.assignments import service
from wangge.assignments.models import KINDS
from wangge.assignments.views import get_today, read
from wangge.auth.admin import visible_user_ids
from wangge.auth.models import User
from wangge.grids.models import Grid, GridVersion
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
_GRID_OPTIONS = 3000  # a datalist beyond this helps nobody: type the code


@router.get("/console/users/assignments")
def assignments_page(
    request: Request,
    session: SessionDep,
    me: MeDep,
    grid: str | None = None,
    layer: str | None = None,
    ended: bool = False,
) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("users.manage"):
        return render(
            request, "message.html", me, title="网格员配置", message="只有管理员可以配置网格员"
        )
    today: date = get_today()
    rows = service.list_assignments(
        session,
        me,
        grid_code=grid or None,
        layer=layer if layer in service.LAYERS else None,
        on=None if ended else today,
        limit=2000,
    )
    users = select(User.username, User.display_name).where(User.is_active.is_(True))
    ids = visible_user_ids(session, me)
    if ids is not None:
        users = users.where(User.id.in_(ids))
    grids = (
        select(Grid.code, Grid.name, GridVersion.layer)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.status == "active")
        .order_by(GridVersion.layer, Grid.code)
        .limit(_GRID_OPTIONS * 2)
    )
    grid_options = [
        (code, name, lyr) for code, name, lyr in session.execute(grids) if me.contains(code, lyr)
    ][:_GRID_OPTIONS]
    return render(
        request,
        "console_assignments.html",
        me,
        rows=[read(a, u, today) for a, u in rows],
        kinds=KINDS,
        layers=service.LAYERS,
        users=session.execute(users.order_by(User.username)).all(),
        grid_options=grid_options,
        today=today,
        grid=grid or "",
        layer=layer or "",
        ended=ended,
    )
