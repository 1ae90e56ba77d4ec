"""Point → grid lookup (which 网格 contains a lon/lat point) without a database.

Why hand-written instead of ``shapely.STRtree``: speed.  An STRtree answers a point query
by walking a bounding-box tree and then running an exact point-in-polygon test against
every grid whose box contains the point.  With ~9,000 grids and ~1.3 million points that
is ~13× faster than a PostGIS ``ST_Contains`` join; this index is a raster "answer cache"
over the layer's bounding box and is another ~20× faster:

* a cell that no grid edge touches stores its grid directly: one multiply, one truncation
  and one fancy-index per point (~90% of points at the default cell size);
* a cell touched by exactly one edge segment (most boundary cells: segments are much
  longer than cells) stores that segment and the grid on each side: one orientation
  test, with Shewchuk's error bound so near-collinear points are never guessed;
* the rest (cells with a vertex or several edges, ~1–2% of points) get an exact,
  vectorised prepared-geometry test (``shapely.intersects_xy``) against the short
  candidate list stored for the cell.

Geometry is planar in the coordinates given (EPSG:4490 lon/lat for the platform), exactly
like PostGIS ``geometry`` ``ST_Contains``/``ST_Intersects``.  The layer is expected to be a
tiling (grids do not overlap); with overlapping grids a point still gets a grid that holds
it, but not necessarily the smallest id.

Memory: the build works in blocks of at most ``_CHUNK`` elements per temporary array and
hands freed heap pages back to the OS afterwards (``common.memory``), so a worker's
RSS grows by about the arrays the index keeps (``nbytes``), not by the build's temporaries
(issue 15, 9,000 grids, ~39 MiB of arrays: RSS +45 MiB retained and +88 MiB at the peak of
the build, against +102–126 MiB and +236 MiB before; tests/unit/test_grid_index_memory.py).

On-edge rule: a point on a grid's boundary counts as inside it (closed polygons, like
``ST_Intersects``); when several grids hold the point (a shared edge or vertex), the grid
with the **smallest id** wins.  ``ST_Contains`` gives no grid for such points, so they are
the only possible disagreement with a ``ST_Contains`` join.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from wangge.common.memory import release_freed_memory

# A point farther than this (in cell units) from every edge sample is trusted to the raster.
# It absorbs the rounding of (coord - origin) * inv_cell (~1e-12 cell units) with margin.
_EPS = 1e-6
# Default cell edge as a fraction of the median grid's side: ~24 cells across a grid keeps
# the raster to tens of MB while ~90% of points fall in edge-free cells.
_CELLS_PER_GRID_SIDE = 24.0
# Upper bound on raster cells (int32 each): 16 Mi cells = 64 MB.
_MAX_CELLS = 1 << 24
_POLYGON, _MULTIPOLYGON = 3, 6  # shapely.GeometryType values
_OUTSIDE = -1  # raster code: cell lies in no grid
_FIRST_BOUNDARY = -2  # codes <= this point into the boundary-cell tables
# Elements per temporary block while building (2 MiB as int64): bounds the build's peak
# (9,000 grids: 2**20 gave +105 MiB, 2**18 +92 MiB, smaller no better; all as fast).
_CHUNK = 1 << 18
# Orientation filter: |det| above this times (|l| + |r|) has an exact sign (Shewchuk's
# ccwerrboundA is ~3.3e-16; 1e-15 leaves margin).  Below it we fall back to GEOS.
_ORIENT_ERR = 1e-15


@dataclass(frozen=True, slots=True)
class _Frame:
    """Affine map lon/lat → cell units: u = (lon - x0) * inv, v = (lat - y0) * inv."""

    x0: float
    y0: float
    inv: float
    nx: int
    ny: int


@dataclass(frozen=True, slots=True)
class _Edges:
    """Directed polygon edges (grid interior on the left): lon/lat, cell units, owner."""

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    u0: np.ndarray
    v0: np.ndarray
    u1: np.ndarray
    v1: np.ndarray
    poly: np.ndarray


@dataclass(frozen=True, slots=True)
class _Segments:
    """Distinct undirected segments a→a+d and the grid on each side (−1: none)."""

    ax: np.ndarray
    ay: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    left: np.ndarray
    right: np.ndarray
    usable: np.ndarray  # one owner per side at most, and not degenerate
    of_edge: np.ndarray  # segment id of every directed edge


@dataclass(frozen=True, slots=True)
class _Raster:
    """Cell codes plus per-boundary-cell candidates (CSR) and single-segment shortcuts."""

    codes: np.ndarray  # int32 per cell (+ trailing sentinel): ≥0 grid, −1 none, ≤−2 boundary
    offsets: np.ndarray  # boundary cell b's candidates: cands[offsets[b]:offsets[b + 1]]
    cands: np.ndarray  # grid positions, ascending (== ascending id) within a cell
    bseg: np.ndarray  # segment splitting boundary cell b on its own, or −1
    seg_ax: np.ndarray
    seg_ay: np.ndarray
    seg_dx: np.ndarray
    seg_dy: np.ndarray
    seg_left: np.ndarray  # grid position left of the segment, −1 for none
    seg_right: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f).nbytes for f in self.__slots__)


class GridIndex:
    """Exact point → grid index over a polygon layer (raster cache + exact boundary tests)."""

    def __init__(
        self,
        ids: np.ndarray | Sequence[int],
        polygons: np.ndarray | Sequence[BaseGeometry | None],
        *,
        cell_size: float | None = None,
        max_cells: int = _MAX_CELLS,
    ) -> None:
        """Build the index; ``polygons[i]`` (Polygon/MultiPolygon, None skipped) is ``ids[i]``."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        geoms = np.asarray(polygons, dtype=object).reshape(-1)
        if len(ids_arr) != len(geoms):
            raise ValueError("ids and polygons must have the same length")
        # Missing or empty geometries can hold no point: drop them rather than fail.
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        ids_arr, geoms = ids_arr[keep], geoms[keep]
        kinds = shapely.get_type_id(geoms)
        if not np.isin(kinds, (_POLYGON, _MULTIPOLYGON)).all():
            raise ValueError("GridIndex needs Polygon or MultiPolygon geometries")
        # Sorting by id makes "position order" == "id order", so the smallest-id rule is
        # simply "first candidate that holds the point".
        order = np.argsort(ids_arr, kind="stable")
        self._ids: np.ndarray = ids_arr[order]
        self._geoms: np.ndarray = geoms[order]
        shapely.prepare(self._geoms)
        self._frame = _make_frame(self._geoms, cell_size, max_cells)
        self._r = _build_raster(self._geoms, self._frame)
        self._ids_pad: np.ndarray = np.append(self._ids, np.int64(-1))  # [-1] → −1
        release_freed_memory()

    # ------------------------------------------------------------------ introspection
    @property
    def n_grids(self) -> int:
        """Number of grids in the layer."""
        return len(self._ids)

    @property
    def cell_size(self) -> float:
        """Raster cell edge in coordinate units (degrees for EPSG:4490)."""
        return 1.0 / self._frame.inv if self._frame.inv > 0 else 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """Raster shape as (rows, columns)."""
        return self._frame.ny, self._frame.nx

    @property
    def boundary_share(self) -> float:
        """Share of raster cells touched by some grid edge."""
        return len(self._r.bseg) / max(self._r.codes.size - 1, 1)

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays: raster tables, ids, geometry references.

        The geometries themselves (GEOS objects and their prepared form) are not counted.
        """
        return self._r.nbytes + self._ids.nbytes + self._ids_pad.nbytes + self._geoms.nbytes

    def exact_share(self, lon: np.ndarray, lat: np.ndarray) -> float:
        """Share of these points that would need a GEOS test (diagnostics for benchmarks)."""
        x = np.asarray(lon, dtype=np.float64).reshape(-1)
        y = np.asarray(lat, dtype=np.float64).reshape(-1)
        codes = self._r.codes[self._cells(x, y)]
        edge = np.flatnonzero(codes <= _FIRST_BOUNDARY)
        if len(x) == 0 or len(edge) == 0:
            return 0.0
        out = np.full(len(x), -1, dtype=np.int64)
        slow = self._by_segment(edge, _FIRST_BOUNDARY - codes[edge], x, y, out)
        return len(slow) / len(x)

    # ------------------------------------------------------------------ lookups
    def locate(self, lon: float, lat: float) -> int | None:
        """Grid id holding the point, or None."""
        f, r = self._frame, self._r
        u = (lon - f.x0) * f.inv
        v = (lat - f.y0) * f.inv
        # The negated form also rejects NaN.
        if not (0.0 <= u < f.nx and 0.0 <= v < f.ny):
            return None
        code = int(r.codes[int(v) * f.nx + int(u)])
        if code >= 0:
            return int(self._ids[code])
        if code == _OUTSIDE:
            return None
        b = _FIRST_BOUNDARY - code
        s = int(r.bseg[b])
        if s >= 0:
            ex, ey = lon - float(r.seg_ax[s]), lat - float(r.seg_ay[s])
            left, right = float(r.seg_dx[s]) * ey, float(r.seg_dy[s]) * ex
            det, err = left - right, _ORIENT_ERR * (abs(left) + abs(right))
            if det > err or det < -err:
                pos = int(r.seg_left[s] if det > 0 else r.seg_right[s])
                return int(self._ids[pos]) if pos >= 0 else None
        for pos in r.cands[r.offsets[b] : r.offsets[b + 1]]:
            if shapely.intersects_xy(self._geoms[pos], lon, lat):
                return int(self._ids[pos])
        return None

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Grid id per point (int64), −1 where no grid holds the point."""
        x = np.asarray(lon, dtype=np.float64).reshape(-1)
        y = np.asarray(lat, dtype=np.float64).reshape(-1)
        if x.shape != y.shape:
            raise ValueError("lon and lat must have the same length")
        codes = self._r.codes[self._cells(x, y)]
        # Outside (−1) and boundary (≤ −2, clamped to −1) codes both map to −1 for now.
        out: np.ndarray = self._ids_pad[np.maximum(codes, _OUTSIDE)]
        edge = np.flatnonzero(codes <= _FIRST_BOUNDARY)
        if len(edge):
            slow = self._by_segment(edge, _FIRST_BOUNDARY - codes[edge], x, y, out)
            if len(slow):
                self._by_geos(edge[slow], _FIRST_BOUNDARY - codes[edge[slow]], x, y, out)
        return out

    def _cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Raster cell per point; points off the raster (or NaN) get the trailing sentinel."""
        f = self._frame
        u = (x - f.x0) * f.inv
        v = (y - f.y0) * f.inv
        on = (u >= 0.0) & (u < f.nx) & (v >= 0.0) & (v < f.ny)  # False for NaN too
        with np.errstate(invalid="ignore"):  # NaN/inf casts are discarded by the where below
            # Truncation == floor wherever `on` holds, because u, v >= 0 there.
            cells = v.astype(np.intp) * f.nx + u.astype(np.intp)
        return np.where(on, cells, f.nx * f.ny)

    def _by_segment(
        self, pts: np.ndarray, bcells: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Answer points in single-segment cells by orientation; return the undecided rows."""
        r = self._r
        seg = r.bseg[bcells]
        rows = np.flatnonzero(seg >= 0)
        s, p = seg[rows], pts[rows]
        left = r.seg_dx[s] * (y[p] - r.seg_ay[s])
        right = r.seg_dy[s] * (x[p] - r.seg_ax[s])
        det = left - right
        err = _ORIENT_ERR * (np.abs(left) + np.abs(right))
        is_left, is_right = det > err, det < -err
        out[p[is_left]] = self._ids_pad[r.seg_left[s[is_left]]]
        out[p[is_right]] = self._ids_pad[r.seg_right[s[is_right]]]
        undecided = seg < 0
        undecided[rows[~(is_left | is_right)]] = True
        return np.flatnonzero(undecided)

    def _by_geos(
        self, pts: np.ndarray, bcells: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray
    ) -> None:
        """Exact test of points against their cell's candidates; first (smallest id) hit wins."""
        r = self._r
        starts = r.offsets[bcells]
        counts = r.offsets[bcells + 1] - starts
        pair_pt = np.repeat(pts, counts)
        pair_cand = r.cands[_ranges(starts, counts)]
        hit = shapely.intersects_xy(self._geoms[pair_cand], x[pair_pt], y[pair_pt])
        h = np.flatnonzero(hit)
        if len(h) == 0:
            return
        hp = pair_pt[h]
        # Pairs are grouped by point with candidates in id order: keep each point's first hit.
        first = np.ones(len(h), dtype=bool)
        first[1:] = hp[1:] != hp[:-1]
        out[hp[first]] = self._ids[pair_cand[h[first]]]


# ---------------------------------------------------------------------- build helpers
def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c), without a Python loop.

    One output-sized array: steps of 1, a jump at each range's first element, cumsum in place.
    """
    counts = counts.astype(np.intp)
    nonempty = counts > 0
    s, c = starts[nonempty].astype(np.intp), counts[nonempty]
    total = int(c.sum())
    out = np.ones(total, dtype=np.intp)
    if total == 0:
        return out
    first = np.cumsum(c) - c
    out[0] = s[0]
    out[first[1:]] = s[1:] - (s[:-1] + c[:-1] - 1)
    return np.cumsum(out, out=out)


def _chunks(sizes: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges [i, j) of items whose sizes add up to at most budget (≥ 1 item)."""
    ends = np.cumsum(sizes)
    i, n = 0, len(ends)
    while i < n:
        before = int(ends[i - 1]) if i else 0
        j = max(int(np.searchsorted(ends, before + budget, side="right")), i + 1)
        yield i, j
        i = j


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + diff; np.unique's hash path is slower for int64 keys).

    Sorts ``a`` in place: callers pass a temporary they own.
    """
    a.sort()
    keep = np.ones(len(a), dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def _make_frame(geoms: np.ndarray, cell_size: float | None, max_cells: int) -> _Frame:
    """Choose the raster origin and cell size from the data (median grid side / 24)."""
    if len(geoms) == 0:
        return _Frame(0.0, 0.0, 0.0, 0, 0)
    xmin, ymin, xmax, ymax = (float(c) for c in shapely.total_bounds(geoms))
    width, height = max(xmax - xmin, 0.0), max(ymax - ymin, 0.0)
    if cell_size is None:
        side = float(np.sqrt(np.median(shapely.area(geoms))))
        cell_size = side / _CELLS_PER_GRID_SIDE
    floor_size = float(np.sqrt(width * height / max_cells)) if width * height > 0 else 0.0
    cell = max(cell_size, floor_size, max(width, height, 1.0) * 1e-9)
    # +1 so that the layer's max x/y still falls strictly inside the last cell.
    return _Frame(xmin, ymin, 1.0 / cell, int(width / cell) + 1, int(height / cell) + 1)


def _layer_edges(geoms: np.ndarray, f: _Frame) -> _Edges:
    """Every ring segment of every polygon, oriented so the polygon lies on its left."""
    # CCW shells / CW holes: the side of a segment tells which grid a point is in.
    oriented = shapely.orient_polygons(geoms, exterior_cw=False)
    parts, part_of = shapely.get_parts(oriented, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[1:] == ring_of[:-1]
    a = coords[:-1][same_ring]
    b = coords[1:][same_ring]
    poly = part_of[ring_part[ring_of[:-1][same_ring]]].astype(np.int64)
    return _Edges(
        a[:, 0],
        a[:, 1],
        b[:, 0],
        b[:, 1],
        (a[:, 0] - f.x0) * f.inv,
        (a[:, 1] - f.y0) * f.inv,
        (b[:, 0] - f.x0) * f.inv,
        (b[:, 1] - f.y0) * f.inv,
        poly,
    )


def _segments(e: _Edges) -> _Segments:
    """Merge directed edges with identical end points into undirected segments."""
    # Canonical direction: from the lexicographically smaller end point.
    flip = (e.x0 > e.x1) | ((e.x0 == e.x1) & (e.y0 > e.y1))
    ax, ay = np.where(flip, e.x1, e.x0), np.where(flip, e.y1, e.y0)
    bx, by = np.where(flip, e.x0, e.x1), np.where(flip, e.y0, e.y1)
    order = np.lexsort((by, bx, ay, ax))
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        o, p = order[1:], order[:-1]
        new[1:] = (ax[o] != ax[p]) | (ay[o] != ay[p]) | (bx[o] != bx[p]) | (by[o] != by[p])
    of_edge = np.empty(len(order), dtype=np.int64)
    of_edge[order] = np.cumsum(new) - 1
    first = order[new]
    n = len(first)
    # An edge keeps its polygon on its left; after a flip the polygon is on the right.
    n_left = np.bincount(of_edge[~flip], minlength=n)
    n_right = np.bincount(of_edge[flip], minlength=n)
    left = np.full(n, _OUTSIDE, dtype=np.int32)
    right = np.full(n, _OUTSIDE, dtype=np.int32)
    left[of_edge[~flip]] = e.poly[~flip]
    right[of_edge[flip]] = e.poly[flip]
    dx, dy = bx[first] - ax[first], by[first] - ay[first]
    usable = (n_left <= 1) & (n_right <= 1) & (left != right) & ((dx != 0) | (dy != 0))
    return _Segments(ax[first], ay[first], dx, dy, left, right, usable, of_edge)


def _n_crossings(a0: np.ndarray, a1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First integer line a = k strictly inside each segment's a-range, and how many there are."""
    lo = np.floor(np.minimum(a0, a1)) + 1
    hi = np.ceil(np.maximum(a0, a1)) - 1
    return lo, np.maximum(hi - lo + 1, 0).astype(np.intp)


def _grid_line_crossings(
    a0: np.ndarray, b0: np.ndarray, a1: np.ndarray, b1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points where segments cross the integer lines a = k: (edge index, a, b)."""
    lo, counts = _n_crossings(a0, a1)
    edge = np.repeat(np.arange(len(a0)), counts)
    k = _ranges(lo.astype(np.intp), counts).astype(np.float64)
    t = (k - a0[edge]) / (a1[edge] - a0[edge])  # counts > 0 implies a0 != a1
    return edge, k, b0[edge] + t * (b1[edge] - b0[edge])


def _touched_pairs(e: _Edges, f: _Frame, seg_of_edge: np.ndarray, n_seg: int) -> np.ndarray:
    """Sorted unique keys cell * n_seg + segment for every cell a segment touches (±_EPS)."""
    # A segment enters each new cell through a grid-line crossing, so its vertices plus its
    # crossings, each widened by ±_EPS in both axes, hit every cell whose closure it touches.
    # Edges go in blocks of at most _CHUNK // 4 samples (4 keys each), deduplicated per block.
    samples = 1 + _n_crossings(e.u0, e.u1)[1] + _n_crossings(e.v0, e.v1)[1]
    parts = []
    for a, b in _chunks(samples, _CHUNK // 4):
        u0, v0, u1, v1, sg = e.u0[a:b], e.v0[a:b], e.u1[a:b], e.v1[a:b], seg_of_edge[a:b]
        ev, ku, kv = _grid_line_crossings(u0, v0, u1, v1)
        eh, kh, ku2 = _grid_line_crossings(v0, u0, v1, u1)
        su = np.concatenate([u0, ku, ku2])
        sv = np.concatenate([v0, kv, kh])
        sseg = np.concatenate([sg, sg[ev], sg[eh]])
        keys = []
        for du in (-_EPS, _EPS):
            i = np.clip(np.floor(su + du), 0, f.nx - 1).astype(np.int64)
            for dv in (-_EPS, _EPS):
                j = np.clip(np.floor(sv + dv), 0, f.ny - 1).astype(np.int64)
                keys.append((j * f.nx + i) * n_seg + sseg)
        parts.append(_sorted_unique(np.concatenate(keys)))
        del keys, su, sv, sseg
    return _sorted_unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _scanline_labels(e: _Edges, f: _Frame) -> np.ndarray:
    """Polygon position holding each cell centre (even-odd scanline fill), −1 for none.

    One more cell than the raster: the trailing sentinel for points off the raster.
    """
    labels = np.full(f.nx * f.ny + 1, _OUTSIDE, dtype=np.int32)
    # Half-open rule: an edge crosses row j if its centre j + 0.5 lies in [vmin, vmax).
    jlo = np.clip(np.ceil(np.minimum(e.v0, e.v1) - 0.5), 0, f.ny).astype(np.intp)
    jhi = np.clip(np.ceil(np.maximum(e.v0, e.v1) - 0.5), 0, f.ny).astype(np.intp)
    counts = jhi - jlo
    # Polygons in blocks of at most _CHUNK // 4 row crossings.  Edges come polygon by polygon
    # (e.poly is non-decreasing), so a block is a slice of edges.
    n_poly = int(e.poly[-1]) + 1
    per_poly = np.bincount(e.poly, weights=counts, minlength=n_poly).astype(np.intp)
    first_edge = np.searchsorted(e.poly, np.arange(n_poly + 1))
    # Descending polygon order: where input grids overlap, the smaller id is written last.
    for pa, pb in reversed(list(_chunks(per_poly, _CHUNK // 4))):
        ea, eb = int(first_edge[pa]), int(first_edge[pb])
        _fill_rows(labels, e, f, ea, jlo[ea:eb], counts[ea:eb])
    return labels


def _fill_rows(
    labels: np.ndarray, e: _Edges, f: _Frame, ea: int, jlo: np.ndarray, counts: np.ndarray
) -> None:
    """Scanline fill of the polygons of edges ea, ea + 1, … (whole polygons only)."""
    edge = ea + np.repeat(np.arange(len(jlo)), counts)
    row = _ranges(jlo, counts)
    c = row + 0.5
    u = e.u0[edge] + (c - e.v0[edge]) * (e.u1[edge] - e.u0[edge]) / (e.v1[edge] - e.v0[edge])
    poly = e.poly[edge]
    del edge, c
    order = np.lexsort((u, row, -poly))
    u, row, poly = u[order], row[order], poly[order]
    del order
    # Every (polygon, row) group has an even count (closed rings), so pair globally.
    ilo = np.clip(np.ceil(u[0::2] - 0.5), 0, f.nx).astype(np.intp)
    ihi = np.clip(np.ceil(u[1::2] - 0.5), 0, f.nx).astype(np.intp)
    span = np.maximum(ihi - ilo, 0)
    start = row[0::2] * f.nx + ilo
    value = poly[0::2].astype(np.int32)
    del u, row, poly, ilo, ihi
    # Spans in blocks of at most _CHUNK cells, in order (so the smaller id still wins).
    for a, b in _chunks(span, _CHUNK):
        labels[_ranges(start[a:b], span[a:b])] = np.repeat(value[a:b], span[a:b])


def _build_raster(geoms: np.ndarray, f: _Frame) -> _Raster:
    """Scanline-filled cell codes, then candidate lists and shortcuts for boundary cells."""
    if len(geoms) == 0:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int32)
        return _Raster(
            np.full(1, _OUTSIDE, np.int32), np.zeros(1, np.int32), zi, zi, z, z, z, z, zi, zi
        )
    e = _layer_edges(geoms, f)
    seg = _segments(e)
    n_seg = len(seg.ax)
    codes = _scanline_labels(e, f)  # with the trailing "outside" sentinel cell
    keys = _touched_pairs(e, f, seg.of_edge, n_seg)
    cell_of, seg_of = keys // n_seg, keys % n_seg
    del keys
    first = np.ones(len(cell_of), dtype=bool)
    first[1:] = cell_of[1:] != cell_of[:-1]
    bstart = np.flatnonzero(first)  # first (cell, segment) pair of each boundary cell
    del first
    bcells = cell_of[bstart]
    per_cell = np.diff(np.append(bstart, len(cell_of)))  # segments touching each cell
    offsets, cands = _candidates(e, seg.of_edge, n_seg, cell_of, seg_of, per_cell, bcells, codes)
    del cell_of
    # Shortcut when one segment alone splits the cell and its owners are all the candidates.
    s = seg_of[bstart]
    del seg_of
    owners = (seg.left[s] >= 0).astype(np.intp) + (seg.right[s] >= 0)
    ok = (per_cell == 1) & seg.usable[s] & (np.diff(offsets) == owners)
    bseg = np.where(ok, s, -1).astype(np.int32)
    codes[bcells] = (_FIRST_BOUNDARY - np.arange(len(bcells))).astype(np.int32)
    return _Raster(codes, offsets, cands, bseg, seg.ax, seg.ay, seg.dx, seg.dy, seg.left, seg.right)


def _candidates(
    e: _Edges,
    seg_of_edge: np.ndarray,
    n_seg: int,
    cell_of: np.ndarray,
    seg_of: np.ndarray,
    per_cell: np.ndarray,
    bcells: np.ndarray,
    codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """CSR candidate grids per boundary cell: owners of its segments plus its centre's grid.

    ``cell_of``/``seg_of`` are the sorted (cell, segment) pairs, ``per_cell`` the number of
    pairs of each boundary cell ``bcells``; cells go in blocks of at most _CHUNK // 4 pairs.
    """
    n_poly = int(e.poly.max()) + 1
    by_seg = np.argsort(seg_of_edge, kind="stable")
    per_seg = np.bincount(seg_of_edge, minlength=n_seg)
    seg_start = np.cumsum(per_seg) - per_seg
    pair_start = np.cumsum(per_cell) - per_cell
    counts = np.zeros(len(bcells), dtype=np.intp)
    parts = []
    for a, b in _chunks(per_cell, _CHUNK // 4):
        k0, k1 = int(pair_start[a]), int(pair_start[b - 1] + per_cell[b - 1])
        s = seg_of[k0:k1]
        reps = per_seg[s]
        pair_poly = e.poly[by_seg[_ranges(seg_start[s], reps)]]
        pair_cell = np.repeat(cell_of[k0:k1], reps)
        # The centre's grid joins the candidates: with overlapping input it may cover the
        # whole cell without any of its edges touching it.
        cells = bcells[a:b]
        centre = codes[cells].astype(np.int64)
        has = centre >= 0
        keys = _sorted_unique(
            np.concatenate([pair_cell * n_poly + pair_poly, cells[has] * n_poly + centre[has]])
        )
        del pair_poly, pair_cell
        # Sorted by cell then polygon: candidates come out in id order.
        counts[a:b] = np.bincount(np.searchsorted(cells, keys // n_poly), minlength=b - a)
        parts.append((keys % n_poly).astype(np.int32))
    cands = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    # int32 offsets halve the table; a layer with 2**31 candidate pairs would need int64.
    offsets = np.zeros(len(bcells) + 1, dtype=np.int32 if len(cands) < 2**31 else np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, cands
