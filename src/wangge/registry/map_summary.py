"""Which counties a map view needs, and small per-county summaries for views wider than the budget.

A province view (zoom 7–12) spans tens of counties; loading each county's points would hold
the whole province in every worker. Each county instead keeps a summary: its points binned
into the 64-px cells of SUMMARY_ZOOM per category (count, sum of lon, sum of lat), a few
thousand entries, kept after the county's snapshot is evicted. Cells of every coarser zoom are
unions of these cells (powers of two), so counts and mean positions of wide views are exact;
a summary cell is in a view when its mean position is (at the view's edge a cell counts whole
or not at all, see docs/development.md).

Summaries are kept fresh by the kind's stamp: when it moves, the counties of the rows written
since (new ids, history rows, the re-read window) lose their summaries, rebuilt on next use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.cache import TTLCache
from wangge.common.clustering import BASE_ZOOM, base_pixels
from wangge.common.memory import release_freed_memory
from wangge.divisions.models import Division
from wangge.grids.locating import active_versions
from wangge.registry.map_snapshot import (
    KINDS,
    MAX_PATCH,
    REREAD_WINDOW,
    Kind,
    Snapshot,
    budget,
    cached_counties,
    kind_stamp,
    load,
    snapshot,
)
from wangge.registry.models_common import RecordChange

SUMMARY_ZOOM = 12
# Views at this zoom or coarser take a county that lies wholly in view from its summary
# re-binned at this zoom: ~50× fewer entries, so a 100-county province view bins ~100,000
# entries, not ~2 million. Exact: every entry of such a county is in view anyway.
COARSE_ZOOM = 9
SUMMARY_CELL_PX = 64
SHIFT = BASE_ZOOM - SUMMARY_ZOOM + SUMMARY_CELL_PX.bit_length() - 1
EXTENT_TTL_S = 60.0

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Summary:
    """A county's points per (cell of SUMMARY_ZOOM, or `zoom` once re-binned; category)."""

    cx: np.ndarray  # cell x at `zoom` (int32: 32 bytes an entry with the rest)
    cy: np.ndarray  # cell y
    cat: np.ndarray  # index into categories
    count: np.ndarray  # points
    lon: np.ndarray  # mean longitude of those points (float64: clusters as exact as points)
    lat: np.ndarray
    categories: list[str | None]
    rows: int
    box: Box  # of the points themselves (NaN when none)
    zoom: int = SUMMARY_ZOOM
    coarse: list[Summary] = field(default_factory=list, compare=False)

    @property
    def nbytes(self) -> int:
        arrays = (self.cx, self.cy, self.cat, self.count, self.lon, self.lat)
        return sum(a.nbytes for a in arrays) + sum(c.nbytes for c in self.coarse)

    def at_coarse_zoom(self) -> Summary:
        """Return the entries re-binned into the cells of COARSE_ZOOM (kept once made)."""
        if not self.coarse:
            self.coarse.append(_rebin(self, COARSE_ZOOM))
        return self.coarse[0]


def _rebin(found: Summary, zoom: int) -> Summary:
    d = found.zoom - zoom
    n_cat = max(1, len(found.categories))
    key = (((found.cx.astype(np.int64) >> d) << 20) | (found.cy >> d)) * n_cat + found.cat
    uniq, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse, weights=found.count, minlength=len(uniq))
    lon = np.bincount(inverse, weights=found.lon * found.count, minlength=len(uniq)) / count
    lat = np.bincount(inverse, weights=found.lat * found.count, minlength=len(uniq)) / count
    return _summary(
        uniq, n_cat, np.rint(count), lon, lat, found.categories, found.rows, found.box, zoom
    )


def _summary(
    uniq: np.ndarray, n_cat: int, count: np.ndarray, lon: np.ndarray, lat: np.ndarray,
    categories: list[str | None], rows: int, box: Box, zoom: int,
) -> Summary:  # fmt: skip
    cell, cat = np.divmod(uniq, n_cat)
    i32 = np.int32  # 32 bytes an entry with the two means
    return Summary(
        (cell >> 20).astype(i32), (cell & 0xFFFFF).astype(i32), cat.astype(i32),
        count.astype(i32), lon, lat, categories, rows, box, zoom,
    )  # fmt: skip


def summarize(snap: Snapshot) -> Summary:
    """Bin a county's snapshot into summary cells per category."""
    cx = (snap.px >> SHIFT).astype(np.int64)
    cy = (snap.py >> SHIFT).astype(np.int64)
    n_cat = max(1, len(snap.categories.values))
    key = ((cx << 20) | cy) * n_cat + snap.cat
    uniq, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse, minlength=len(uniq))
    lon = np.bincount(inverse, weights=snap.lon, minlength=len(uniq)) / np.maximum(count, 1)
    lat = np.bincount(inverse, weights=snap.lat, minlength=len(uniq)) / np.maximum(count, 1)
    x0, y0, x1, y1 = (float(v) for v in snap.extent)
    values = list(snap.categories.values)
    return _summary(uniq, n_cat, count, lon, lat, values, len(snap), (x0, y0, x1, y1), SUMMARY_ZOOM)


class _Summaries(TTLCache):
    """Summaries per (database, kind, county); a TTLCache so `clear_all()` (tests) forgets them."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str, str], Summary] = {}
        self.checked: dict[tuple[str, str], tuple[int, int]] = {}
        self.locks: dict[tuple[str, str], threading.Lock] = {}
        self.lock = threading.Lock()
        self.built = 0  # summaries built (tests read it)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.checked.clear()
            self.built = 0


_SUMMARIES = _Summaries()
_EXTENTS = TTLCache(ttl=EXTENT_TTL_S)


def clear_summaries() -> None:
    """Forget every summary and county extent of this process."""
    _SUMMARIES.clear()
    _EXTENTS.clear()


def summaries_built() -> int:
    return _SUMMARIES.built


def summaries(session: Session, kind: Kind, counties: list[str]) -> dict[str, Summary]:
    """Return the current summaries of counties, building the missing ones (one at a time)."""
    url = str(session.get_bind().engine.url)
    mark = kind_stamp(session, kind)
    with _SUMMARIES.lock:
        lock = _SUMMARIES.locks.setdefault((url, kind.name), threading.Lock())
    with lock:  # single flight per kind: a burst of wide views builds each summary once
        _forget_changed(session, kind, url, mark)
        out = {}
        for county in counties:
            key = (url, kind.name, county)
            found = _SUMMARIES.items.get(key)
            if found is None:
                found = _SUMMARIES.items[key] = _build(session, kind, url, county)
                _SUMMARIES.built += 1
            out[county] = found
    return out


def warm(session: Session) -> int:
    """Summarize every county of every kind (start-up, in the background); return how many.

    One county at a time (a county's snapshot is read and dropped), so requests are never
    held up for long: a cold worker's first province view otherwise reads every county.
    """
    counties = sorted(county_extents(session))
    if not budget() or len(counties) < 2:
        return 0  # every view is served from the snapshots
    for kind in KINDS.values():
        for county in counties:
            summaries(session, kind, [county])
            # Each county's rows were read and dropped: hand their pages back, or a province's
            # warm-up leaves ~8 MB a county in the worker's RSS (measured: 12 counties of
            # 300,000 components, +101 MB → +16 MB).
            release_freed_memory()
    return len(counties)


def _build(session: Session, kind: Kind, url: str, county: str) -> Summary:
    """Summarize the held snapshot (patched first), or read the county once without keeping it."""
    if county in cached_counties(url, kind):
        return summarize(snapshot(session, kind, county))
    return summarize(load(session, kind, county)[0])


def _forget_changed(session: Session, kind: Kind, url: str, mark: tuple[int, int]) -> None:
    old = _SUMMARIES.checked.get((url, kind.name))
    _SUMMARIES.checked[(url, kind.name)] = mark
    if old is None or old == mark:
        return
    changed = changed_counties(session, kind, old, mark)
    for key in list(_SUMMARIES.items):
        if key[:2] == (url, kind.name) and (changed is None or key[2] in changed):
            del _SUMMARIES.items[key]


def changed_counties(
    session: Session, kind: Kind, old: tuple[int, int], new: tuple[int, int]
) -> set[str] | None:
    """Return the counties whose rows may have changed between two stamps (None: any)."""
    if new[0] - old[0] > MAX_PATCH or new[1] - old[1] > MAX_PATCH:
        return None
    m = kind.model
    rows = session.execute(
        select(RecordChange.object_id, RecordChange.county_code, RecordChange.changes).where(
            RecordChange.object_type == kind.object_type,
            RecordChange.id > max(0, old[1] - REREAD_WINDOW),
        )
    ).all()
    found = {r[1] for r in rows} | {c for r in rows for c in _left(r[2])}
    ids = sorted({r[0] for r in rows})
    low = m.id > max(0, old[0] - REREAD_WINDOW)
    where = or_(low, m.id.in_(ids)) if ids else low
    found |= set(session.scalars(select(m.county_code).where(where).distinct()))
    return found


def _left(changes: dict[str, Any] | None) -> set[str]:
    """The county a record moved out of: its history row keeps the old codes ([old, new])."""
    out = set()
    for column in ("county_code", "community_code"):
        old = (changes or {}).get(column)
        if isinstance(old, list) and old and isinstance(old[0], str) and len(old[0]) >= 6:
            out.add(old[0][:6])
    return out


def county_extents(session: Session) -> dict[str, Box | None]:
    """Return every county's extent (None: unknown, so always in view), cached a minute.

    From the divisions table (a few hundred rows per county, not the 30 million points),
    plus the counties with active grid versions but no divisions.
    """
    url = str(session.get_bind().engine.url)
    found: dict[str, Box | None] = _EXTENTS.get(url, lambda: _extents(session))
    return found


def _extents(session: Session) -> dict[str, Box | None]:
    d = Division
    rows = session.execute(
        select(d.county_code, func.min(d.minx), func.min(d.miny), func.max(d.maxx), func.max(d.maxy))
        .group_by(d.county_code)
    ).all()  # fmt: skip
    out: dict[str, Box | None] = {r[0]: _box(r[1:]) for r in rows}
    for version in active_versions(session):
        out.setdefault(version.county_code, None)
    return out


def _box(values: Any) -> Box | None:
    x0, y0, x1, y1 = values
    return None if None in values else (float(x0), float(y0), float(x1), float(y1))


def counties_in_view(session: Session, principal: Principal, bbox: Box) -> list[str]:
    """Return the counties a view needs: those of the caller's scope whose extent meets it."""
    extents = county_extents(session)
    prefixes = principal.scope_prefixes
    if prefixes is None:
        candidates = set(extents)
    else:
        short = tuple(p for p in prefixes if len(p) < 6)  # a city or province post
        candidates = {p[:6] for p in prefixes if len(p) >= 6}
        candidates |= {c for c in extents if short and c.startswith(short)}
    return sorted(c for c in candidates if _meets(extents.get(c), bbox))


def _meets(box: Box | None, bbox: Box) -> bool:
    if box is None:
        return True
    return box[0] <= bbox[2] and bbox[0] <= box[2] and box[1] <= bbox[3] and bbox[1] <= box[3]


def inner_cells(bbox: Box) -> tuple[int, int, int, int]:
    """Return the range of summary cells (x0, x1, y0, y1) whose every point lies in the bbox.

    The cells holding the bbox's edge pixels are left out: a point of such a pixel may lie
    on either side of the edge.
    """
    x0, y0, x1, y1 = bbox
    px, py = base_pixels(np.array([x0, x1]), np.array([y1, y0]))  # py: north edge first
    return (
        int(px[0] >> SHIFT) + 1, int(px[1] >> SHIFT) - 1,
        int(py[0] >> SHIFT) + 1, int(py[1] >> SHIFT) - 1,
    )  # fmt: skip


def summary_columns(found: Summary, bbox: Box, zoom: int) -> dict[str, Any]:
    """Return the entries of a summary whose mean lies in the view, as cluster() columns."""
    x0, y0, x1, y1 = bbox
    b = found.box
    if zoom <= COARSE_ZOOM and x0 <= b[0] and y0 <= b[1] and b[2] <= x1 and b[3] <= y1:
        found = found.at_coarse_zoom()  # the whole county in view
    inside = (found.lon >= x0) & (found.lon <= x1) & (found.lat >= y0) & (found.lat <= y1)
    shift = SHIFT + (SUMMARY_ZOOM - found.zoom)
    return {
        "px": found.cx[inside].astype(np.int64) << shift,
        "py": found.cy[inside].astype(np.int64) << shift,
        "lon": found.lon[inside],
        "lat": found.lat[inside],
        "cat": found.cat[inside],
        "weight": found.count[inside],
    }
