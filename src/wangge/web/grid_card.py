"""The console map's grid card: the grid at a clicked point, its people and its open cases.

The map asks by position, not by the feature clicked, so a click anywhere inside a grid finds
it, whatever outline (a community, the mesh of a whole district) is drawn above it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.cases.labels import label
from wangge.cases.models import Case
from wangge.cases.queries import CaseFilter, search_query
from wangge.cases.vocabulary import FINAL_VALUES
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.errors import NotFound
from wangge.grids.models import Grid
from wangge.web.area import page_area

router = APIRouter(prefix="/web/api", include_in_schema=False)


def posted_workers(
    session: Session, grid: Grid, *, micro: Grid | None = None, public: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """Return the people published for a social grid (上岗公示: name, work phone) and the source.

    The people assigned to the grid (and its micro grids) today; a grid without any assignment
    falls back to the supervisor/grid-leader posts scoped to it or its community. `public`
    (the citizens' "我的网格员"): the grid's own people, plus the published leaders of the
    micro grid `micro` where the citizen stands (一网多层), not every micro grid's.
    """
    from wangge.assignments.models import KINDS
    from wangge.assignments.service import people_of_grid
    from wangge.auth.models import Post, User

    served = people_of_grid(session, grid.code, utcnow().astimezone(SHANGHAI).date())
    if public:
        served = [
            s
            for s in served
            if s.assignment.grid_code == grid.code
            or (
                micro is not None
                and s.assignment.grid_code == micro.code
                # grid workers serve the public anyway; a 微网格长 only when published
                and (s.assignment.published or s.assignment.kind != "micro_leader")
            )
        ]
    if served:
        workers = []
        for s in served:
            zh, en = KINDS.get(s.assignment.kind, (s.assignment.kind, s.assignment.kind))
            if micro is not None and s.assignment.grid_code == micro.code:
                zh, en = f"{zh}（{micro.name}）", f"{en} ({micro.code})"
            workers.append({"name": s.name, "phone": s.phone, "post": zh, "post_en": en})
        return workers, "assignments"
    prefixes = [grid.code[:n] for n in range(12, len(grid.code) + 1)]
    rows = session.execute(
        select(User.display_name, User.phone, Post.role_code)
        .join(Post, Post.user_id == User.id)
        .where(
            Post.role_code.in_(("supervisor", "grid_leader")),
            Post.scope_prefix.in_(prefixes),
            User.is_active.is_(True),
        )
        .order_by(Post.role_code.desc(), User.id)
    ).all()
    workers = [
        {"name": n, "phone": p, "post": label("role", r), "post_en": label("role", r, "en")}
        for n, p, r in rows
    ]
    return workers, "posts"


def _division(session: Session, code: str) -> dict[str, str]:
    d = session.get(Division, code)
    return {"code": code, "name": d.name if d is not None else code}


@router.get("/map/grid-card")
def grid_card(
    session: SessionDep,
    principal: PrincipalDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: str = "EPSG:4490",
    layer: Annotated[str, Query(pattern="^(social|unit)$")] = "social",
) -> dict[str, Any]:
    """Return the card of the grid at a point: names, codes, people, open and overdue cases."""
    from wangge.grids.locating import locate_point

    principal.require("grids.read")
    area = page_area(session, principal)  # a department handler: his departments' counties
    grid = locate_point(session, lon, lat, crs=crs, county_codes=area.county_codes())[layer]
    if grid is None or not area.contains(grid.code, layer):
        raise NotFound("此处没有您辖区内的网格", "no grid of your area lies here")
    now = utcnow()
    # The cases this user may see (cases.access.visible), of this grid and its micro grids.
    flt = CaseFilter(grid=grid.code) if layer == "social" else CaseFilter(prefix=grid.code)
    still_open = Case.state.not_in(FINAL_VALUES)
    q = search_query(principal, flt, now).order_by(None).where(still_open)
    open_n = session.scalar(select(func.count()).select_from(q.subquery()))
    late = search_query(principal, replace(flt, overdue=True), now).order_by(None)
    overdue_n = session.scalar(select(func.count()).select_from(late.subquery()))
    key = {"grid": grid.code} if layer == "social" else {"prefix": grid.code}
    workers, source = posted_workers(session, grid) if layer == "social" else ([], "none")
    community = grid.community_code
    return {
        "grid": {
            "id": grid.id,
            "code": grid.code,
            "name": grid.name,
            "kind": grid.kind,
            "layer": layer,
            "responsible_party": grid.responsible_party,
        },
        "community": _division(session, community) if community else None,
        "street": _division(session, community[:9]) if community else None,
        "workers": workers,
        "workers_source": source,
        "open_cases": int(open_n or 0),
        "overdue": int(overdue_n or 0),
        "links": {
            "cases": "/console/cases?" + urlencode({"queue": "all", **key}),
            "overdue": "/console/cases?" + urlencode({"queue": "overdue", **key}),
        },
    }
