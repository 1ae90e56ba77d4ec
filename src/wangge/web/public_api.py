"""The public "my grid" page (no login): the grid at a point and its posted grid workers."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import shapely
from fastapi import APIRouter, Query

from wangge.api.deps import SessionDep
from wangge.common.geo import from_canonical, parse_crs
from wangge.divisions.models import Division
from wangge.web.map_api import rounded

router = APIRouter(prefix="/web/api", include_in_schema=False)


@router.get("/public/my-grid")
def my_grid(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: str = "EPSG:4326",
) -> dict[str, Any]:
    """Return the grid at a point and its posted grid workers (上岗公示: name, work phone).

    The people assigned to the grid (and its micro grids) today; a grid without any
    assignment falls back to the supervisor/grid-leader posts scoped to it or its community.
    """
    from wangge.assignments.posted import posted_workers  # the map's grid card shows them too
    from wangge.grids.locating import locate_point

    found = locate_point(session, lon, lat, crs=crs, micro=True)
    grid, micro = found["social"], found["micro"]
    if grid is None:
        return {"grid": None, "workers": []}
    community = session.get(Division, grid.community_code)
    workers, source = posted_workers(session, grid, micro=micro, public=True)
    target = parse_crs(crs)
    geom = from_canonical(grid.geom, target) if grid.geom is not None else None
    return {
        "grid": {
            "code": grid.code,
            "name": grid.name,
            "kind": grid.kind,
            "community": community.name if community else grid.community_code,
            "responsible_party": grid.responsible_party,
            "geometry": orjson.loads(shapely.to_geojson(rounded(geom, 0.00001)))
            if geom is not None
            else None,
        },
        "micro_grid": {"code": micro.code, "name": micro.name} if micro is not None else None,
        "workers": workers,
        "source": source,
    }
