"""The place index of this process: built once, single flight, rebuilt when places change.

Reverse geocoding sits on the intake hot path (`create_case`), so a lookup must not query:
the index (roads, buildings, divisions, grids, cameras) lives in process like the grid
index (`grids.locating`). Whether it is stale is checked at most every `_CHECK_EVERY_S` with
a handful of index lookups (`_stamp`); this process's own road writes clear it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.cache import _ALL as _ALL_CACHES
from wangge.divisions.models import Division
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.locating import GridRef, active_versions, locate_many, locate_refs
from wangge.grids.models import Grid, LocatedPoint
from wangge.grids.service import TILING_KINDS
from wangge.places.index import (
    MIN_QUERY,
    Area,
    BuildingPlace,
    Camera,
    Place,
    PlaceIndex,
    Reverse,
    Road,
    normalize,
)
from wangge.places.roads import CAMERA_LAYER, ROAD_LAYER, load_roads
from wangge.registry.models_common import RecordChange
from wangge.registry.models_houses import Building

_CHECK_EVERY_S = 2.0
_SAMPLE_STEP_DEG = 0.0006  # ~60 m between the samples that find a road's communities


@dataclass
class _Entry:
    stamp: tuple[object, ...]
    index: PlaceIndex
    checked_at: float


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()
_building: dict[str, threading.Lock] = {}
builds = 0  # indexes built in this process (tests read it)


def clear_cache() -> None:
    """Forget the index (tests, and writes of roads in this process)."""
    with _lock:
        _cache.clear()


class _Forget:
    """Lets `common.cache.clear_all` (tests, start-up) forget the place index too."""

    def clear(self) -> None:
        clear_cache()


_ALL_CACHES.append(_Forget())  # type: ignore[arg-type]


def _stamp(session: Session) -> tuple[object, ...]:
    """What changes when any place may have changed (a few index lookups)."""
    layers = (ROAD_LAYER, CAMERA_LAYER)
    return (
        session.scalar(select(func.max(Building.id))),
        session.scalar(
            select(RecordChange.id)
            .where(RecordChange.object_type == "building")
            .order_by(RecordChange.id.desc())
            .limit(1)
        ),
        *session.execute(
            select(func.count(LocatedPoint.id), func.max(LocatedPoint.updated_at)).where(
                LocatedPoint.layer.in_(layers)
            )
        ).one(),
        *session.execute(select(func.count(Division.code), func.max(Division.updated_at))).one(),
        tuple(v.id for v in active_versions(session)),
        session.scalar(select(func.max(Grid.updated_at))),
    )


def place_index(session: Session) -> PlaceIndex:
    """Return this process's place index of the session's database, rebuilding when stale."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    entry = _cache.get(key)
    if entry is not None and now - entry.checked_at < _CHECK_EVERY_S:
        return entry.index
    stamp = _stamp(session)
    if entry is not None and entry.stamp == stamp:
        entry.checked_at = now
        return entry.index
    with _lock:
        build_lock = _building.setdefault(key, threading.Lock())
    with build_lock:  # single flight: the other threads wait for this build and share it
        current = _cache.get(key)
        if current is not None and current.stamp == stamp:
            return current.index
        fresh = _Entry(stamp, _load(session), time.monotonic())
        global builds
        with _lock:
            _cache[key] = fresh
            builds += 1
        return fresh.index


def _load(session: Session) -> PlaceIndex:
    areas: list[Area] = []
    for code, name, level, parent, x0, y0, x1, y1 in session.execute(
        select(
            Division.code, Division.name, Division.level, Division.parent_code,
            Division.minx, Division.miny, Division.maxx, Division.maxy,
        ).where(Division.level.in_(("street", "community")))
    ):  # fmt: skip
        lon, lat = _middle(x0, y0, x1, y1)
        areas.append(
            Area(code, name, level, lon, lat, code if level == "community" else None, parent)
        )
    grid_of: dict[int, tuple[str, str]] = {}
    for version in active_versions(session):
        kind = "grid" if version.layer == "social" else "unit_grid"
        for gid, code, name, community, x0, y0, x1, y1 in session.execute(
            select(
                Grid.id, Grid.code, Grid.name, Grid.community_code,
                Grid.minx, Grid.miny, Grid.maxx, Grid.maxy,
            ).where(Grid.version_id == version.id, Grid.kind.in_(TILING_KINDS[version.layer]))
        ):  # fmt: skip
            lon, lat = _middle(x0, y0, x1, y1)
            areas.append(Area(code, name, kind, lon, lat, community))
            grid_of[gid] = (code, community)
    buildings = [
        BuildingPlace(bid, name, address, lon or 0.0, lat or 0.0, community, _code(grid_of, gid))
        for bid, name, address, lon, lat, community, gid in session.execute(
            select(
                Building.id, Building.name, Building.address, Building.lon, Building.lat,
                Building.community_code, Building.grid_id,
            ).where(Building.lon.is_not(None), Building.lat.is_not(None))
        )
    ]  # fmt: skip
    cameras = [
        Camera(
            key,
            str((props or {}).get("名称") or key),
            lon,
            lat,
            _community(grid_of, gid),
            _code(grid_of, gid),
        )
        for key, props, lon, lat, gid in session.execute(
            select(
                LocatedPoint.key, LocatedPoint.properties, LocatedPoint.lon, LocatedPoint.lat,
                LocatedPoint.grid_id,
            ).where(LocatedPoint.layer == CAMERA_LAYER)
        )
    ]  # fmt: skip
    return PlaceIndex(
        roads=_roads_with_communities(session, load_roads(session), grid_of),
        buildings=buildings,
        areas=areas,
        cameras=cameras,
    )


def _code(grid_of: dict[int, tuple[str, str]], gid: int | None) -> str | None:
    hit = grid_of.get(gid) if gid is not None else None
    return hit[0] if hit else None


def _community(grid_of: dict[int, tuple[str, str]], gid: int | None) -> str | None:
    hit = grid_of.get(gid) if gid is not None else None
    return hit[1] if hit else None


def _middle(*bbox: float | None) -> tuple[float, float]:
    """The middle of a bounding box (a label point for search hits)."""
    x0, y0, x1, y1 = bbox
    if x0 is None or y0 is None or x1 is None or y1 is None:
        return 0.0, 0.0
    return (x0 + x1) / 2, (y0 + y1) / 2


def _roads_with_communities(
    session: Session, roads: Sequence[tuple[str, BaseGeometry]], grid_of: dict[int, tuple[str, str]]
) -> list[Road]:
    """Attach to each road the communities it runs through (points sampled along it)."""
    owner, lons, lats = [], [], []
    for k, (_, geom) in enumerate(roads):
        n = max(2, min(400, int(geom.length / _SAMPLE_STEP_DEG)))
        for t in np.linspace(0.0, 1.0, n):
            p = geom.interpolate(float(t), normalized=True)
            owner.append(k)
            lons.append(p.x)
            lats.append(p.y)
    found: list[int] = (
        locate_many(session, np.array(lons), np.array(lats))["social"].tolist() if owner else []
    )
    communities: list[list[str]] = [[] for _ in roads]
    for k, gid in zip(owner, found, strict=True):
        community = grid_of.get(gid, ("", ""))[1]
        if community and community not in communities[k]:
            communities[k].append(community)
    return [Road(n, g, tuple(communities[k])) for k, (n, g) in enumerate(roads)]


# ---------------------------------------------------------------------- use cases
def reverse_refs(
    session: Session, lon: float, lat: float, grid: GridRef | None, unit: GridRef | None
) -> Reverse:
    """Address parts of a canonical position whose grids are already located (no query)."""
    located = grid or unit
    return place_index(session).reverse(
        lon,
        lat,
        grid_code=grid.code if grid else None,
        unit_grid_code=unit.code if unit else None,
        community_code=located.community_code if located else None,
    )


def address_at(
    session: Session, lon: float, lat: float, grid: GridRef | None, unit: GridRef | None
) -> str | None:
    """The address text a case stores when its reporter gave none."""
    return reverse_refs(session, lon, lat, grid, unit).text


def reverse(session: Session, principal: Principal, lon: float, lat: float) -> Reverse:
    """Address parts of a CGCS2000 position inside the district and the user's counties."""
    found = locate_refs(session, lon, lat)
    grid, unit = found.get("social"), found.get("unit")
    located = grid or unit
    if located is None:
        raise ValidationFailed(
            f"位置 ({lon:.6f}, {lat:.6f}) 不在本辖区的任何网格内",
            f"position ({lon:.6f}, {lat:.6f}) lies outside the district's grids",
            code="outside_district",
            field="lon",
        )
    counties = principal.county_codes()
    if counties is not None and located.county_code not in counties:
        raise Forbidden(
            "该位置不在您的辖区所在区县内",
            "the position lies outside the counties of your area",
            code="outside_area",
        )
    return reverse_refs(session, lon, lat, grid, unit)


def search(session: Session, principal: Principal, q: str | None, limit: int = 10) -> list[Place]:
    """Places matching `q` inside the user's area (its divisions above count too)."""
    text = normalize(q or "")
    if len(text) < MIN_QUERY:
        raise ValidationFailed(
            f"请输入至少 {MIN_QUERY} 个字的地点名称、地址或编码",
            f"give at least {MIN_QUERY} characters of a place name, address or code (q)",
            code="query_too_short",
            field="q",
        )
    if not 1 <= limit <= 50:
        raise ValidationFailed(
            "limit 须在 1 到 50 之间", "limit must be between 1 and 50", field="limit"
        )

    def visible(codes: tuple[str, ...]) -> bool:
        return any(c and principal.covers(c) for c in codes)

    return place_index(session).search(q or "", limit=limit, visible=visible)
