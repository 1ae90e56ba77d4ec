"""The place indexes of this process, one per county: built on first use, single flight,
rebuilt when places change, within a memory budget.

Reverse geocoding sits on the intake hot path (`create_case`), so a lookup must not query:
the index (roads, buildings, divisions, grids, cameras) lives in process like the grid
index (`grids.locating`). Whether it is stale is checked at most every `_CHECK_EVERY_S` with
a handful of lookups over the whole database (`freshness.stamp`, one look per process and
database shared by the counties held: it scans the grids); when that changed, the rows
changed since the index's own stamp name the counties they are in
(`freshness.changed_counties`), and only those counties' indexes are rebuilt — in a province
something changes somewhere every few seconds, and each change would otherwise rebuild every
county a worker holds. A deleted road, camera, building or division cannot name its county:
then every index is rebuilt. This process's own road writes clear the cache at once.

Per county: one index of a whole province (500,000 grids as places) took 780 MB in every
worker. `WANGGE_PLACE_INDEX_BUDGET_MB` bounds what a worker keeps (LRU over the counties);
start-up builds as many as half of it holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.cache import _ALL as _ALL_CACHES
from wangge.common.memory import evict_least_recent, release_freed_memory
from wangge.divisions.models import Division
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.locating import GridRef, active_versions, locate_many, locate_refs
from wangge.grids.models import Grid, LocatedPoint
from wangge.grids.service import TILING_KINDS
from wangge.places.freshness import Stamp
from wangge.places.freshness import changed_counties as _changed_counties
from wangge.places.freshness import stamp as _stamp
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
from wangge.places.roads import CAMERA_LAYER, load_roads
from wangge.registry.models_houses import Building

_CHECK_EVERY_S = 2.0
_SAMPLE_STEP_DEG = 0.0006  # ~60 m between the samples that find a road's communities


# Measured: 500,000 grids and 2,200 divisions of 100 counties as places took 780 MB (names,
# search keys, label points); roads and buildings cost about as much per place.
_BYTES_PER_PLACE = 1_600
# Counties a search of a wider area (a city's, a province's user) looks through at most: past
# it the user narrows the search to a county (each county's index is built on its first use).
SEARCH_COUNTIES_MAX = 8

Key = tuple[str, str]  # (database URL, county code)


@dataclass
class _Entry:
    stamp: Stamp
    index: PlaceIndex
    checked_at: float
    footprint: int = 0
    used_at: float = 0.0


_cache: dict[Key, _Entry] = {}
_stamps: dict[str, tuple[float, Stamp]] = {}  # database URL → (read at, stamp)
_lock = threading.Lock()
_building: dict[Key, threading.Lock] = {}
builds = 0  # indexes built in this process (tests read it)
evictions = 0  # indexes dropped to stay within the budget
_budget = 0  # bytes (WANGGE_PLACE_INDEX_BUDGET_MB; 0: no limit)


def set_budget(megabytes: float) -> None:
    """Bound the memory of the cached place indexes (0: unbounded)."""
    global _budget
    _budget = int(megabytes * 2**20)


def cached_bytes() -> int:
    """Return the estimated memory of the cached indexes (tests, metrics)."""
    with _lock:
        return sum(e.footprint for e in _cache.values())


def _evict(keep: Key) -> None:
    """Drop least recently used indexes until the cache fits the budget (never `keep`)."""
    global evictions
    if not _budget:
        return
    with _lock:
        dropped = evict_least_recent(
            _cache, _budget, keep, lambda e: e.footprint, lambda e: e.used_at
        )
        evictions += dropped
    if dropped:
        release_freed_memory()


def clear_cache() -> None:
    """Forget the index (tests, and writes of roads in this process)."""
    with _lock:
        _cache.clear()
        _stamps.clear()


class _Forget:
    """Lets `common.cache.clear_all` (tests, start-up) forget the place index too."""

    def clear(self) -> None:
        clear_cache()


_ALL_CACHES.append(_Forget())  # type: ignore[arg-type]


def _current_stamp(session: Session, url: str, now: float) -> Stamp:
    """The database's stamp, read at most every `_CHECK_EVERY_S` for all counties (it scans the
    grids: a province's 500,000 rows, once per check and not once per county held)."""
    seen = _stamps.get(url)
    if seen is not None and now - seen[0] < _CHECK_EVERY_S:
        return seen[1]
    stamp = _stamp(session)
    _stamps[url] = (now, stamp)
    return stamp


def place_index(session: Session, county: str) -> PlaceIndex:
    """Return this process's place index of a county, rebuilding it when stale."""
    key = (str(session.get_bind().engine.url), county)
    now = time.monotonic()
    entry = _cache.get(key)
    if entry is not None:
        entry.used_at = now
        if now - entry.checked_at < _CHECK_EVERY_S:
            return entry.index
    stamp = _current_stamp(session, key[0], now)
    if entry is not None and entry.stamp != stamp:
        changed = _changed_counties(session, entry.stamp, stamp)
        if changed is not None and county not in changed:
            entry.stamp = stamp  # what changed is in other counties: this index holds
    if entry is not None and entry.stamp == stamp:
        entry.checked_at = now
        return entry.index
    with _lock:
        build_lock = _building.setdefault(key, threading.Lock())
    with build_lock:  # single flight: the other threads wait for this build and share it
        current = _cache.get(key)
        if current is not None and current.stamp == stamp:
            return current.index
        index = _load(session, county)
        done = time.monotonic()
        fresh = _Entry(stamp, index, done, _BYTES_PER_PLACE * index.size, done)
        global builds
        with _lock:
            _cache[key] = fresh
            builds += 1
    _evict(keep=key)
    return fresh.index


def warm(session: Session) -> int:
    """Build the place indexes of the counties with active grids now (server start-up), as
    many as half the budget holds (as `grids.locating.warm`); return how many."""
    counties = sorted({v.county_code for v in active_versions(session)})
    warmed = 0
    for county in counties:
        if _budget and cached_bytes() >= _budget / 2:
            break
        place_index(session, county)
        warmed += 1
    return warmed


def _load(session: Session, county: str) -> PlaceIndex:
    areas: list[Area] = []
    for code, name, level, parent, x0, y0, x1, y1 in session.execute(
        select(
            Division.code, Division.name, Division.level, Division.parent_code,
            Division.minx, Division.miny, Division.maxx, Division.maxy,
        ).where(Division.level.in_(("street", "community")), Division.code.startswith(county))
    ):  # fmt: skip
        lon, lat = _middle(x0, y0, x1, y1)
        areas.append(
            Area(code, name, level, lon, lat, code if level == "community" else None, parent)
        )
    grid_of: dict[int, tuple[str, str]] = {}
    for version in active_versions(session, [county]):
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
            ).where(
                Building.county_code == county, Building.lon.is_not(None), Building.lat.is_not(None)
            )
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
            ).where(LocatedPoint.layer == CAMERA_LAYER, LocatedPoint.county_code == county)
        )
    ]  # fmt: skip
    return PlaceIndex(
        roads=_roads_with_communities(session, load_roads(session, county), grid_of),
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
    """Address parts of a canonical position whose grids are already located (no query); in
    no grid, nothing is known of it (a case is located in a grid first)."""
    located = grid or unit
    if located is None:
        return Reverse()
    return place_index(session, located.county_code).reverse(
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


def search(
    session: Session,
    principal: Principal,
    q: str | None,
    limit: int = 10,
    county: str | None = None,
    near: tuple[float, float] | None = None,
) -> list[Place]:
    """Places matching `q` inside the user's area (its divisions above count too), in
    `county`, or in every county of the area (at most `SEARCH_COUNTIES_MAX`; past it in the
    county at `near`, a canonical lon/lat such as the map's centre)."""
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

    hits: list[tuple[int, int, Place]] = []
    for code in _search_counties(session, principal, county, near):
        hits += place_index(session, code).ranked(q or "", limit=limit, visible=visible)
    hits.sort(key=lambda hit: hit[:2])  # stable: counties in code order within a rank
    return [hit[2] for hit in hits[:limit]]


def _search_counties(
    session: Session, principal: Principal, county: str | None, near: tuple[float, float] | None
) -> list[str]:
    """The counties a search looks through: the one asked for, or the user's (with grids), or
    when they are too many the one at `near`."""
    mine = principal.county_codes()
    if county is not None:
        if mine is not None and county not in mine:
            raise Forbidden(
                f"区县 {county} 不在您的辖区内",
                f"county {county} is outside your area",
                code="outside_area",
            )
        return [county]
    counties = sorted({v.county_code for v in active_versions(session, mine)})
    if len(counties) <= SEARCH_COUNTIES_MAX:
        return counties
    found = locate_refs(session, *near) if near is not None else {}
    there = found.get("social") or found.get("unit")
    if there is not None and there.county_code in counties:
        return [there.county_code]
    raise ValidationFailed(
        f"您的辖区有 {len(counties)} 个区县：请把地图移到要搜索的区县，或选择一个区县"
        "（county=区县代码）",
        f"your area spans {len(counties)} counties: move the map to the county to search, or "
        "choose one (county=<code>)",
        code="county_required",
        field="county",
    )
