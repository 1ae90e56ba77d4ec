"""Working state of the automatic grid division (internal to wangge.grids.partition).

The geometry of one community (blocks between lines, zones between barriers, Voronoi cells and
building neighbours), the grids being built, and the snapped overlays every step uses. Pure
geometry (shapely 2 + numpy); all coordinates in a metric CRS (metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import shapely
from shapely import LineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.grids.partition_quality import Measure, clean, polygon_parts

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from wangge.grids.partition import DivisionInput


# All overlays snap to a 1 mm grid so that pieces cut from the same edge share it exactly.
SNAP_M = 1e-3


def _areal(g: BaseGeometry) -> BaseGeometry:
    """Only the polygonal part (overlays with a precision grid refuse mixed collections)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts, grid_size=SNAP_M)


def grid_intersection(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Intersection on the precision grid."""
    return _areal(shapely.intersection(_areal(a), _areal(b), grid_size=SNAP_M))


def grid_difference(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Difference on the precision grid."""
    return _areal(shapely.difference(_areal(a), _areal(b), grid_size=SNAP_M))


def grid_union(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Union on the precision grid."""
    return _areal(shapely.union(_areal(a), _areal(b), grid_size=SNAP_M))


def union_all(geoms: Sequence[BaseGeometry]) -> BaseGeometry:
    """Union of many geometries on the precision grid."""
    return _areal(shapely.union_all([_areal(g) for g in geoms], grid_size=SNAP_M))


def _largest(geom: BaseGeometry) -> Polygon | None:
    """The largest polygon part, if any."""
    parts = polygon_parts(geom)
    return max(parts, key=lambda p: p.area) if parts else None


def _extend(line: LineString, by: float = 1.0) -> LineString:
    """The line lengthened at both ends along its end segments."""
    c = np.asarray(line.coords, dtype=float)
    if len(c) < 2:
        return line
    for end, prev in ((0, 1), (-1, -2)):
        d = c[end] - c[prev]
        norm = float(np.linalg.norm(d))
        if norm > 0:
            c[end] = c[end] + d / norm * by
    return LineString(c)


def faces(area: BaseGeometry, lines: Sequence[LineString]) -> list[Polygon | MultiPolygon]:
    """An area cut by lines into faces (the area's parts if polygonize fails)."""
    if area.is_empty:
        return []
    # Clipped lines end on the boundary only up to rounding; overshoot so they get noded.
    edges = shapely.union_all([area.boundary, *(_extend(ln) for ln in lines)])
    found = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
    shapely.prepare(area)
    out: list[Polygon | MultiPolygon] = [
        clean(shapely.set_precision(f, SNAP_M))
        for f in found
        if area.contains(f.representative_point())
    ]
    if abs(sum(b.area for b in out) - area.area) > 1e-6 * area.area + 1:
        out = list(polygon_parts(area))  # polygonize failed on odd input
    return out


class Ctx:
    """Geometry shared by divide, rebalance, split and merge for one community."""

    def __init__(self, inp: DivisionInput, measure: Measure) -> None:
        self.key = inp.community_key
        self.region = clean(shapely.set_precision(shapely.make_valid(inp.boundary), SNAP_M))
        self.blds = inp.buildings
        self.bindex = {b.key: i for i, b in enumerate(self.blds)}
        if len(self.bindex) != len(self.blds):
            raise ValueError(f"duplicate building keys in community {self.key}")
        # Buildings at the same spot (often geocoded to one address) cannot be told apart by a
        # boundary, so they form one point that always stays in one grid.
        spots: dict[tuple[float, float], int] = {}
        self.pt_of = np.zeros(len(self.blds), dtype=int)
        coords: list[tuple[float, float]] = []
        for i, b in enumerate(self.blds):
            g = b.geom if isinstance(b.geom, Point) else b.geom.representative_point()
            x, y = g.coords[0]
            spot = (round(x, 3), round(y, 3))
            if spot not in spots:
                spots[spot] = len(coords)
                coords.append((x, y))
            self.pt_of[i] = spots[spot]
        self.npts = len(coords)
        self.xy = np.array(coords, dtype=float).reshape(self.npts, 2)
        self.bld_at: list[list[int]] = [[] for _ in range(self.npts)]
        for i, p in enumerate(self.pt_of.tolist()):
            self.bld_at[p].append(i)
        self.vals = np.zeros(self.npts)
        np.add.at(self.vals, self.pt_of, [b.value(measure) for b in self.blds])
        # A point building tagged exclusive gets its own grid (footprints become sites).
        self.excl_pt = np.zeros(self.npts, dtype=bool)
        for i, b in enumerate(self.blds):
            if b.exclusive and not isinstance(b.geom, Polygon):
                self.excl_pt[self.pt_of[i]] = True
        inside = shapely.intersects_xy(self.region.buffer(0.01), self.xy[:, 0], self.xy[:, 1])
        self.outside = [
            self.blds[i].key for i in range(len(self.blds)) if not inside[self.pt_of[i]]
        ]
        self.lines = self._clip(inp.lines)
        self.barriers = self._clip(inp.barriers)
        self._sites(inp)
        self._blocks()
        self._cells_and_neighbours()

    def _clip(self, lines: Sequence[LineString]) -> list[LineString]:
        """The pieces of the lines inside the community."""
        return [
            g
            for ln in lines
            for g in shapely.get_parts(shapely.intersection(ln, self.region))
            if isinstance(g, LineString) and g.length > 0
        ]

    def _sites(self, inp: DivisionInput) -> None:
        """Carve exclusive sites (polygons, or footprints of exclusive buildings) out first."""
        cands: list[tuple[Polygon, int | None]] = [(s, None) for s in inp.exclusive_sites]
        cands += [
            (b.geom, int(self.pt_of[i]))
            for i, b in enumerate(self.blds)
            if b.exclusive and isinstance(b.geom, Polygon)
        ]
        taken: BaseGeometry = Polygon()
        self.sites: list[Polygon] = []
        self.site_of = np.full(self.npts, -1)
        for geom, owner in cands:
            piece = clean(
                grid_difference(grid_intersection(shapely.make_valid(geom), self.region), taken)
            )
            main = _largest(piece)
            if main is None or main.area < 1.0:
                continue
            self.sites.append(main)
            taken = grid_union(taken, main)
            if owner is not None:
                self.site_of[owner] = len(self.sites) - 1
        if self.sites and self.npts:
            inside = shapely.intersects_xy(
                np.array(self.sites, dtype=object)[:, None],
                self.xy[:, 0][None, :],
                self.xy[:, 1][None, :],
            )
            for i in np.nonzero((self.site_of < 0) & inside.any(axis=0))[0]:
                self.site_of[i] = int(np.argmax(inside[:, i]))
        self.rest = clean(grid_difference(self.region, taken)) if self.sites else self.region

    def _blocks(self) -> None:
        """Cut the non-site area into blocks (by all lines) and zones (by barriers only)."""
        self.blocks: list[Polygon | MultiPolygon] = faces(self.rest, [*self.barriers, *self.lines])
        # A zone is the area between barriers: no grid ever spans two zones.
        self.zone_of_block = np.zeros(len(self.blocks), dtype=int)
        if self.barriers and self.blocks:
            zones = faces(self.rest, self.barriers)
            ztree = STRtree(zones)
            for b, block in enumerate(self.blocks):
                hits = ztree.query(block.representative_point(), predicate="intersects")
                self.zone_of_block[b] = int(hits[0]) if len(hits) else -1 - b
        self.lb_of = np.full(self.npts, -1)
        self.block_tree = tree = STRtree(self.blocks)
        free = np.nonzero(self.site_of < 0)[0]
        if not self.blocks or not len(free):
            return
        # An (n, 2) array of coordinates gives an array of points.
        pts = cast("NDArray[np.object_]", shapely.points(self.xy[free]))
        # A building exactly on a line touches two blocks: take the first, deterministically.
        pi, bi = tree.query(pts, predicate="intersects")
        first: dict[int, int] = {}
        for p, b in zip(pi.tolist(), bi.tolist(), strict=True):
            first.setdefault(p, b)
        for p, i in enumerate(free):
            self.lb_of[i] = first[p] if p in first else int(tree.nearest(pts[p]))

    def zone_of(self, i: int) -> int:
        """Zone (area between barriers) of building point i; sites are their own zones."""
        lb = int(self.lb_of[i])
        return int(self.zone_of_block[lb]) if lb >= 0 else -(10**6) - int(self.site_of[i])

    def _cells_and_neighbours(self) -> None:
        """Voronoi cells (per block, so they follow the lines) and Delaunay neighbours."""
        n = self.npts
        self.cells: list[BaseGeometry] = [Polygon()] * n
        self.nbrs: list[list[int]] = [[] for _ in range(n)]
        for b, block in enumerate(self.blocks):
            idx = np.nonzero(self.lb_of == b)[0]
            if len(idx) == 1:
                self.cells[idx[0]] = block
            elif len(idx) >= 2:
                vor = shapely.voronoi_polygons(
                    MultiPoint(self.xy[idx]), extend_to=block, ordered=True
                )
                clipped = shapely.intersection(
                    np.array(shapely.get_parts(vor)), block, grid_size=SNAP_M
                )
                for j, i in enumerate(idx):
                    self.cells[i] = clipped[j]
        free = np.nonzero(self.site_of < 0)[0]
        if len(free) >= 2:
            # Neighbours across lines too: loans and grids that cross a line need them.
            edges = shapely.delaunay_triangles(MultiPoint(self.xy[free]), only_edges=True)
            at: dict[tuple[float, ...], int] = {
                (x, y): int(i) for (x, y), i in zip(self.xy[free].tolist(), free, strict=True)
            }
            coords = shapely.get_coordinates(shapely.get_parts(edges)).reshape(-1, 2, 2)
            for ca, cb in coords.tolist():
                ia, ib = at.get(tuple(ca)), at.get(tuple(cb))
                # Never across a barrier: buildings there can never share a grid.
                if ia is not None and ib is not None and self.zone_of(ia) == self.zone_of(ib):
                    self.nbrs[ia].append(ib)
                    self.nbrs[ib].append(ia)

    def lb_at(self, geom: BaseGeometry) -> int:
        """Block holding a piece of area (by its representative point)."""
        if not self.blocks:
            return -1
        hits = self.block_tree.query(geom.representative_point(), predicate="intersects")
        return int(hits[0]) if len(hits) else -1


@dataclass
class GridState:
    """A grid being built: its buildings (indices) and polygon."""

    members: set[int]
    poly: Polygon | MultiPolygon
    exclusive: bool = False
    fixed: bool = False  # exclusive grids and single oversized buildings never trade buildings
    seq: int = 0


def reach_of(geom: BaseGeometry) -> float:
    """Half-plane size that surely covers the geometry (cuts are anchored at the origin)."""
    if geom.is_empty:
        return 1e4
    x0, y0, x1, y1 = geom.bounds
    return 2 * (abs(x0) + abs(x1) + abs(y0) + abs(y1)) + 1e4


def zone_of_grid(ctx: Ctx, g: GridState) -> int | None:
    """Zone of a grid (by a building, else by its area); None for exclusive sites."""
    if g.members:
        i = next(iter(g.members))
        return ctx.zone_of(i) if ctx.lb_of[i] >= 0 else None
    lb = ctx.lb_at(g.poly)
    return int(ctx.zone_of_block[lb]) if lb >= 0 else None
