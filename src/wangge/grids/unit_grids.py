"""Unit-grid generation (万米单元网格): a boundary cut into lattice squares, split along lines,
slivers merged into a neighbour.

Pure geometry: inputs and outputs in CGCS2000 lon/lat (EPSG:4490), cut in a local metre frame
(``LocalFrame``). No database, no web, no clock.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.errors import ValidationFailed
from wangge.grids.geometry import GRID_SIZE_M, GeomArray, LocalFrame, areal_parts, order_metric


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
        return [cell] if isinstance(cell, Polygon) else areal_parts(cell)
    return keep


def _borders(
    pieces: GeomArray, small: NDArray[np.intp], line_zone: BaseGeometry | None
) -> dict[int, dict[int, tuple[float, float]]]:
    """Borders of the small pieces with their neighbours: (length off the lines, length)."""
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
    return edges


def _sliver_groups(
    area: NDArray[np.float64],
    small: NDArray[np.intp],
    edges: dict[int, dict[int, tuple[float, float]]],
    threshold: float,
) -> list[list[int]]:
    """Groups of piece indices to merge: each small group joins its best neighbour until it
    reaches `threshold` m² or has no neighbour left."""
    n = len(area)
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
    return list(groups.values())


def _merge_slivers(
    pieces: GeomArray, threshold: float, line_zone: BaseGeometry | None
) -> list[BaseGeometry]:
    """Merge pieces below `threshold` m² into the neighbour sharing the longest border."""
    area = shapely.area(pieces)
    small = np.flatnonzero(area < threshold)
    if len(small) == 0:
        return list(pieces)
    edges = _borders(pieces, small, line_zone)
    out: list[BaseGeometry] = []
    for idx in _sliver_groups(area, small, edges, threshold):
        if len(idx) == 1:
            out.append(pieces[idx[0]])
            continue
        merged = shapely.union_all(pieces[idx], grid_size=GRID_SIZE_M)
        parts = areal_parts(merged)
        out.append(parts[0] if len(parts) == 1 else MultiPolygon(parts))
    return out


def _check_parameters(boundary: BaseGeometry, cell_area_m2: float, sliver_fraction: float) -> None:
    if cell_area_m2 <= 0 or not 0 <= sliver_fraction < 1:
        raise ValidationFailed(
            "网格面积必须为正，碎片比例须在 0 与 1 之间",
            "cell area must be positive and sliver fraction within [0, 1)",
            code="invalid_parameter",
        )
    if not shapely.is_valid(boundary) or not areal_parts(boundary):
        raise ValidationFailed(
            f"边界几何无效：{shapely.is_valid_reason(boundary)}",
            f"the boundary is not a valid polygon: {shapely.is_valid_reason(boundary)}",
            code="invalid_boundary",
            field="boundary",
        )


def _cutting_lines(
    frame: LocalFrame, lines: Sequence[BaseGeometry | None], bnd: BaseGeometry
) -> tuple[GeomArray | None, BaseGeometry | None]:
    """The lines (in metres) that meet the boundary, and a thin zone around them."""
    line_arr = frame.forward(np.asarray(lines, dtype=object))
    # A river or road given as a polygon cuts along its banks.
    areal = shapely.get_dimensions(line_arr) == 2
    line_arr[areal] = shapely.boundary(line_arr[areal])
    line_arr = shapely.get_parts(line_arr)
    line_arr = line_arr[shapely.intersects(line_arr, bnd)]
    if not len(line_arr):
        return None, None
    line_zone = shapely.buffer(shapely.union_all(line_arr), 10 * GRID_SIZE_M)
    shapely.prepare(line_zone)
    return line_arr, line_zone


def _pieces(cells: GeomArray, line_arr: GeomArray | None) -> GeomArray:
    """The cells cut along the lines crossing them, as pieces of positive area."""
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
            pieces.extend(areal_parts(cell))
    arr = np.asarray(pieces, dtype=object)
    return arr[shapely.area(arr) > 0]


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
    _check_parameters(boundary, cell_area_m2, sliver_fraction)
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
    line_arr, line_zone = _cutting_lines(frame, lines, bnd) if lines else (None, None)
    arr = _pieces(cells, line_arr)
    merged = np.asarray(
        _merge_slivers(arr, sliver_fraction * cell_area_m2, line_zone), dtype=object
    )
    order = order_metric(shapely.point_on_surface(merged), side)
    return list(frame.back(merged[order]))
