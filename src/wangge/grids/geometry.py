"""Pure grid geometry: unit-grid generation, code order, layer validation, compactness.

Inputs and outputs are shapely geometries in CGCS2000 lon/lat (EPSG:4490). Anything
measured in metres (areas, lengths, tolerances) is computed in the local CGCS2000
3-degree Gauss-Krüger zone. No database, no web, no clock: everything here is a function
of its arguments.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.divisions.codes import grid_code
from wangge.errors import ValidationFailed

GeomArray = NDArray[np.object_]

# Every overlay in metres runs on a 1 mm grid: snap-rounding makes the edges that two
# neighbouring cells share come out bit-identical, so borders can be measured and pieces
# unioned without hairline gaps. 1 mm is far below any survey precision of grid maps.
GRID_SIZE_M = 1e-3
GRID_SIZE_DEG = 1e-8  # the same precision for overlays in lon/lat (1e-8° ≈ 1 mm)

# ======================================================================================
# Projection to metres (private; to be replaced by wangge.common.geo)
# ======================================================================================


def _metric_epsg(lon: float) -> int:
    """EPSG of the CGCS2000 3-degree Gauss-Krüger zone whose central meridian is nearest."""
    # 4534 is CM 75°E, 4554 is CM 135°E, one code per 3 degrees.
    return 4534 + int(min(20, max(0, round((lon - 75.0) / 3.0))))


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _reproject(geoms: Any, src: int, dst: int) -> Any:
    tr = _transformer(src, dst)

    def fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _epsg_for(geoms: Any) -> int:
    """Pick one zone for a whole layer from the centre of its total bounds."""
    b = shapely.total_bounds(geoms)
    return _metric_epsg(0.5 * (b[0] + b[2]) if np.all(np.isfinite(b)) else 117.0)


def _to_metric(geoms: Any, epsg: int | None = None) -> tuple[Any, int]:
    """Project lon/lat geometries (one or an array) to metres; returns (geoms, epsg)."""
    epsg = epsg or _epsg_for(geoms)
    return _reproject(geoms, 4490, epsg), epsg


def _from_metric(geoms: Any, epsg: int) -> Any:
    """Project metric geometries back to CGCS2000 lon/lat."""
    return _reproject(geoms, epsg, 4490)


# CGCS2000 ellipsoid, for the local metre frame below.
_A, _F = 6378137.0, 1 / 298.257222101
_E2 = _F * (2 - _F)


@dataclass(frozen=True)
class LocalFrame:
    """A local affine lon/lat → metre frame: east and north metres from (lon0, lat0).

    Generation cuts in this frame, not in Gauss-Krüger: an affine map keeps straight
    lon/lat edges straight, so cells clipped here fit the stored boundary exactly once
    mapped back (a projection bends the parallels and leaves millimetre gaps and
    overlaps along community edges). The scale is exact at the frame's origin; across a
    whole county (±0.2°) areas drift by under 0.3 %, which a "≈10,000 m²" cell tolerates.
    """

    lon0: float
    lat0: float
    kx: float  # metres per degree of longitude at lat0
    ky: float  # metres per degree of latitude at lat0

    @classmethod
    def at(cls, lon0: float, lat0: float) -> LocalFrame:
        s = math.sin(math.radians(lat0))
        w = 1 - _E2 * s * s
        n = _A / math.sqrt(w)  # prime-vertical radius of curvature
        m = _A * (1 - _E2) / w**1.5  # meridional radius of curvature
        k = math.pi / 180
        return cls(lon0, lat0, k * n * math.cos(math.radians(lat0)), k * m)

    def forward(self, geoms: Any) -> Any:
        off, scale = np.array([self.lon0, self.lat0]), np.array([self.kx, self.ky])
        return shapely.transform(geoms, lambda xy: (xy - off) * scale)

    def back(self, geoms: Any) -> Any:
        off, scale = np.array([self.lon0, self.lat0]), np.array([self.kx, self.ky])
        return shapely.transform(geoms, lambda xy: xy / scale + off)


# ======================================================================================
# Compactness
# ======================================================================================


def _pp_metric(geoms: GeomArray) -> NDArray[np.float64]:
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(perim > 0, 4.0 * math.pi * area / perim**2, 0.0)
    return np.asarray(pp, dtype=np.float64)


def polsby_popper(geom: BaseGeometry) -> float:
    """Polsby-Popper compactness 4πA/P² in metres: 1 for a disc, ~0.785 for a square."""
    return float(polsby_popper_many([geom])[0])


def polsby_popper_many(geoms: Sequence[BaseGeometry] | GeomArray) -> NDArray[np.float64]:
    """Vectorised Polsby-Popper of many lon/lat geometries (0 for empty ones)."""
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return np.zeros(0)
    return _pp_metric(_to_metric(arr)[0])


# ======================================================================================
# Code order (从西向东、由北至南) and codes
# ======================================================================================


def _order_metric(points: GeomArray, band_m: float) -> list[int]:
    x, y = shapely.get_x(points), shapely.get_y(points)
    if len(x) == 0:
        return []
    # Row centres sit at the dominant phase of y modulo the band height (circular mean), so
    # the centres of a lattice's cells fall mid-band and float noise cannot flip a row.
    angle = 2.0 * math.pi * y / band_m
    phase = math.atan2(float(np.mean(np.sin(angle))), float(np.mean(np.cos(angle))))
    row = np.round((y - phase * band_m / (2.0 * math.pi)) / band_m)
    # lexsort: last key is primary -> row (north first), then west->east, then north first.
    # x is compared at 1 mm so pieces of one cell stacked north-south (same centre x up to
    # projection noise) are taken north first.
    return [int(i) for i in np.lexsort((-y, np.round(x / GRID_SIZE_M), -row))]


def order_west_east_north_south(geoms: Sequence[BaseGeometry]) -> list[int]:
    """Indices of lon/lat geometries in code order: rows north→south, each row west→east.

    Rule: each geometry is represented by its representative point (always inside it) in
    metres. Rows are horizontal bands of height h = median(sqrt(area)) — the side of a
    typical cell — centred on y = c + k·h, where c is the circular mean of the points'
    y modulo h (so a lattice's rows are centred on its cell centres); a point belongs to
    row k = round((y - c) / h). Rows are read north to south, and within a row points are
    taken by increasing x (west→east), ties by decreasing y.
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return []
    # A local frame, not Gauss-Krüger: its north is true north (GK grid north is turned by
    # the meridian convergence, ~0.5° near 116°E), and it matches generate_unit_grids.
    b = shapely.total_bounds(arr)
    metric = LocalFrame.at(0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])).forward(arr)
    sides = np.sqrt(shapely.area(metric))
    band = float(np.median(sides[sides > 0])) if np.any(sides > 0) else 1.0
    return _order_metric(shapely.point_on_surface(metric), band)


def assign_codes(
    community_code: str, geoms: Sequence[BaseGeometry], *, width: int = 2
) -> list[str]:
    """Codes `community_code + sequence` numbered 1.. in code order; codes[i] is for geoms[i]."""
    limit = 10**width - 1
    if len(geoms) > limit:
        raise ValidationFailed(
            f"社区 {community_code} 有 {len(geoms)} 个网格，超过 {width} 位顺序码的上限 {limit}",
            f"community {community_code} has {len(geoms)} grids, more than the {limit} "
            f"that a {width}-digit sequence can number",
            code="sequence_overflow",
            details={"community_code": community_code, "count": len(geoms), "width": width},
        )
    codes = [""] * len(geoms)
    # Sequence 00 is left free: it denotes the community itself (CJ/T 213 convention).
    for seq, idx in enumerate(order_west_east_north_south(geoms), start=1):
        codes[idx] = grid_code(community_code, seq, width)
    return codes


# ======================================================================================
# Unit-grid generation (万米单元网格)
# ======================================================================================


def _areal_parts(geom: BaseGeometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _lattice(
    boundary: BaseGeometry, side: float, origin_xy: tuple[float, float]
) -> tuple[GeomArray, NDArray[np.bool_]]:
    """Lattice squares meeting the boundary, and whether each lies wholly inside it."""
    minx, miny, maxx, maxy = boundary.bounds
    ox, oy = origin_xy
    i0, i1 = math.floor((minx - ox) / side), math.ceil((maxx - ox) / side)
    j0, j1 = math.floor((miny - oy) / side), math.ceil((maxy - oy) / side)
    # Lattice lines are rounded to the 1 mm grid once, so the squares left whole and the
    # clipped (snap-rounded) edge squares share exactly the same edge coordinates.
    scale = 1.0 / GRID_SIZE_M
    xs = np.round((ox + np.arange(i0, i1 + 1) * side) * scale) / scale
    ys = np.round((oy + np.arange(j0, j1 + 1) * side) * scale) / scale
    grid_i, grid_j = np.meshgrid(np.arange(i1 - i0), np.arange(j1 - j0))
    ii, jj = grid_i.ravel(), grid_j.ravel()
    boxes = shapely.box(xs[ii], ys[jj], xs[ii + 1], ys[jj + 1])
    tree = shapely.STRtree(boxes)
    hit = tree.query(boundary, predicate="intersects")
    inside = np.zeros(len(boxes), dtype=bool)
    inside[tree.query(boundary, predicate="contains_properly")] = True
    return boxes[hit], inside[hit]


def _cut_by_lines(cell: BaseGeometry, lines: GeomArray) -> list[Polygon]:
    """Split one cell along the lines crossing it (dangling line ends do not cut)."""
    xmin, ymin, xmax, ymax = cell.bounds
    pad = 0.01 * max(xmax - xmin, ymax - ymin, 1.0)
    # Lines are clipped to a slightly larger box so they cross the cell border instead of
    # ending exactly on it; noding then finds the crossing itself.
    local = shapely.clip_by_rect(lines, xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    noded = shapely.union_all(
        np.append(local, np.array([cell.boundary], dtype=object)), grid_size=GRID_SIZE_M
    )
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    keep = [f for f in faces if cell.covers(f.representative_point())]
    # A cut must preserve the cell's area; if noding went wrong keep the cell whole.
    # (Snap-rounding a new node onto a slanted edge may move it by < 1 mm, hence the slack.)
    if not keep or abs(sum(f.area for f in keep) - cell.area) > cell.length * GRID_SIZE_M:
        return [cell] if isinstance(cell, Polygon) else _areal_parts(cell)
    return keep


def _merge_slivers(
    pieces: GeomArray, threshold: float, line_zone: BaseGeometry | None
) -> list[BaseGeometry]:
    """Merge pieces below `threshold` m² into the neighbour sharing the longest border."""
    n = len(pieces)
    area = shapely.area(pieces)
    small = np.flatnonzero(area < threshold)
    if len(small) == 0:
        return list(pieces)
    tree = shapely.STRtree(pieces)
    a, b = tree.query(pieces[small], predicate="intersects")
    a = small[a]
    keep = a != b
    a, b = a[keep], b[keep]
    borders = shapely.boundary(pieces)
    shared = shapely.intersection(borders[a], borders[b], grid_size=GRID_SIZE_M)
    length = shapely.length(shared)
    across = (
        shapely.length(shapely.intersection(shared, line_zone))
        if line_zone is not None
        else np.zeros(len(a))
    )
    # Only a border of positive length makes neighbours: pieces meeting at a corner, or on
    # opposite banks of a hole or inlet of the boundary, are never merged.
    edges: dict[int, dict[int, tuple[float, float]]] = {}
    for i, j, total, cross in zip(a, b, length, across, strict=True):
        if total > GRID_SIZE_M:
            edges.setdefault(int(i), {})[int(j)] = (total - cross, total)
            edges.setdefault(int(j), {})[int(i)] = (total - cross, total)

    parent = list(range(n))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    group_area = {int(k): float(area[k]) for k in range(n)}
    members = {int(k): [int(k)] for k in small}
    # Smallest group first; entries go stale when their group is merged or grows.
    heap = [(group_area[int(k)], int(k)) for k in small]
    heapq.heapify(heap)
    while heap:
        g_area, g = heapq.heappop(heap)
        if find(g) != g or g_area != group_area[g] or g_area >= threshold:
            continue
        score: dict[int, list[float]] = {}
        for m in members[g]:
            for nb, (same_side, total) in edges.get(m, {}).items():
                r = find(nb)
                if r != g:
                    s = score.setdefault(r, [0.0, 0.0])
                    s[0] += same_side
                    s[1] += total
        if not score:
            continue  # isolated: nothing to merge into, it stays as it is
        # Prefer the neighbour on the same side of the lines (border not on a line), then
        # the longest border overall; the smallest index breaks exact ties deterministically.
        target = max(score, key=lambda r: (score[r][0] > GRID_SIZE_M, score[r][0], score[r][1], -r))
        parent[g] = target
        group_area[target] += group_area[g]
        members.setdefault(target, [target]).extend(members.pop(g))
        if group_area[target] < threshold:
            heapq.heappush(heap, (group_area[target], target))
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    out: list[BaseGeometry] = []
    for idx in groups.values():
        if len(idx) == 1:
            out.append(pieces[idx[0]])
            continue
        merged = shapely.union_all(pieces[idx], grid_size=GRID_SIZE_M)
        parts = _areal_parts(merged)
        out.append(parts[0] if len(parts) == 1 else MultiPolygon(parts))
    return out


def generate_unit_grids(
    boundary: BaseGeometry,
    *,
    cell_area_m2: float = 10_000.0,
    lines: Sequence[BaseGeometry | None] | None = None,
    sliver_fraction: float = 0.3,
    origin: tuple[float, float] | None = None,
) -> list[Polygon | MultiPolygon]:
    """Cut a lon/lat boundary into square unit grids, split along lines, slivers merged.

    Cells are squares of `cell_area_m2` on a lattice in a local metre frame (`LocalFrame`)
    whose corner is `origin` (lon, lat) — by default the boundary's south-west corner
    rounded to 0.01°, so re-running on a nearby boundary gives the same lattice. Pieces
    under `sliver_fraction × cell_area_m2` are merged into the neighbour sharing the
    longest border, preferring one on the same side of the lines (LineStrings; polygons
    cut along their outlines; None cuts nothing). The union of the result equals the
    boundary, and the list is in code order (see `order_west_east_north_south`).

    A result is a MultiPolygon only when a merged group snaps into parts on the 1 mm grid,
    which needs a neck narrower than a millimetre; splitting it would strand a sliver.
    """
    if cell_area_m2 <= 0 or not 0 <= sliver_fraction < 1:
        raise ValidationFailed(
            "网格面积必须为正，碎片比例须在 0 与 1 之间",
            "cell area must be positive and sliver fraction within [0, 1)",
            code="invalid_parameter",
        )
    if not shapely.is_valid(boundary) or not _areal_parts(boundary):
        raise ValidationFailed(
            f"边界几何无效：{shapely.is_valid_reason(boundary)}",
            f"the boundary is not a valid polygon: {shapely.is_valid_reason(boundary)}",
            code="invalid_boundary",
            field="boundary",
        )
    if origin is None:
        # Round the frame origin so nearby boundaries share one frame and one lattice.
        minx, miny = boundary.bounds[:2]
        origin = (math.floor(minx * 100) / 100, math.floor(miny * 100) / 100)
    frame = LocalFrame.at(*origin)
    bnd = shapely.set_precision(frame.forward(boundary), GRID_SIZE_M)
    side = math.sqrt(cell_area_m2)
    boxes, inside = _lattice(bnd, side, (0.0, 0.0))
    cells = boxes.copy()
    edge = np.flatnonzero(~inside)
    cells[edge] = shapely.intersection(boxes[edge], bnd, grid_size=GRID_SIZE_M)

    line_arr: GeomArray | None = None
    line_zone: BaseGeometry | None = None
    if lines:
        line_arr = frame.forward(np.asarray(lines, dtype=object))
        # A river or road given as a polygon cuts along its banks.
        areal = shapely.get_dimensions(line_arr) == 2
        line_arr[areal] = shapely.boundary(line_arr[areal])
        line_arr = shapely.get_parts(line_arr)
        line_arr = line_arr[shapely.intersects(line_arr, bnd)]
        if len(line_arr):
            line_zone = shapely.buffer(shapely.union_all(line_arr), 10 * GRID_SIZE_M)
            shapely.prepare(line_zone)
        else:
            line_arr = None

    pieces: list[BaseGeometry] = []
    if line_arr is not None:
        cell_idx, line_idx = shapely.STRtree(line_arr).query(cells, predicate="intersects")
        by_cell: dict[int, list[int]] = {}
        for c, li in zip(cell_idx, line_idx, strict=True):
            by_cell.setdefault(int(c), []).append(int(li))
    else:
        by_cell = {}
    for k, cell in enumerate(cells):
        if k in by_cell and line_arr is not None:
            pieces.extend(_cut_by_lines(cell, line_arr[by_cell[k]]))
        else:
            # Clipping can leave a cell in several parts (an inlet, a hole): each part is a
            # piece of its own and only joins a neighbour it actually shares a border with.
            pieces.extend(_areal_parts(cell))
    arr = np.asarray(pieces, dtype=object)
    arr = arr[shapely.area(arr) > 0]
    merged = np.asarray(
        _merge_slivers(arr, sliver_fraction * cell_area_m2, line_zone), dtype=object
    )
    order = _order_metric(shapely.point_on_surface(merged), side)
    return list(frame.back(merged[order]))


def area_outside_m2(geom: BaseGeometry, container: BaseGeometry) -> float:
    """Return the area (m²) of `geom` lying outside `container`, overlaid in lon/lat."""
    if shapely.covers(container, geom):
        return 0.0
    outside = shapely.difference(geom, container, grid_size=GRID_SIZE_DEG)
    if outside.is_empty:
        return 0.0
    x0, y0, x1, y1 = geom.bounds
    return float(LocalFrame.at(0.5 * (x0 + x1), 0.5 * (y0 + y1)).forward(outside).area)


# ======================================================================================
# Layer validation
# ======================================================================================


@dataclass(frozen=True)
class Problem:
    """One finding of `validate_layer`; location is (lon, lat), area in m² when it has one."""

    kind: str
    keys: tuple[str, ...]
    location: tuple[float, float] | None
    area_m2: float | None
    message_zh: str
    message_en: str


# GEOS reasons look like "Self-intersection[116.3 39.9]" or "Ring Self-intersection[x y]".
_REASON_AT = re.compile(r"^(?P<what>[^\[]*)\[(?P<x>[-+0-9.eE]+) (?P<y>[-+0-9.eE]+)")


def _parse_reason(reason: str) -> tuple[str, tuple[float, float] | None]:
    m = _REASON_AT.match(reason)
    if not m:
        return reason, None
    return m["what"].strip(), (float(m["x"]), float(m["y"]))


def _invalid(key: str, geom: Any) -> Problem | None:
    """A Problem when `geom` is not a valid, non-empty areal geometry."""
    if not isinstance(geom, BaseGeometry) or geom.is_empty or not _areal_parts(geom):
        kind = type(geom).__name__ if not isinstance(geom, BaseGeometry) else geom.geom_type
        return Problem(
            "invalid_geometry",
            (key,),
            None,
            None,
            f"网格 {key} 不是有效的面几何（{kind}，或为空）",
            f"grid {key} is not an areal geometry ({kind}, or empty)",
        )
    if shapely.is_valid(geom):
        return None
    what, at = _parse_reason(str(shapely.is_valid_reason(geom)))
    where = f" @ {at[0]:.6f},{at[1]:.6f}" if at else ""
    return Problem(
        "invalid_geometry",
        (key,),
        at,
        None,
        f"网格 {key} 几何无效：{what}{where}",
        f"grid {key} has an invalid geometry: {what}{where}",
    )


def validate_layer(
    parent: BaseGeometry | None,
    children: Mapping[str, BaseGeometry],
    *,
    sliver_area_m2: float = 100.0,
    sliver_thinness: float = 0.1,
    tolerance_m2: float = 1.0,
) -> list[Problem]:
    """Check a layer of child grids against each other and their parent; [] when clean.

    Kinds: invalid_geometry, outside_parent, gap, overlap, sliver. Invalid children are
    reported and left out of the other checks. Default thinness 0.1 flags shapes longer
    than about 1:30; a square scores 0.785. `parent=None` skips the gap/outside checks.
    """
    problems: list[Problem] = []
    keys: list[str] = []
    good: list[BaseGeometry] = []
    for key, geom in children.items():
        bad = _invalid(key, geom)
        if bad:
            problems.append(bad)
        else:
            keys.append(key)
            good.append(geom)
    if parent is not None and (bad := _invalid("parent", parent)) is not None:
        problems.append(
            Problem(
                "invalid_geometry",
                (),
                bad.location,
                None,
                bad.message_zh.replace("网格 parent ", "上级边界"),
                bad.message_en.replace("grid parent", "the parent boundary"),
            )
        )
        parent = None
    if not good:
        return problems
    # Overlays run in lon/lat, the stored CRS, where edges are straight exactly as in
    # PostGIS: projecting first would bend the parallels and turn a shared edge with an
    # extra vertex into phantom slivers. Only the resulting pieces are measured in metres.
    # Snap-rounding to 1e-8° (about 1 mm) absorbs T-junction noise: a vertex of one grid
    # lying on its neighbour's edge is never exactly on it after a projection.
    snap = GRID_SIZE_DEG
    lonlat = np.asarray(good, dtype=object)
    # Areas in a local affine frame: it keeps lon/lat edges straight, so a 1 mm sliver
    # between two edges stays a 1 mm sliver (a projection bends long edges apart).
    b = shapely.total_bounds(
        lonlat if parent is None else np.append(lonlat, np.array([parent], dtype=object))
    )
    frame = LocalFrame.at(0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3]))
    geoms = frame.forward(lonlat)
    area = shapely.area(geoms)
    tree = shapely.STRtree(lonlat)

    def m2(pieces: GeomArray) -> NDArray[np.float64]:
        return shapely.area(frame.forward(pieces)) if len(pieces) else np.zeros(0)

    def where(pieces: GeomArray) -> list[tuple[float, float]]:
        pts = shapely.point_on_surface(pieces)
        return [
            (float(x), float(y))
            for x, y in zip(shapely.get_x(pts), shapely.get_y(pts), strict=True)
        ]

    if parent is not None:
        shapely.prepare(parent)
        out_idx = np.flatnonzero(~shapely.covers(parent, lonlat))
        outside = shapely.difference(lonlat[out_idx], parent, grid_size=snap)
        out_area = m2(outside)
        big = out_area > tolerance_m2
        for i, a, loc in zip(out_idx[big], out_area[big], where(outside[big]), strict=True):
            k = keys[i]
            problems.append(
                Problem(
                    "outside_parent",
                    (k,),
                    loc,
                    float(a),
                    f"网格 {k} 有 {a:.1f} 平方米超出上级边界",
                    f"grid {k} has {a:.1f} m² outside its parent boundary",
                )
            )
        covered = shapely.union_all(lonlat, grid_size=snap)
        gaps = shapely.get_parts(shapely.difference(parent, covered, grid_size=snap))
        gap_area = m2(gaps)
        gaps, gap_area = gaps[gap_area > tolerance_m2], gap_area[gap_area > tolerance_m2]
        for gap, a, loc in zip(gaps, gap_area, where(gaps), strict=True):
            near = tree.query(gap, predicate="dwithin", distance=1e-7)
            names = tuple(sorted(keys[i] for i in near))
            problems.append(
                Problem(
                    "gap",
                    names,
                    loc,
                    float(a),
                    f"上级范围内有 {a:.1f} 平方米未被任何网格覆盖"
                    f"（相邻网格：{'、'.join(names) or '无'}）",
                    f"{a:.1f} m² of the parent is covered by no grid "
                    f"(next to: {', '.join(names) or 'none'})",
                )
            )

    # Overlaps: STRtree candidate pairs, each unordered pair once.
    a_idx, b_idx = tree.query(lonlat, predicate="intersects")
    pair = a_idx < b_idx
    a_idx, b_idx = a_idx[pair], b_idx[pair]
    inter = shapely.intersection(lonlat[a_idx], lonlat[b_idx], grid_size=snap)
    inter_area = m2(inter)
    big = inter_area > tolerance_m2
    for i, j, a, loc in zip(
        a_idx[big], b_idx[big], inter_area[big], where(inter[big]), strict=True
    ):
        ki, kj = keys[i], keys[j]
        problems.append(
            Problem(
                "overlap",
                (ki, kj),
                loc,
                float(a),
                f"网格 {ki} 与 {kj} 重叠 {a:.1f} 平方米",
                f"grids {ki} and {kj} overlap by {a:.1f} m²",
            )
        )

    pp = _pp_metric(geoms)
    thin = np.flatnonzero((area < sliver_area_m2) | (pp < sliver_thinness))
    for i, loc in zip(thin, where(lonlat[thin]), strict=True):
        k = keys[i]
        problems.append(
            Problem(
                "sliver",
                (k,),
                loc,
                float(area[i]),
                f"网格 {k} 是碎片：面积 {area[i]:.1f} 平方米，紧凑度 {pp[i]:.3f}",
                f"grid {k} is a sliver: {area[i]:.1f} m², Polsby-Popper {pp[i]:.3f}",
            )
        )
    return problems
