"""The console map's camera layer (视频监控): the located points of the county's cameras."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.geo import from_canonical_xy, parse_crs
from wangge.errors import NotFound
from wangge.grids.models import Grid, LocatedPoint
from wangge.web.api_response import json_response
from wangge.web.area import page_area

router = APIRouter(prefix="/web/api", include_in_schema=False)

CAMERA_LAYER = "视频监控"


@router.get("/map/cameras")
def map_cameras(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    division: Annotated[str, Query(pattern="^[0-9]{6,12}$")],
    crs: str = "EPSG:4490",
) -> Response:
    """Return the cameras of a division (of the user's area) as GeoJSON points."""
    principal.require("grids.read")
    area = page_area(session, principal)
    if not area.covers(division):
        raise NotFound(f"区划 {division} 不存在", f"division {division} does not exist")
    rows = session.execute(
        select(
            LocatedPoint.key, LocatedPoint.lon, LocatedPoint.lat, LocatedPoint.properties, Grid.code
        )
        .outerjoin(Grid, Grid.id == LocatedPoint.grid_id)
        .where(LocatedPoint.county_code == division[:6], LocatedPoint.layer == CAMERA_LAYER)
        .order_by(LocatedPoint.id)
    ).all()
    whole = area.contains(division)  # his area holds the whole division asked for

    def shown(code: str | None) -> bool:
        if code is None:  # outside every grid: only on the county view of a county-wide user
            return len(division) == 6 and whole
        return code.startswith(division) and area.contains(code)

    kept = [r for r in rows if shown(r.code)]
    lon = [r.lon for r in kept]
    lat = [r.lat for r in kept]
    if kept and parse_crs(crs).name not in ("EPSG:4490", "EPSG:4326"):
        lon, lat = from_canonical_xy(lon, lat, crs)
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            "properties": {
                "key": r.key,
                "name": (r.properties or {}).get("名称") or r.key,
                "grid": r.code,
            },
        }
        for i, r in enumerate(kept)
    ]
    return json_response({"type": "FeatureCollection", "features": feats}, request)
