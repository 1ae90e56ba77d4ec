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
from wangge.assignments.posted import posted_workers
from wangge.cases.models import Case
from wangge.cases.queries import CaseFilter, search_query
from wangge.cases.vocabulary import FINAL_VALUES
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.errors import NotFound
from wangge.web.area import page_area

router = APIRouter(prefix="/web/api", include_in_schema=False)


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
