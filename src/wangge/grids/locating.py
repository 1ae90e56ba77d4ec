"""Point→grid lookup against the active versions, with an in-process index cache.

The cache holds only data derived from the database (rebuilt when a version's grids
change), so API processes stay stateless and interchangeable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.common.cache import TTLCache
from wangge.common.geo import parse_crs, to_canonical_xy
from wangge.common.memory import evict_least_recent, release_freed_memory
from wangge.grids.lookup import GridIndex
from wangge.grids.micro_index import MicroIndex, build_micro_index
from wangge.grids.models import Grid, GridVersion
from wangge.grids.service import TILING_KINDS

_CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class GridRef:
    """What the hot path needs to know about a grid, kept with the index (no query)."""

    id: int
    code: str
    community_code: str
    county_code: str
    parent_id: int | None = None  # micro grids: the grid they lie in


@dataclass
class _Entry:
    signature: tuple[int, object]
    index: GridIndex
    checked_at: float
    refs: dict[int, GridRef]
    footprint: int = 0  # bytes the entry keeps alive (arrays, geometries, refs)
    used_at: float = 0.0
    # The version's micro grids (一网多层), None when it has none: a county without micro
    # grids keeps no second index.
    micro: MicroIndex | None = None


_cache: dict[tuple[str, int], _Entry] = {}


# The extent of every version ever indexed here, kept after its index is dropped: a point
# outside a county's extent never makes that county's index be built again.
@dataclass
class _Extent:
    signature: tuple[int, object]  # of the grids it was computed from (see `_signature`)
    box: tuple[float, float, float, float]
    checked_at: float


_extents: dict[tuple[str, int], _Extent] = {}
# Memory the indexes of this process may keep (WANGGE_GRID_INDEX_BUDGET_MB, 0: no limit); past
# it the least recently used counties' indexes are dropped (a province: a worker keeps the
# counties it serves, not all of them).
_budget: int = 0


def set_budget(megabytes: float) -> None:
    """Bound the memory of the cached indexes (0: unbounded)."""
    global _budget
    _budget = int(megabytes * 2**20)


def footprint(index: GridIndex, geoms: Sequence[object], refs: int) -> int:
    """Estimate what an index keeps alive: its arrays, the GEOS geometries and the refs.

    A coordinate costs 16 bytes in GEOS (and about as much again prepared); a ref about 200.
    """
    coords = int(shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).sum())
    return index.nbytes + 32 * coords + 200 * refs


def cached_bytes() -> int:
    """Return the estimated memory of the cached indexes (tests, metrics)."""
    with _lock:
        return sum(e.footprint for e in _cache.values())


def _evict(keep: tuple[str, int]) -> None:
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
        release_freed_memory()  # the dropped index's arrays and geometries


_versions_cache = TTLCache(ttl=_CHECK_EVERY_S)
_lock = threading.Lock()
# One build per (database, version) at a time: after a cold start every request thread used
# to build its own index of the same 9,000 grids at once (15 of 16 threads, 1.7 GB RSS, and
# uvicorn killed the starved workers). The others now wait for the one build and share it.
_building: dict[tuple[str, int], threading.Lock] = {}
builds = 0  # indexes built in this process (tests read it)
evictions = 0  # indexes dropped to stay within the budget


def _signature(session: Session, version_id: int) -> tuple[int, object]:
    row = session.execute(
        select(func.count(Grid.id), func.max(Grid.updated_at)).where(Grid.version_id == version_id)
    ).one()
    return int(row[0]), row[1]


def index_for(session: Session, version: GridVersion) -> GridIndex:
    """Return the lookup index of a version's tiling grids, rebuilding it when they changed."""
    bind = session.get_bind()
    key = (str(bind.engine.url), version.id)
    now = time.monotonic()
    entry = _cache.get(key)
    return _entry_for(session, version, key, entry, now).index


def _entry_for(
    session: Session, version: GridVersion, key: tuple[str, int], entry: _Entry | None, now: float
) -> _Entry:
    if entry is not None:
        entry.used_at = now
    if entry is not None and now - entry.checked_at < _CHECK_EVERY_S:
        return entry
    signature = _signature(session, version.id)
    if entry is not None and entry.signature == signature:
        entry.checked_at = now
        return entry
    with _lock:
        build_lock = _building.setdefault(key, threading.Lock())
    with build_lock:
        current = _cache.get(key)
        if current is not None and current.signature == signature:
            return current  # another thread built it while this one waited
        return _build(session, version, key, signature, now)


def _build(
    session: Session,
    version: GridVersion,
    key: tuple[str, int],
    signature: tuple[int, object],
    now: float,
) -> _Entry:
    global builds
    kinds = (*TILING_KINDS[version.layer], "micro")
    found = session.execute(
        select(
            Grid.id, Grid.geom, Grid.code, Grid.community_code, Grid.county_code,
            Grid.parent_id, Grid.kind,
        ).where(Grid.version_id == version.id, Grid.kind.in_(kinds))
    ).all()  # fmt: skip
    rows = [r for r in found if r[6] != "micro"]
    geoms = [r[1] for r in rows]
    index = GridIndex(np.array([r[0] for r in rows], dtype=np.int64), geoms)
    refs = {r[0]: GridRef(r[0], r[2], r[3], r[4]) for r in rows}
    size = footprint(index, geoms, len(refs))
    micro_rows = [r for r in found if r[6] == "micro"]
    micro = build_micro_index(micro_rows, GridRef)
    if micro is not None:
        size += footprint(micro.index, [r[1] for r in micro_rows], len(micro_rows))
    fresh = _Entry(signature, index, now, refs, size, now, micro)
    with _lock:
        _cache[key] = fresh
        if geoms:
            x0, y0, x1, y1 = (
                float(v) for v in shapely.total_bounds(np.asarray(geoms, dtype=object))
            )
            _extents[key] = _Extent(signature, (x0, y0, x1, y1), now)
        builds += 1
    _evict(keep=key)
    return fresh


def _outside(
    session: Session, version: GridVersion, key: tuple[str, int], lon: float, lat: float
) -> bool:
    """Whether a point lies outside the known extent of a version (unknown: not outside).

    The extent is checked against the grids as the index is (at most once a second), so an
    edited grid that reaches further is never skipped for long.
    """
    extent = _extents.get(key)
    if extent is None:
        return False
    now = time.monotonic()
    if now - extent.checked_at >= _CHECK_EVERY_S:
        if _signature(session, version.id) != extent.signature:
            _extents.pop(key, None)
            return False
        extent.checked_at = now
    box = extent.box
    return not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3])


def warm(session: Session) -> int:
    """Build the indexes of the active versions now (server start-up, in the background),
    as many as half the budget holds: the others are built when a request first needs them.

    Half: a province's worker does not know at start which counties it will serve; filling
    the whole budget with the first counties in code order would leave no room for the ones
    requests ask for, and every request of those would evict an index the warm-up built.
    A district or a city (all its versions within half the budget) is still warmed whole.
    """
    warmed = 0
    for version in _active(session):
        if _budget and cached_bytes() >= _budget / 2:
            break
        key = (str(session.get_bind().engine.url), version.id)
        _entry_for(session, version, key, _cache.get(key), time.monotonic())
        warmed += 1
    return warmed


def _active(session: Session) -> list[GridVersion]:
    # Which versions are active changes only on activation; one query a second is enough.
    url = str(session.get_bind().engine.url)
    versions: list[GridVersion] = _versions_cache.get(
        url, lambda: [_detached(v) for v in active_versions(session)]
    )
    return versions


def _detached(v: GridVersion) -> GridVersion:
    return GridVersion(
        id=v.id,
        county_code=v.county_code,
        layer=v.layer,
        number=v.number,
        name=v.name,
        status=v.status,
    )


def locate_refs(
    session: Session,
    lon: float,
    lat: float,
    *,
    county_codes: Iterable[str] | None = None,
    micro: bool = False,
) -> dict[str, GridRef | None]:
    """Return, per layer, the active grid containing a canonical point, without a query.

    With `micro`, also the micro grid ("micro": None where no micro grid holds the point).
    """
    found: dict[str, GridRef | None] = {layer: None for layer in TILING_KINDS}
    if micro:
        found["micro"] = None
    wanted = set(county_codes) if county_codes is not None else None
    for version in _active(session):
        if found.get(version.layer) is not None or (
            wanted is not None and version.county_code not in wanted
        ):
            continue
        key = (str(session.get_bind().engine.url), version.id)
        if _outside(session, version, key, lon, lat):
            continue
        entry = _entry_for(session, version, key, _cache.get(key), time.monotonic())
        grid_id = entry.index.locate(lon, lat)
        if grid_id is not None:
            found[version.layer] = entry.refs.get(grid_id)
            if micro and entry.micro is not None:
                found["micro"] = entry.micro.locate(lon, lat, grid_id)
    return found


def clear_cache() -> None:
    """Forget every cached index (tests and re-divisions)."""
    with _lock:
        _cache.clear()
        _extents.clear()
        _versions_cache.clear()


def active_versions(
    session: Session, county_codes: Iterable[str] | None = None
) -> list[GridVersion]:
    """Return the active versions, optionally only of some counties."""
    q = select(GridVersion).where(GridVersion.status == "active").order_by(GridVersion.id)
    if county_codes is not None:
        q = q.where(GridVersion.county_code.in_(list(county_codes)))
    return list(session.scalars(q))


def locate_point(
    session: Session,
    lon: float,
    lat: float,
    *,
    crs: str | None = None,
    county_codes: Iterable[str] | None = None,
    micro: bool = False,
) -> dict[str, Grid | None]:
    """Return, per layer, the active grid containing a point given in any supported CRS.

    With `micro`, also the micro grid holding it ("micro", None where there is none).
    """
    x, y = to_canonical_xy(np.array([lon]), np.array([lat]), parse_crs(crs or "EPSG:4490"))
    found: dict[str, Grid | None] = {layer: None for layer in TILING_KINDS}
    if micro:
        found["micro"] = None
    for version in active_versions(session, county_codes):
        if found.get(version.layer) is not None:
            continue
        grid_id = index_for(session, version).locate(float(x[0]), float(y[0]))
        if grid_id is not None:
            found[version.layer] = session.get(Grid, grid_id)
            micro_index = micro_index_for(session, version) if micro else None
            if micro_index is not None:
                ref = micro_index.locate(float(x[0]), float(y[0]), grid_id)
                found["micro"] = session.get(Grid, ref.id) if ref is not None else None
    return found


def locate_many(
    session: Session,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    county_codes: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
    micro: bool = False,
) -> dict[str, np.ndarray]:
    """Return, per layer, the grid id of each canonical (EPSG:4490) point, −1 where none.

    With `micro`, also "micro": the micro grid id of each point (−1 where none).
    """
    out = {layer: np.full(len(lon), -1, dtype=np.int64) for layer in TILING_KINDS}
    if micro:
        out["micro"] = np.full(len(lon), -1, dtype=np.int64)
    for version in active_versions(session, county_codes):
        ids = index_for(session, version).locate_many(lon, lat)
        target = out[version.layer]
        hit = (ids >= 0) & (target < 0)
        target[hit] = ids[hit]
        micro_index = micro_index_for(session, version) if micro else None
        if micro_index is not None and hit.any():
            x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
            found = micro_index.locate_many(x[hit], y[hit], ids[hit])
            out["micro"][np.flatnonzero(hit)] = found
        if progress:
            progress(len(lon))
    return out


def micro_index_for(session: Session, version: GridVersion) -> MicroIndex | None:
    """Return the micro-grid index of a version (None: it has no micro grids)."""
    bind = session.get_bind()
    key = (str(bind.engine.url), version.id)
    return _entry_for(session, version, key, _cache.get(key), time.monotonic()).micro


def grid_codes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Map grid ids to codes in one query."""
    wanted = sorted({int(i) for i in ids if i >= 0})
    if not wanted:
        return {}
    return dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(wanted))).all())
