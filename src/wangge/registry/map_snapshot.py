"""In-process snapshots of the registry's located points (components, buildings) for the map.

One snapshot per (database, kind, county), loaded when a request first needs that county and
kept within a memory budget (WANGGE_MAP_SNAPSHOT_BUDGET_MB, LRU over the counties): a worker
of a province holds the counties it serves, not all of them (`map_summary` covers the views
wider than the budget). A district holds ~1.4 million components: a GROUP BY of the
district's cells costs 2–4 s on SQLite and on PostgreSQL (bench/RESULTS.md "Map: components
and houses"), too slow for a map that moves, so each API process keeps the few columns
clustering needs as numpy arrays and bins them in memory. The snapshot is derived data only,
like the grid lookup index:

- every request compares a stamp made of O(log n) queries (the largest id, the newest
  history row of the kind, the county's active grid versions): a change anywhere re-checks;
- new ids and changed or deleted records (history rows, written by every save, import and
  delete) are patched in, so one edit costs one small query, not a reload;
- a re-division of the county (other active versions) moves records without history rows,
  so it reloads the county, as does a timer (FULL_RELOAD_S) that also catches writes that
  committed out of id order beyond the re-read window. A reload that took longer than
  SYNC_LOAD_S runs in a background thread while the previous snapshot keeps serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Engine, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from wangge.common.cache import TTLCache
from wangge.common.clustering import base_pixels
from wangge.common.memory import evict_least_recent, release_freed_memory
from wangge.grids.locating import active_versions
from wangge.registry.models_common import RecordChange
from wangge.registry.models_components import Component
from wangge.registry.models_houses import Building

FULL_RELOAD_S = 600.0
SYNC_LOAD_S = 1.0
# Ids below the last seen maximum that are read again on every patch: rows whose
# transaction committed after a later id's (sequence order ≠ commit order).
REREAD_WINDOW = 1000
# Beyond this many changes a patch is no cheaper than a reload.
MAX_PATCH = 50_000


@dataclass(frozen=True)
class Kind:
    """A located registry table shown on the map."""

    name: str
    model: Any
    object_type: str  # record_changes.object_type of its history rows
    category: str  # the column points are coloured and filtered by
    state: str | None
    digits: bool  # the category is a code of digits (loaded as an integer, see _digits)


KINDS = {
    "components": Kind("components", Component, "component", "class_code", "state", True),
    "buildings": Kind("buildings", Building, "building", "purpose", None, False),
}


class Vocab:
    """Append-only codes ↔ small integers (indices stay valid for older snapshots)."""

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self.values: list[str | None] = list(values)
        self._index: dict[str | None, int] = {v: i for i, v in enumerate(self.values)}

    def encode(self, values: Iterable[str | None]) -> np.ndarray:
        index, out = self._index, []
        for v in values:
            i = index.get(v)
            if i is None:
                i = index[v] = len(self.values)
                self.values.append(v)
            out.append(i)
        return np.array(out, dtype=np.int32)


COLUMNS = ("ids", "lon", "lat", "px", "py", "cat", "state", "comm", "grid")


@dataclass(frozen=True)
class Snapshot:
    """The clustering columns of every located row of one kind, sorted by id."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    px: np.ndarray  # global pixel x at clustering.BASE_ZOOM (int32)
    py: np.ndarray  # global pixel y
    cat: np.ndarray  # index into categories
    state: np.ndarray  # index into states
    comm: np.ndarray  # index into communities
    grid: np.ndarray  # social grid id, -1 when none
    categories: Vocab
    states: Vocab
    communities: Vocab

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Return the bytes of its arrays (~52 per row; the vocabularies are small)."""
        return sum(getattr(self, name).nbytes for name in COLUMNS)

    @cached_property
    def extent(self) -> tuple[float, float, float, float]:
        """Return (min lon, min lat, max lon, max lat); all NaN when empty."""
        if not len(self.ids):
            return (np.nan,) * 4
        return self.lon.min(), self.lat.min(), self.lon.max(), self.lat.max()


@dataclass(frozen=True)
class Stamp:
    max_id: int
    max_change: int
    versions: tuple[int, ...]


@dataclass
class _Entry:
    snapshot: Snapshot
    stamp: Stamp
    loaded_at: float
    load_s: float
    reloading: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    used_at: float = 0.0


Key = tuple[str, str, str]  # (database URL, kind, county code)


class _SnapshotCache(TTLCache):
    """Entries per (database, kind, county); a TTLCache so `clear_all()` (tests) forgets them."""

    def __init__(self) -> None:
        super().__init__(ttl=FULL_RELOAD_S)
        self.entries: dict[Key, _Entry] = {}
        self.loading: dict[Key, threading.Lock] = {}
        self.lock = threading.Lock()
        self.budget = 0  # bytes; 0: unbounded
        self.loads = 0  # county snapshots loaded into the cache (tests read it)
        self.evictions = 0  # dropped to stay within the budget

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.loads = self.evictions = 0


_CACHE = _SnapshotCache()


def clear_snapshots() -> None:
    """Forget every snapshot of this process."""
    _CACHE.clear()


def set_budget(megabytes: float) -> None:
    """Bound the memory of the cached snapshots (0: unbounded)."""
    _CACHE.budget = int(megabytes * 2**20)


def budget() -> int:
    """Return the budget in bytes (0: unbounded)."""
    return _CACHE.budget


def cached_bytes() -> int:
    """Return the bytes the cached snapshots hold (tests, the bench)."""
    with _CACHE.lock:
        return sum(e.snapshot.nbytes for e in _CACHE.entries.values())


def counters() -> tuple[int, int]:
    """Return (loads, evictions) of this process."""
    return _CACHE.loads, _CACHE.evictions


def cached_counties(engine_url: str, kind: Kind) -> dict[str, int]:
    """Return the counties of a kind held now, with their bytes."""
    with _CACHE.lock:
        items = list(_CACHE.entries.items())
    return {k[2]: e.snapshot.nbytes for k, e in items if k[:2] == (engine_url, kind.name)}


def _evict(keep: Key) -> None:
    """Drop least recently used snapshots until the cache fits the budget (never `keep`)."""
    with _CACHE.lock:
        if not _CACHE.budget:
            return
        dropped = evict_least_recent(
            _CACHE.entries, _CACHE.budget, keep, lambda e: e.snapshot.nbytes, lambda e: e.used_at
        )
        _CACHE.evictions += dropped
    if dropped:
        release_freed_memory()  # or the dropped county's arrays stay in the worker's RSS


def stamp(session: Session, kind: Kind, county: str) -> Stamp:
    """Return what changes when the county's rows may have changed (three index lookups)."""
    max_id, max_change = kind_stamp(session, kind)
    versions = tuple(v.id for v in active_versions(session, [county]))
    return Stamp(max_id, max_change, versions)


def kind_stamp(session: Session, kind: Kind) -> tuple[int, int]:
    """Return the largest id and the newest history row of a kind (two index lookups)."""
    model = kind.model
    max_id = session.scalar(select(func.max(model.id))) or 0
    # ORDER BY id DESC LIMIT 1: a backward primary-key scan stops at the newest row.
    max_change = (
        session.scalar(
            select(RecordChange.id)
            .where(RecordChange.object_type == kind.object_type)
            .order_by(RecordChange.id.desc())
            .limit(1)
        )
        or 0
    )
    return int(max_id), int(max_change)


def _rows(session: Session, kind: Kind, *where: Any) -> Sequence[Any]:
    m = kind.model
    state = getattr(m, kind.state) if kind.state else None
    cols = [m.id, m.lon, m.lat, getattr(m, kind.category), m.community_code, m.grid_id]
    query = select(*cols, *([state] if state is not None else []))
    query = query.where(m.lon.is_not(None), m.lat.is_not(None), *where)
    return session.execute(query).all()


def _build(rows: Sequence[Any], kind: Kind, vocabs: tuple[Vocab, Vocab, Vocab]) -> Snapshot:
    categories, states, communities = vocabs
    cols = list(zip(*rows, strict=True)) if rows else [()] * (7 if kind.state else 6)
    ids = np.array(cols[0], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    lon = np.array(cols[1], dtype=float)[order]
    lat = np.array(cols[2], dtype=float)[order]
    grid = np.array([-1 if g is None else g for g in cols[5]], dtype=np.int64)[order]
    px, py = base_pixels(lon, lat)
    return Snapshot(
        ids=ids[order],
        lon=lon,
        lat=lat,
        px=px,
        py=py,
        cat=categories.encode(cols[3])[order],
        state=(states.encode(cols[6]) if kind.state else np.zeros(len(ids), np.int32))[order],
        comm=communities.encode(cols[4])[order],
        grid=grid,
        categories=categories,
        states=states,
        communities=communities,
    )


# A full load reads ~1.4 million rows: through the DBAPI cursor straight into a numpy record
# array (np.fromiter), every column a number, ~5× faster than SQLAlchemy rows + Python dicts.
_ROW = np.dtype(
    [("id", "i8"), ("lon", "f8"), ("lat", "f8"), ("cat", "i8"), ("comm", "i8"), ("grid", "i8"),
     ("state", "i8")]
)  # fmt: skip


def _digits(col: Any) -> Any:
    """'0101' → 10101: a code of digits as an integer that keeps its leading zeros (NULL → 0)."""
    return func.coalesce(cast(literal("1") + col, BigInteger), 0)


def _undigits(values: np.ndarray) -> list[str | None]:
    return [str(v)[1:] if v else None for v in values.tolist()]


def _coded(session: Session, col: Any, *where: Any) -> tuple[list[str | None], Any]:
    """Return a column's distinct values and a CASE giving each row its value's index."""
    found = list(session.scalars(select(col).where(*where).distinct()))
    values: list[str | None] = sorted(v for v in found if v)
    if len(values) < len(found):
        values.append(None)  # NULL or empty
    if len(values) <= 1:
        return values or [None], literal(0)
    index = {v: i for i, v in enumerate(values) if v is not None}
    return values, case(index, value=col, else_=len(values) - 1)


def cast_rows(cursor: Any) -> Iterable[tuple[Any, ...]]:
    """Return the DBAPI cursor as the iterable of row tuples it is (for the type checker)."""
    rows: Iterable[tuple[Any, ...]] = cursor
    return rows


def _load_all(session: Session, kind: Kind, county: str) -> Snapshot:
    m = kind.model
    mine = m.county_code == county  # through the county_code index
    category = getattr(m, kind.category)
    cat_values, cat_expr = (
        (None, _digits(category)) if kind.digits else _coded(session, category, mine)
    )
    states, state_expr = (
        _coded(session, getattr(m, kind.state), mine) if kind.state else ([None], literal(0))
    )
    stmt = select(
        m.id, m.lon, m.lat, cat_expr, _digits(m.community_code), func.coalesce(m.grid_id, -1),
        state_expr,
    ).where(mine, m.lon.is_not(None), m.lat.is_not(None))  # fmt: skip
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    params = compiled.construct_params()
    args = [params[k] for k in compiled.positiontup or ()] if compiled.positional else params
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        rows = np.fromiter(cast_rows(cursor), dtype=_ROW)
    finally:
        cursor.close()
    rows = rows[np.argsort(rows["id"], kind="stable")]
    if cat_values is None:
        cat_codes, cat = np.unique(rows["cat"], return_inverse=True)
        cat_values = _undigits(cat_codes)
    else:
        cat = rows["cat"]
    comm_codes, comm = np.unique(rows["comm"], return_inverse=True)
    px, py = base_pixels(rows["lon"], rows["lat"])
    return Snapshot(
        ids=rows["id"].copy(),
        lon=rows["lon"].copy(),
        lat=rows["lat"].copy(),
        px=px,
        py=py,
        cat=cat.astype(np.int32),
        state=rows["state"].astype(np.int32),
        comm=comm.astype(np.int32),
        grid=rows["grid"].copy(),
        categories=Vocab(cat_values),
        states=Vocab(states),
        communities=Vocab(_undigits(comm_codes)),
    )


def load(session: Session, kind: Kind, county: str) -> tuple[Snapshot, Stamp, float]:
    """Read a county's snapshot from the database (not cached: see `snapshot`)."""
    t = time.perf_counter()
    mark = stamp(session, kind, county)  # before the rows: later changes are patched in next time
    snap = _load_all(session, kind, county)
    return snap, mark, time.perf_counter() - t


def _patch(session: Session, kind: Kind, county: str, entry: _Entry, new: Stamp) -> Snapshot | None:
    """Return the snapshot with new, changed and deleted rows applied (None: reload instead)."""
    old, m = entry.stamp, kind.model
    if new.max_id - old.max_id > MAX_PATCH:
        return None
    changed = session.scalars(
        select(RecordChange.object_id)
        .where(
            RecordChange.object_type == kind.object_type,
            RecordChange.id > max(0, old.max_change - REREAD_WINDOW),
        )
        .distinct()
        .limit(MAX_PATCH + 1)
    ).all()
    if len(changed) > MAX_PATCH:
        return None
    low = max(0, old.max_id - REREAD_WINDOW)
    asked = np.unique(np.array(changed, dtype=np.int64))
    cond = m.id > low if not len(asked) else or_(m.id > low, m.id.in_(asked.tolist()))
    snap = entry.snapshot
    # Rows that moved to another county are not found here, so they leave this snapshot.
    fresh = _build(
        _rows(session, kind, cond, m.county_code == county),
        kind,
        (snap.categories, snap.states, snap.communities),
    )
    # Drop every row that was asked for (re-read or gone), then add what was found.
    keep = snap.ids <= low
    if len(asked):
        pos = np.searchsorted(snap.ids, asked)
        hit = pos < len(snap.ids)
        hit[hit] = snap.ids[pos[hit]] == asked[hit]
        keep[pos[hit]] = False
    arrays = {}
    for name in COLUMNS:
        arrays[name] = np.concatenate([getattr(snap, name)[keep], getattr(fresh, name)])
    if len(fresh) and keep.any() and fresh.ids[0] <= snap.ids[keep][-1]:
        order = np.argsort(arrays["ids"], kind="stable")
        arrays = {k: v[order] for k, v in arrays.items()}
    return Snapshot(
        **arrays,
        categories=snap.categories,
        states=snap.states,
        communities=snap.communities,
    )


def snapshot(session: Session, kind: Kind, county: str) -> Snapshot:
    """Return a county's current snapshot, loading, patching or reloading it as needed."""
    bind = session.get_bind()
    key = (str(bind.engine.url), kind.name, county)
    with _CACHE.lock:
        entry = _CACHE.entries.get(key)
        first = _CACHE.loading.setdefault(key, threading.Lock()) if entry is None else None
    if first is not None:
        return _first_load(session, kind, key, first).snapshot
    assert entry is not None  # found in the cache
    entry.used_at = time.monotonic()
    current = stamp(session, kind, county)
    with entry.lock:
        if entry.reloading:
            return entry.snapshot
        stale = time.monotonic() - entry.loaded_at > FULL_RELOAD_S
        if current == entry.stamp and not stale:
            return entry.snapshot
        patched = None
        if current.versions == entry.stamp.versions and not stale:
            patched = _patch(session, kind, county, entry, current)
        if patched is not None:
            entry.snapshot, entry.stamp = patched, current
            return patched
        if entry.load_s <= SYNC_LOAD_S or not isinstance(bind, Engine):
            entry.snapshot, entry.stamp, entry.load_s = load(session, kind, county)
            entry.loaded_at = time.monotonic()
            return entry.snapshot
        entry.reloading = True
        serving = entry.snapshot
    threading.Thread(target=_reload, args=(bind, kind, county, entry), daemon=True).start()
    return serving


def _first_load(session: Session, kind: Kind, key: Key, first: threading.Lock) -> _Entry:
    """Load a county not held yet, once however many requests ask for it at the same time."""
    # Single flight: the first request loads (300,000 rows: ~1 s, ~16 MB); the requests that
    # arrive meanwhile wait for that snapshot instead of loading one each.
    with first:
        with _CACHE.lock:
            entry = _CACHE.entries.get(key)
        if entry is not None:
            return entry
        snap, mark, took = load(session, kind, key[2])
        entry = _Entry(snap, mark, time.monotonic(), took, used_at=time.monotonic())
        with _CACHE.lock:
            _CACHE.entries[key] = entry
            _CACHE.loading.pop(key, None)
            _CACHE.loads += 1
    _evict(keep=key)
    return entry


def _reload(engine: Engine, kind: Kind, county: str, entry: _Entry) -> None:
    try:
        with Session(engine) as session:
            snap, mark, took = load(session, kind, county)
        with entry.lock:
            entry.snapshot, entry.stamp, entry.load_s = snap, mark, took
            entry.loaded_at = time.monotonic()
    finally:
        entry.reloading = False
