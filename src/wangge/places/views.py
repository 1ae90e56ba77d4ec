"""HTTP routes of places: search (`GET /api/v1/places`) and reverse geocoding.

The contract of `/api/v1/places` is also used by the hotline intake form: keep its fields.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.positions import position_crs, to_cgcs2000
from wangge.common.geo import from_canonical_xy
from wangge.places import service
from wangge.places.index import Ref

router = APIRouter(prefix="/places", tags=["places 地点"])


class PlaceRead(BaseModel):
    """One place found (lon/lat in EPSG:4490)."""

    name: str
    kind: str  # building | road | community | street | grid | unit_grid | camera
    address: str
    lon: float
    lat: float
    grid_code: str | None
    community_name: str | None


class PlacesRead(BaseModel):
    """The places matching a text, best first."""

    items: list[PlaceRead]


class RefRead(BaseModel):
    """A code and its name."""

    code: str
    name: str


class ReverseRead(BaseModel):
    """The address parts of a position; `address` is what a case would store."""

    lon: float
    lat: float
    address: str | None
    road: str | None
    road_distance_m: float | None
    building: str | None
    building_distance_m: float | None
    street: RefRead | None
    community: RefRead | None
    grid: RefRead | None
    unit_grid: RefRead | None


def _reader(principal: Principal) -> None:
    # Whoever reports or reads cases needs places (grid workers, 受理员, supervisors).
    if not (principal.can("cases.report") or principal.can("cases.act")):
        principal.require("cases.read")


@router.get("", response_model=PlacesRead)
def search_places(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query()] = 10,
    crs: Annotated[
        str | None,
        Query(
            description="lon/lat of the answer: EPSG:4490 (default), GCJ-02 (a 高德-like basemap), BD-09"
        ),
    ] = None,
    county: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}$",
            description="区县代码: search one county (needed when your area spans more than 8)",
        ),
    ] = None,
    near_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    near_lat: Annotated[
        float | None,
        Query(
            ge=-90,
            le=90,
            description="a position (in `crs`), e.g. the map's centre: an area of more than 8 "
            "counties is searched in the county there",
        ),
    ] = None,
) -> dict[str, Any]:
    """Find buildings (门牌), roads, communities, streets, grids and cameras in your area."""
    _reader(principal)
    out = position_crs(crs)  # checked before searching: a wrong system is a clear 422
    near = None
    if near_lon is not None and near_lat is not None:
        near = to_cgcs2000(near_lon, near_lat, crs)
    hits = service.search(session, principal, q, limit, county, near)
    xs, ys = (
        from_canonical_xy(np.array([p.lon for p in hits]), np.array([p.lat for p in hits]), out)
        if hits and not out.is_canonical
        else ([p.lon for p in hits], [p.lat for p in hits])
    )
    return {
        "items": [
            {
                "name": p.name,
                "kind": p.kind,
                "address": p.address,
                "lon": round(float(x), 7),
                "lat": round(float(y), 7),
                "grid_code": p.grid_code,
                "community_name": p.community_name,
            }
            for p, x, y in zip(hits, xs, ys, strict=True)
        ]
    }


def _ref(r: Ref | None) -> dict[str, str] | None:
    return {"code": r.code, "name": r.name} if r else None


@router.get("/reverse", response_model=ReverseRead)
def reverse_place(
    session: SessionDep,
    principal: PrincipalDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: Annotated[
        str | None, Query(description="EPSG:4490 (default), EPSG:4326, GCJ-02, BD-09")
    ] = None,
) -> dict[str, Any]:
    """Return the road, building, community, grid and unit grid at a position."""
    _reader(principal)
    x, y = to_cgcs2000(lon, lat, crs)
    parts = service.reverse(session, principal, x, y)
    return {
        "lon": round(x, 7),
        "lat": round(y, 7),
        "address": parts.text,
        "road": parts.road,
        "road_distance_m": parts.road_m,
        "building": parts.building,
        "building_distance_m": parts.building_m,
        "street": _ref(parts.street),
        "community": _ref(parts.community),
        "grid": _ref(parts.grid),
        "unit_grid": _ref(parts.unit_grid),
    }
