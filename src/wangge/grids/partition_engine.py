"""Engine of the automatic grid division (internal to wangge.grids.partition).

Pure geometry (shapely 2 + numpy); all coordinates in a metric CRS (metres). See
``wangge.grids.partition`` for the method and the public API.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np
import shapely
from shapely import LineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.grids.partition_blocks import (
    CUT_ANGLES,
    SHAPE_WEIGHT,
    cut_shape_penalty,
    join_blocks,
    shared_length,
)
from wangge.grids.partition_quality import (
    Measure,
    clean,
    feasible_total,
    polsby_popper,
    polygon_parts,
    tolerance_band,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from wangge.grids.partition import DivisionInput

_FINE_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 7.5))
# A grid re-cut to mend the balance must not come out more ragged than this (Polsby-Popper).
_PP_REPAIRED = 0.2
# Two grids of at most this many buildings are re-cut by trying every split (2^(n-1)), the
# most compact few of the balanced ones checked as polygons.
_EXACT_MAX = 14
_EXACT_TRIES = 8
# Parts grown from seeds are tried for clusters of at most this many grids (the search grows
# with the count).
_GROW_MAX = 4
# Balance error per grid (share of the target) that a cut may leave for rebalancing to absorb.
_FREE_ERROR = 0.03


# --------------------------------------------------------------------------------------------
# community context: blocks, Voronoi cells and building neighbours
# --------------------------------------------------------------------------------------------


# A unit short of the band by less than this share of the lower limit stays a grid of its own
# (rebalancing fills it building by building) instead of being lent whole to a neighbour.
_KEEP_SHORT = 0.8

# All overlays snap to a 1 mm grid so that pieces cut from the same edge share it exactly.
_GRID = 1e-3


def _areal(g: BaseGeometry) -> BaseGeometry:
    """Only the polygonal part (overlays with a precision grid refuse mixed collections)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts, grid_size=_GRID)


def grid_intersection(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Intersection on the precision grid."""
    return _areal(shapely.intersection(_areal(a), _areal(b), grid_size=_GRID))


def grid_difference(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Difference on the precision grid."""
    return _areal(shapely.difference(_areal(a), _areal(b), grid_size=_GRID))


def grid_union(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Union on the precision grid."""
    return _areal(shapely.union(_areal(a), _areal(b), grid_size=_GRID))


def union_all(geoms: Sequence[BaseGeometry]) -> BaseGeometry:
    """Union of many geometries on the precision grid."""
    return _areal(shapely.union_all([_areal(g) for g in geoms], grid_size=_GRID))


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
        clean(shapely.set_precision(f, _GRID))
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
        self.region = clean(shapely.set_precision(shapely.make_valid(inp.boundary), _GRID))
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
                    np.array(shapely.get_parts(vor)), block, grid_size=_GRID
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


# --------------------------------------------------------------------------------------------
# grid state of one community
# --------------------------------------------------------------------------------------------


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


def _halfplane(u: np.ndarray, c: float, reach: float) -> Polygon:
    """The half plane {x : x·u < c} cut to a square of side 2·reach around the origin line."""
    v = np.array([-u[1], u[0]])
    a, b = c * u + reach * v, c * u - reach * v
    d = (c - 2 * reach) * u
    return Polygon([tuple(a), tuple(b), tuple(d - reach * v), tuple(d + reach * v)])


def _parts_for(total: float, target: float, lo: float, hi: float) -> int:
    """Number of parts: the in-band count nearest to total/target, else the rounded ratio."""
    k = max(1, round(total / target))
    for cand in sorted(range(max(1, k - 2), k + 3), key=lambda c: abs(total / c - target)):
        if lo <= total / cand <= hi:
            return cand
    return k


def bisect(
    ids: np.ndarray,
    xy: np.ndarray,
    w: np.ndarray,
    k: int,
    poly: Polygon | MultiPolygon,
    reach: float,
    out: list[tuple[np.ndarray, Polygon | MultiPolygon]],
    angles: np.ndarray = CUT_ANGLES,
) -> None:
    """Recursive straight-line bisection of items into k balanced, compact parts."""
    if k <= 1 or len(ids) <= 1:
        out.append((ids, poly))
        return
    k1 = k // 2
    total = float(w.sum())
    want, part = total * k1 / k, max(total / k, 1e-9)
    pad = math.sqrt(max(poly.area, 1.0) / len(ids))
    cands: list[tuple[float, int, np.ndarray, float]] = []
    for ang in angles:
        u = np.array([math.cos(ang), math.sin(ang)])
        pu, pv = xy @ u, xy @ np.array([-u[1], u[0]])
        order = np.argsort(pu, kind="stable")
        cum = np.cumsum(w[order])
        i = int(np.searchsorted(cum, want))
        for j in range(max(0, i - 3), min(len(ids) - 1, i + 3)):
            if pu[order[j + 1]] - pu[order[j]] < 1e-6:
                continue  # no straight cut between equal projections
            # An error at this cut is shared by the parts of the smaller half; errors under a
            # few percent of a grid are free, so the shape decides among them.
            impact = abs(cum[j] - want) / part / min(k1, k - k1)
            err = impact + 10 * max(0.0, impact - _FREE_ERROR)
            score = err + SHAPE_WEIGHT * cut_shape_penalty(pu, pv, order, j, pad, k1, k)
            cands.append((score, len(cands), u, (pu[order[j]] + pu[order[j + 1]]) / 2))
    if not cands:
        out.append((ids, poly))
        return
    cands.sort(key=lambda c: (c[0], c[1]))
    convex = len(polygon_parts(poly)) == 1 and poly.area >= 0.97 * poly.convex_hull.area
    chosen = None
    for _, _, u, c in cands[: 1 if convex else len(cands)]:
        left = xy @ u < c
        hp = _halfplane(u, c, reach)
        p1, p2 = clean(grid_intersection(poly, hp)), clean(grid_difference(poly, hp))
        # In a concave block a straight cut can leave a half in pieces; take the best cut
        # that keeps the buildings of each half together, if there is one among the best few.
        split = _pieces_with(p1, xy[left]) + _pieces_with(p2, xy[~left])
        # A half that wraps around a hole (an exclusive site) makes a ring-shaped grid.
        holes = sum(len(q.interiors) for q in polygon_parts(p1) + polygon_parts(p2))
        if chosen is None or (split, holes) < chosen[0]:
            chosen = ((split, holes), left, p1, p2)
        if split == 2 and holes == 0:
            break
    assert chosen is not None
    _, left, p1, p2 = chosen
    bisect(ids[left], xy[left], w[left], k1, p1, reach, out, angles)
    bisect(ids[~left], xy[~left], w[~left], k - k1, p2, reach, out, angles)


def _pieces_with(poly: BaseGeometry, xy: np.ndarray) -> int:
    """Number of parts of a polygon that hold some of the given points."""
    parts = polygon_parts(poly)
    if len(parts) <= 1:
        return 1
    return sum(bool(shapely.intersects_xy(p, xy[:, 0], xy[:, 1]).any()) for p in parts)


@dataclass
class _Unit:
    """A block (or piece of one) to partition, with the loans it received."""

    poly: Polygon | MultiPolygon
    bids: list[int]
    lb: int
    total: float
    attach: list[tuple[BaseGeometry, list[int], np.ndarray, float]] = field(default_factory=list)
    received: bool = False
    lent: bool = False
    alive: bool = True
    into: int = -1  # the unit this one was merged into, once it is no longer alive
    zone: int = 0  # area between barriers: units of different zones never join


def _join_small_blocks(ctx: Ctx, units: list[_Unit], target: float, lo: float, hi: float) -> None:
    """Merge whole blocks too small for a grid into groups of about one grid each."""
    groups = join_blocks(
        [u.poly for u in units], [u.total for u in units], [u.zone for u in units], target, lo, hi
    )
    for grp in groups:
        if len(grp) < 2:
            continue
        head = units[grp[0]]
        head.poly = clean(union_all([units[i].poly for i in grp]))
        for i in grp[1:]:
            head.bids += units[i].bids
            head.total += units[i].total
            units[i].alive, units[i].into, units[i].bids = False, grp[0], []


def divide_community(
    ctx: Ctx, target: float, tolerance: float, allow_crossing: bool
) -> list[GridState]:
    """Divide one community into grids (state before numbering)."""
    lo, hi = tolerance_band(target, tolerance)
    vals, xy = ctx.vals, ctx.xy
    grids: list[GridState] = []
    for s, site in enumerate(ctx.sites):
        grids.append(GridState(set(np.nonzero(ctx.site_of == s)[0].tolist()), site, True, True))
    reach = reach_of(ctx.region)
    orphans: list[Polygon | MultiPolygon] = []
    units: list[_Unit] = []
    for b, block in enumerate(ctx.blocks):
        bids = np.nonzero(ctx.lb_of == b)[0].tolist()
        rest = block
        for i in bids:
            if ctx.excl_pt[i] or vals[i] > hi:
                cell = clean(grid_intersection(ctx.cells[i], rest))
                own = [p for p in polygon_parts(cell) if p.intersects(Point(xy[i]))]
                if own:
                    grids.append(GridState({i}, own[0], bool(ctx.excl_pt[i]), True))
                    rest = clean(grid_difference(rest, own[0]))
        single = {i for g in grids for i in g.members}
        free = [i for i in bids if i not in single]
        for part in polygon_parts(rest):
            inside = [i for i in free if shapely.intersects_xy(part, *xy[i])]
            if inside:
                units.append(
                    _Unit(
                        part, inside, b, float(vals[inside].sum()), zone=int(ctx.zone_of_block[b])
                    )
                )
                free = [i for i in free if i not in set(inside)]
            else:
                orphans.append(part)
        for i in free:  # buildings outside every piece (outside the community): nearest unit
            if units and units[-1].lb == b:
                units[-1].bids.append(i)
                units[-1].total += float(vals[i])
    typical = ctx.region.area * target / max(1.0, float(vals.sum()))
    if allow_crossing:
        _carve_remainders(units, ctx, target, lo, hi, reach)
        _join_small_blocks(ctx, units, target, lo, hi)
        _lend(units, ctx, target, lo, hi, reach)
    for u in units:
        if not u.alive:
            continue
        if not u.bids and not u.attach:
            orphans.append(u.poly)
            continue
        k = _parts_for(u.total, target, lo, hi)
        ids = np.array(u.bids + [-(a + 1) for a in range(len(u.attach))], dtype=int)
        pts = np.vstack([xy[u.bids].reshape(-1, 2)] + [a[2][None, :] for a in u.attach])
        w = np.array([vals[i] for i in u.bids] + [a[3] for a in u.attach])
        leaves: list[tuple[np.ndarray, Polygon | MultiPolygon]] = []
        bisect(ids, pts, w, k, u.poly, reach, leaves)
        empty: list[Polygon | MultiPolygon] = []
        leaves = [(lids, _drop_empty_parts(ctx, lids, lpoly, empty)) for lids, lpoly in leaves]
        home = {int(-i - 1): li for li, (lids, _) in enumerate(leaves) for i in lids if i < 0}
        loan_polys = []
        for a, (apoly, _, _, _) in enumerate(u.attach):
            # Empty pieces next to the loan travel with it, so that it reaches real buildings.
            ext, grown = apoly, True
            while grown:
                grown = False
                for e in list(empty):
                    if e.intersects(ext) and shared_length(e, ext) > 1.0:
                        ext = grid_union(ext, e)
                        empty.remove(e)
                        grown = True
            loan_polys.append(ext)
            # The cut may pass the anchor so that the chosen part touches the loan only at a
            # point; then the part with the longest common edge takes it (rebalancing follows).
            edge = [shared_length(ext, lp) if lp.intersects(ext) else 0.0 for _, lp in leaves]
            if edge[home[a]] < 0.3 * max(edge):
                home[a] = int(np.argmax(edge))
        orphans += empty
        for li, (lids, lpoly) in enumerate(leaves):
            mem = {int(i) for i in lids if i >= 0}
            loans = [a for a, h in home.items() if h == li]
            for a in loans:
                mem |= set(u.attach[a][1])
            poly = union_all([lpoly, *(loan_polys[a] for a in loans)])
            grids.append(GridState(mem, clean(poly)))
    for piece in orphans:
        # Open land is shared among the grids around it (a grid with no households would have
        # no one to serve); a piece touching no grid of its area (an empty detached part, or
        # land closed in by barriers) keeps a grid of its own, reported.
        if allow_crossing:
            if not _share_open_land(ctx, grids, piece) and not attach_piece(
                ctx, grids, piece, set()
            ):
                grids.append(GridState(set(), piece))
        # Never crossing a line: large open land keeps its own grid rather than join a
        # neighbour across the street.
        elif piece.area >= 0.5 * typical or not attach_piece(ctx, grids, piece, set()):
            grids.append(GridState(set(), piece))
    fix_strays(ctx, grids)
    return grids


def _share_open_land(ctx: Ctx, grids: list[GridState], piece: BaseGeometry) -> bool:
    """Split open land among the touching grids of its area, each taking the part nearest its
    buildings, so that no one grid grows a long empty arm; parts that reach their grid only
    at a corner go to the grid they share the longest edge with."""
    lb = ctx.lb_at(piece)
    zone = int(ctx.zone_of_block[lb]) if lb >= 0 else None
    near = [gi for gi in _touching(ctx, grids, piece, zone, []) if not grids[gi].exclusive]
    if len(near) < 2:
        return False
    ids = [i for gi in near for i in sorted(grids[gi].members)]
    label = np.array([gi for gi in near for _ in grids[gi].members])
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(ctx.xy[ids]), extend_to=piece, ordered=True)
    )
    clipped = shapely.intersection(np.asarray(cells), piece, grid_size=_GRID)
    rest: list[Polygon] = []
    for gi in near:
        share = clean(union_all([c for c, g in zip(clipped, label, strict=True) if g == gi]))
        for part in polygon_parts(share):
            if shared_length(part, grids[gi].poly) >= 1.0:
                grids[gi].poly = clean(grid_union(grids[gi].poly, part))
            else:
                rest.append(part)
    for part in rest:
        if not attach_piece(ctx, grids, part, set()):
            grids.append(GridState(set(), part))
    return True


def _drop_empty_parts(
    ctx: Ctx, lids: np.ndarray, poly: Polygon | MultiPolygon, orphans: list[Polygon | MultiPolygon]
) -> Polygon | MultiPolygon:
    """Keep the parts of a cut piece that hold its buildings; empty parts become orphans."""
    parts = polygon_parts(poly)
    if len(parts) <= 1:
        return poly
    own = [int(i) for i in lids if i >= 0]
    keep = []
    for p in parts:
        if own and shapely.intersects_xy(p, ctx.xy[own, 0], ctx.xy[own, 1]).any():
            keep.append(p)
        else:
            orphans.append(p)
    if not keep:  # only loans in this part: keep the largest piece for them to join
        big = max(parts, key=lambda p: p.area)
        orphans.remove(big)
        keep = [big]
    return clean(union_all(keep))


def _lend(units: list[_Unit], ctx: Ctx, target: float, lo: float, hi: float, reach: float) -> None:
    """Let blocks that cannot be balanced give their surplus to a neighbour across a line."""
    if len(units) < 2:
        return
    tree = STRtree([u.poly for u in units])
    for _ in range(8):
        changed = False
        for ui in sorted(range(len(units)), key=lambda i: units[i].total):
            u = units[ui]
            if not u.alive or feasible_total(u.total, lo, hi) or not (u.bids or u.attach):
                continue
            m = int(u.total // target)
            if m > 0 and (u.attach or not u.bids):
                continue  # a block that received cannot be cut again without splitting a loan
            if m == 0 and u.total >= _KEEP_SHORT * lo:
                continue  # nearly a grid: rebalancing across the street fills it more finely
            if _lend_one(units, ui, tree, ctx, target, lo, hi, reach, m):
                changed = True
        if not changed:
            return


def _lend_one(
    units: list[_Unit],
    ui: int,
    tree: STRtree,
    ctx: Ctx,
    target: float,
    lo: float,
    hi: float,
    reach: float,
    m: int,
) -> bool:
    """Lend the surplus of unit ui (all of it when m == 0) to its best neighbour."""
    u = units[ui]
    surplus = u.total - m * target
    best = None
    for ti in tree.query(u.poly, predicate="intersects").tolist():
        # A neighbour already merged elsewhere leads to the unit that took it.
        vi = ti
        while not units[vi].alive and units[vi].into >= 0:
            vi = units[vi].into
        v = units[vi]
        if vi == ui or not v.alive or not (v.bids or v.attach) or v.zone != u.zone:
            continue
        shared = u.poly.boundary.intersection(units[ti].poly.boundary)
        if shared.length < 1.0:
            continue
        # Prefer a neighbour that becomes balanceable, then one not already cut, then the
        # longest common edge (the most compact joint grid).
        key = (feasible_total(v.total + surplus, lo, hi), not v.lent, shared.length)
        if best is None or key > best[0]:
            best = (key, vi, shared)
    if best is None:
        return False
    _, vi, shared = best
    v = units[vi]
    if m == 0:
        moved = u.bids + [i for a in u.attach for i in a[1]]
        piece = clean(union_all([u.poly, *(a[0] for a in u.attach)]))
        amount = u.total
        u.alive, u.into = False, vi
    else:
        cut = _carve(u, shared, ctx, surplus, reach)
        if cut is None:
            return False
        piece, moved, amount = cut
    contact = piece.boundary.intersection(v.poly.boundary)
    # The loan stands in v's bisection as one point just inside the middle of the common edge,
    # so that the part that gets it shares that edge rather than a corner.
    anchor = _inner_anchor(contact if contact.length >= 1.0 else shared, v.poly)
    v.attach.append((piece, moved, anchor, amount))
    v.total += amount
    v.received = True
    return True


def _carve(
    u: _Unit, shared: BaseGeometry, ctx: Ctx, amount: float, reach: float
) -> tuple[Polygon | MultiPolygon, list[int], float] | None:
    """Cut off the buildings of u nearest a common edge, about ``amount`` in all, by a line."""
    bids = np.array(u.bids)
    pts = ctx.xy[bids]
    mid = np.array(shared.interpolate(0.5, normalized=True).coords[0])
    d = mid - pts.mean(axis=0)
    d = d / (np.linalg.norm(d) or 1.0)
    proj = pts @ d
    order = np.argsort(-proj, kind="stable")
    cum = np.cumsum(ctx.vals[bids][order])
    take = int(np.argmin(np.abs(cum - amount))) + 1
    if take >= len(bids) or proj[order[take - 1]] - proj[order[take]] < 1e-6:
        return None
    c = (proj[order[take - 1]] + proj[order[take]]) / 2
    hp = _halfplane(-d, -c, reach)  # {x·d > c}: the side facing the neighbour
    piece = clean(grid_intersection(u.poly, hp))
    u.poly = clean(grid_difference(u.poly, hp))
    u.lent = True
    moved = bids[order[:take]].tolist()
    gone = set(moved)
    u.bids = [i for i in u.bids if i not in gone]
    u.total -= float(cum[take - 1])
    return piece, moved, float(cum[take - 1])


def _carve_remainders(
    units: list[_Unit], ctx: Ctx, target: float, lo: float, hi: float, reach: float
) -> None:
    """A block too big for one grid whose total splits into no balanced parts keeps whole
    grids and gives its remainder, as a new small unit, to the side of its smallest neighbour
    (where small blocks are joined into grids next)."""
    tree = STRtree([u.poly for u in units])
    for ui in range(len(units)):
        u = units[ui]
        if not u.alive or not u.bids or u.total <= hi or feasible_total(u.total, lo, hi):
            continue
        best = None
        for vi in tree.query(u.poly, predicate="intersects").tolist():
            v = units[vi]
            if vi == ui or v.zone != u.zone or not v.bids:
                continue
            shared = u.poly.boundary.intersection(v.poly.boundary)
            if shared.length >= 1.0 and (best is None or (v.total, -shared.length) < best[0]):
                best = ((v.total, -shared.length), shared)
        if best is None:
            continue
        cut = _carve(u, best[1], ctx, u.total - (u.total // target) * target, reach)
        if cut is not None:
            piece, moved, amount = cut
            units.append(_Unit(piece, moved, u.lb, amount, zone=u.zone))


def _inner_anchor(contact: BaseGeometry, poly: BaseGeometry) -> np.ndarray:
    """A point two metres inside poly from the middle of the longest line of contact."""
    lines = [g for g in shapely.get_parts(contact) if g.geom_type == "LineString"]
    if not lines:
        return np.array(poly.representative_point().coords[0])
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    line = max((g for g in shapely.get_parts(merged)), key=lambda g: g.length)
    at = line.length / 2
    m = np.array(line.interpolate(at).coords[0])
    t = np.array(line.interpolate(min(line.length, at + 0.5)).coords[0]) - np.array(
        line.interpolate(max(0.0, at - 0.5)).coords[0]
    )
    n = np.array([-t[1], t[0]]) / (np.linalg.norm(t) or 1.0)
    for side in (1.0, -1.0):
        p = m + side * 2.0 * n
        if poly.contains(Point(p)):
            return p
    return m


def attach_piece(
    ctx: Ctx, grids: list[GridState], piece: BaseGeometry, members: set[int], exclude: int = -1
) -> bool:
    """Give a piece of area (and its buildings) to the touching grid with the longest edge."""
    lb = ctx.lb_at(piece)
    zone = int(ctx.zone_of_block[lb]) if lb >= 0 else None
    best, best_score = -1, 0.0
    for gi, g in enumerate(grids):
        if gi == exclude or g.poly.is_empty or not g.poly.intersects(piece.buffer(0.01)):
            continue
        if zone is not None and zone_of_grid(ctx, g) not in (None, zone):
            continue  # never across a barrier
        length = shared_length(piece, g.poly)
        same = lb in {int(ctx.lb_of[i]) for i in g.members}
        # Staying inside the block (no new line crossing) matters more than edge length.
        score = length * (1.0 if same else 0.05) * (0.1 if g.exclusive else 1.0)
        if score > best_score:
            best, best_score = gi, score
    if best < 0:
        return False
    grids[best].poly = clean(grid_union(grids[best].poly, piece))
    grids[best].members |= members
    return True


def zone_of_grid(ctx: Ctx, g: GridState) -> int | None:
    """Zone of a grid (by a building, else by its area); None for exclusive sites."""
    if g.members:
        i = next(iter(g.members))
        return ctx.zone_of(i) if ctx.lb_of[i] >= 0 else None
    lb = ctx.lb_at(g.poly)
    return int(ctx.zone_of_block[lb]) if lb >= 0 else None


def fit_counts(ctx: Ctx, grids: list[GridState], target: float, lo: float, hi: float) -> None:
    """Dissolve grids so that each area between barriers has a count that can be balanced.

    Grids are built block by block, so an area may end up with one grid too many (its mean
    below the band) or with a sliver grid of a few households; such a grid, smallest first,
    joins the touching grid with the most room (one that stays within the band, for a
    sliver) and rebalancing shares it out.
    """
    tried: set[int] = set()
    for _ in range(len(grids)):
        zones: dict[int, list[int]] = {}
        for gi, g in enumerate(grids):
            zone = zone_of_grid(ctx, g)
            if g.members and not g.fixed and zone is not None:
                zones.setdefault(zone, []).append(gi)
        found = None
        for zone, members in zones.items():
            vals = {gi: float(ctx.vals[list(grids[gi].members)].sum()) for gi in members}
            total, k = sum(vals.values()), len(members)
            fewer_ok = k > 1 and lo * (k - 1) <= total + 1e-9 and total <= hi * (k - 1) + 1e-9
            small = min(vals, key=lambda gi: vals[gi])
            # Too many: the mean is below the band, and one grid fewer brings it into the band
            # or (where no count does) nearer the target.
            too_many = (
                k > 1
                and total < lo * k - 1e-9
                and (fewer_ok or abs(total / (k - 1) - target) < abs(total / k - target))
            )
            if id(grids[small]) not in tried and (
                too_many or (fewer_ok and vals[small] < 0.5 * lo)
            ):
                found = (small, zone, vals, too_many)
                break
        if found is None:
            return
        victim, zone, vals, too_many = found
        g = grids[victim]
        tried.add(id(g))
        near = [
            j
            for j in _touching(ctx, grids, g.poly, zone, [victim])
            if too_many or vals[j] + vals[victim] <= hi
        ]
        if not near:
            continue
        j = min(near, key=lambda j: (vals[j], j))
        merged = clean(grid_union(grids[j].poly, g.poly))
        if len(polygon_parts(merged)) != 1:
            continue
        grids[j].poly, grids[j].members = merged, grids[j].members | g.members
        del grids[victim]


def recut_with_neighbours(
    ctx: Ctx, grids: list[GridState], target: float, lo: float, hi: float, most: int = 4
) -> None:
    """Re-cut a grid still out of the band together with its neighbours.

    Single building moves stall where every move would leave a grid in two parts or push a
    neighbour out of the band; a cluster of up to ``most`` touching grids whose sum admits
    balanced parts is cut anew: each neighbour as a pair first (the cut stays local), then a
    cluster grown by the neighbour that brings the mean nearest the target. A sliver grid in
    an area that can do with one grid fewer is shared out among its neighbours instead; a
    ragged grid (a thin strip between two cuts) is re-cut with a neighbour for its shape.
    """
    reach = reach_of(ctx.region)

    def value(g: GridState) -> float:
        return float(ctx.vals[list(g.members)].sum()) if g.members else 0.0

    area_total: dict[int | None, float] = {}
    for g in grids:
        if g.members and not g.fixed:
            zone = zone_of_grid(ctx, g)
            area_total[zone] = area_total.get(zone, 0.0) + value(g)
    for gi in sorted(range(len(grids)), key=lambda i: -abs(value(grids[i]) / target - 1)):
        x = grids[gi]
        # Out of the band, or a ragged sliver a straight cut left (re-cut for shape only).
        if (
            x.fixed
            or not x.members
            or (lo - 1e-9 <= value(x) <= hi + 1e-9 and polsby_popper(x.poly) >= _PP_REPAIRED)
        ):
            continue
        zone = zone_of_grid(ctx, x)
        in_band = lo - 1e-9 <= value(x) <= hi + 1e-9
        if not in_band and not feasible_total(area_total.get(zone, 0.0), lo, hi):
            continue  # no count of grids balances this area: nothing to mend
        shed = int(value(x) < 0.5 * lo and _fewer_fits(ctx, grids, zone, lo, hi))
        pairs = [
            (grids[j], clean(grid_union(x.poly, grids[j].poly)))
            for j in _touching(ctx, grids, x.poly, zone, [gi])
        ]
        if any(_recut(ctx, [x, y], both, 2 - shed, lo, hi, reach, target) for y, both in pairs):
            continue
        cluster, poly = [gi], x.poly
        while len(cluster) < most:
            total = sum(value(grids[i]) for i in cluster)
            near = _touching(ctx, grids, poly, zone, cluster)
            if not near:
                break
            j = min(
                near,
                key=lambda j: abs((total + value(grids[j])) / (len(cluster) + 1 - shed) - target),
            )
            cluster.append(j)
            poly = clean(grid_union(poly, grids[j].poly))
            if len(cluster) > 2 and _recut(
                ctx, [grids[i] for i in cluster], poly, len(cluster) - shed, lo, hi, reach, target
            ):
                break
    grids[:] = [g for g in grids if g.members or g.exclusive or not g.poly.is_empty]


def _fewer_fits(ctx: Ctx, grids: list[GridState], zone: int | None, lo: float, hi: float) -> bool:
    """Whether the grids of an area would still have a mean within the band with one fewer."""
    vals = [
        float(ctx.vals[list(g.members)].sum())
        for g in grids
        if g.members and not g.fixed and zone_of_grid(ctx, g) == zone
    ]
    k = len(vals) - 1
    return k >= 1 and lo * k <= sum(vals) <= hi * k


def _recut(
    ctx: Ctx,
    cluster: list[GridState],
    poly: Polygon | MultiPolygon,
    parts: int,
    lo: float,
    hi: float,
    reach: float,
    target: float,
) -> bool:
    """Cut the union of a cluster of grids into ``parts`` balanced single-polygon grids: by
    straight cuts, else grown from seed buildings (coarse buildings, whose balanced parts a
    straight cut often cannot separate). Grids of the cluster left over are emptied."""
    ids = sorted(set().union(*(g.members for g in cluster)))
    total = float(ctx.vals[ids].sum())
    if parts < 1 or len(polygon_parts(poly)) != 1 or not parts * lo <= total <= parts * hi:
        return False
    leaves: list[tuple[np.ndarray, Polygon | MultiPolygon]] = []
    # A few grids of coarse buildings: many more directions, since few cuts are balanced.
    bisect(np.array(ids), ctx.xy[ids], ctx.vals[ids], parts, poly, reach, leaves, _FINE_ANGLES)
    found: list[tuple[set[int], Polygon]] | None = None
    if len(leaves) == parts and all(_sound_leaf(ctx, lids, lp, lo, hi) for lids, lp in leaves):
        found = [({int(i) for i in lids}, polygon_parts(lp)[0]) for lids, lp in leaves]
    else:
        if parts == 2 and len(ids) <= _EXACT_MAX:
            found = _exact_halves(ctx, ids, poly, lo, hi)
        if found is None and parts <= _GROW_MAX:
            # Fewer seeds the more parts: the search multiplies at each level.
            found = _grow_parts(ctx, ids, poly, parts, lo, hi, target, 16 if parts == 2 else 8)
    if found is None:
        return False
    for g, (members, part) in zip(
        cluster, found + [(set(), Polygon())] * (len(cluster) - parts), strict=True
    ):
        g.members, g.poly = members, part
    return True


def _touching(
    ctx: Ctx, grids: list[GridState], poly: BaseGeometry, zone: int | None, taken: list[int]
) -> list[int]:
    """Movable grids of the zone, not yet taken, that share an edge with the polygon."""
    return [
        j
        for j, y in enumerate(grids)
        if j not in taken
        and not y.fixed
        and y.members
        and zone_of_grid(ctx, y) == zone
        and y.poly.intersects(poly)
        and shared_length(poly, y.poly) >= 1.0
    ]


def _local_cells(ctx: Ctx, ids: list[int], poly: BaseGeometry) -> list[BaseGeometry]:
    """Voronoi cells of a cluster's buildings within the cluster's polygon (in ids order).

    The block cells of ``Ctx`` do not follow grid edges drawn by straight cuts, so parts made
    of them leave slivers of the cluster behind; these cells share the cluster exactly.
    """
    if len(ids) == 1:
        return [poly]
    vor = shapely.voronoi_polygons(MultiPoint(ctx.xy[ids]), extend_to=poly, ordered=True)
    return list(shapely.intersection(np.asarray(shapely.get_parts(vor)), poly, grid_size=_GRID))


def _exact_halves(
    ctx: Ctx, ids: list[int], poly: BaseGeometry, lo: float, hi: float
) -> list[tuple[set[int], Polygon]] | None:
    """Two balanced halves of a few buildings, by trying every split (the most compact first).

    Towers of a third of a grid each leave few balanced splits, and those are seldom a straight
    cut; with at most ``_EXACT_MAX`` buildings every split is cheap to list.
    """
    n, total = len(ids), float(ctx.vals[ids].sum())
    vals, xy = ctx.vals[ids], ctx.xy[ids]
    # Neighbours are buildings whose cells within the cluster share an edge.
    cells = _local_cells(ctx, ids, poly)
    adj: list[list[int]] = [[] for _ in range(n)]
    for j in range(n):
        for k in range(j + 1, n):
            if shapely.intersection(cells[j], cells[k]).length > 1.0:
                adj[j].append(k)
                adj[k].append(j)

    def connected(mask: int) -> bool:
        members = [j for j in range(n) if mask >> j & 1]
        seen, todo = {members[0]}, [members[0]]
        while todo:
            for m in adj[todo.pop()]:
                if mask >> m & 1 and m not in seen:
                    seen.add(m)
                    todo.append(m)
        return len(seen) == len(members)

    def spread(mask: int) -> float:
        pts = xy[[j for j in range(n) if mask >> j & 1]]
        return float(((pts - pts.mean(axis=0)) ** 2).sum())

    full = (1 << n) - 1
    splits = []
    for mask in range(1, 1 << (n - 1)):  # the last building always on the other side
        v = float(vals[[j for j in range(n) if mask >> j & 1]].sum())
        if lo <= v <= hi and lo <= total - v <= hi and connected(mask) and connected(full ^ mask):
            splits.append((spread(mask) + spread(full ^ mask), mask))
    for _, mask in sorted(splits)[:_EXACT_TRIES]:
        part = {ids[j] for j in range(n) if mask >> j & 1}
        piece = clean(union_all([cells[j] for j in range(n) if mask >> j & 1]))
        left = clean(grid_difference(poly, piece))
        rest = sorted(set(ids) - part)
        if _sound_leaf(ctx, np.array(sorted(part)), piece, lo, hi) and _sound_leaf(
            ctx, np.array(rest), left, lo, hi
        ):
            return [(part, polygon_parts(piece)[0]), (set(rest), polygon_parts(left)[0])]
    return None


def _grow_parts(
    ctx: Ctx,
    ids: list[int],
    poly: BaseGeometry,
    m: int,
    lo: float,
    hi: float,
    target: float,
    seeds: int = 16,
) -> list[tuple[set[int], Polygon]] | None:
    """m single-polygon parts within the band: one grown from a seed, the rest recursively."""
    total = float(ctx.vals[ids].sum())
    if m == 1:
        ok = _sound_leaf(ctx, np.array(ids), poly, lo, hi)
        return [(set(ids), polygon_parts(poly)[0])] if ok else None
    if not m * lo <= total <= m * hi:
        return None
    inside = set(ids)
    xy = ctx.xy[ids]
    cell_of = dict(zip(ids, _local_cells(ctx, ids, poly), strict=True))
    # The part grown must leave the rest a total that m - 1 parts can share within the band.
    low, high = max(lo, total - (m - 1) * hi), min(hi, total - (m - 1) * lo)
    aim = min(max(total / m, low), high)
    # Seeds on the rim first (a part grown from the rim leaves the rest in one piece).
    centre = xy.mean(axis=0)
    order = np.argsort(-np.hypot(*(xy - centre).T), kind="stable")
    for s in [ids[int(i)] for i in order[:seeds]]:
        part, value = {s}, float(ctx.vals[s])
        while value < low:
            near = {n for i in part for n in ctx.nbrs[i] if n in inside and n not in part}
            fits = [n for n in near if value + ctx.vals[n] <= high]
            if not fits:
                break
            # One that brings the part into its window if any (nearest the aim), else the
            # nearest to the seed (compact).
            landing = [n for n in fits if value + ctx.vals[n] >= low]
            seed_xy = ctx.xy[s]
            n = (
                min(landing, key=lambda n: (abs(value + float(ctx.vals[n]) - aim), n))
                if landing
                else min(fits, key=lambda n: (float(np.hypot(*(ctx.xy[n] - seed_xy))), n))
            )
            part.add(n)
            value += float(ctx.vals[n])
        if not low <= value <= high:
            continue
        rest = [i for i in ids if i not in part]
        piece = clean(union_all([cell_of[i] for i in part]))
        left = clean(grid_difference(poly, piece))
        if len(polygon_parts(piece)) != 1 or len(polygon_parts(left)) != 1:
            continue
        if not _sound_leaf(ctx, np.array(sorted(part)), piece, lo, hi):
            continue
        tail = _grow_parts(ctx, rest, left, m - 1, lo, hi, target, max(4, seeds // 2))
        if tail is not None:
            return [(part, polygon_parts(piece)[0]), *tail]
    return None


def _sound_leaf(ctx: Ctx, ids: np.ndarray, poly: BaseGeometry, lo: float, hi: float) -> bool:
    """A cut half that is one polygon holding its buildings, within the band."""
    parts = polygon_parts(poly)
    return (
        len(parts) == 1
        and lo - 1e-9 <= float(ctx.vals[ids].sum()) <= hi + 1e-9
        and polsby_popper(parts[0]) >= _PP_REPAIRED
        and bool(shapely.intersects_xy(parts[0], ctx.xy[ids, 0], ctx.xy[ids, 1]).all())
    )


def absorb_empty(ctx: Ctx, grids: list[GridState]) -> None:
    """Grids left without buildings join a touching grid of their area, where there is one."""
    for gi in range(len(grids) - 1, -1, -1):
        g = grids[gi]
        if g.members or g.exclusive:
            continue
        before = [x.poly for x in grids]
        if not attach_piece(ctx, grids, g.poly, set(), exclude=gi):
            continue
        if all(len(polygon_parts(x.poly)) <= 1 for x in grids):
            del grids[gi]
        else:  # it touched its neighbour only at a corner: keep it as it was
            for x, poly in zip(grids, before, strict=True):
                x.poly = poly


def fix_strays(ctx: Ctx, grids: list[GridState]) -> None:
    """Give every extra piece of a multi-part grid to the touching grid with the longest edge."""
    for _ in range(4):
        changed = False
        for gi, g in enumerate(grids):
            parts = polygon_parts(g.poly)
            if len(parts) <= 1:
                continue
            mem = list(g.members)
            inside = [
                [
                    mem[j]
                    for j in np.nonzero(shapely.intersects_xy(p, ctx.xy[mem, 0], ctx.xy[mem, 1]))[0]
                ]
                if mem
                else []
                for p in parts
            ]
            keep = max(
                range(len(parts)),
                key=lambda j: (float(ctx.vals[inside[j]].sum()), len(inside[j]), parts[j].area),
            )
            for j, p in enumerate(parts):
                if j == keep:
                    continue
                if not attach_piece(ctx, grids, p, set(inside[j]), exclude=gi):
                    # Nothing touches this piece (a detached part): it becomes its own grid.
                    grids.append(GridState(set(inside[j]), p))
                g.poly = clean(grid_difference(g.poly, p))
                g.members -= set(inside[j])
                changed = True
        if not changed:
            return


def number_grids(grids: list[GridState], region: BaseGeometry) -> None:
    """Sequence grids in rows north→south, then west→east within a row."""
    live = [g for g in grids if not g.poly.is_empty]
    if not live:
        return
    row = math.sqrt(float(np.median([g.poly.area for g in live])))
    top = region.bounds[3]
    cents = [
        g.poly.representative_point() if g.poly.geom_type != "Polygon" else g.poly.centroid
        for g in live
    ]
    order = sorted(
        range(len(live)), key=lambda i: (int((top - cents[i].y) // row), cents[i].x, -cents[i].y)
    )
    for s, i in enumerate(order, start=1):
        live[i].seq = s
