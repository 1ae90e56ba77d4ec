"""Engine of the automatic grid division (internal to wangge.grids.partition).

Pure geometry (shapely 2 + numpy); all coordinates in a metric CRS (metres). See
``wangge.grids.partition`` for the method and the public API.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely import LineString, MultiPoint, Point, Polygon
from shapely.strtree import STRtree

from wangge.grids.partition_quality import (
    Measure,
    clean,
    polygon_parts,
    tolerance_band,
)

if TYPE_CHECKING:
    from wangge.grids.partition import DivisionInput

# Cut directions tried at each bisection (degrees); six give near-isotropic choice at low cost.
_ANGLES = np.deg2rad([0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
# Weight of the shape penalty against the balance error (in parts of one grid) when cutting.
_SHAPE_WEIGHT = 0.25
# Balance error per grid (share of the target) that a cut may leave for rebalancing to absorb.
_FREE_ERROR = 0.03


# --------------------------------------------------------------------------------------------
# community context: blocks, Voronoi cells and building neighbours
# --------------------------------------------------------------------------------------------


# All overlays snap to a 1 mm grid so that pieces cut from the same edge share it exactly.
_GRID = 1e-3


def _areal(g: shapely.Geometry) -> shapely.Geometry:
    """Only the polygonal part (overlays with a precision grid refuse mixed collections)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts, grid_size=_GRID)


def grid_intersection(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Intersection on the precision grid."""
    return _areal(shapely.intersection(_areal(a), _areal(b), grid_size=_GRID))


def grid_difference(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Difference on the precision grid."""
    return _areal(shapely.difference(_areal(a), _areal(b), grid_size=_GRID))


def grid_union(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Union on the precision grid."""
    return _areal(shapely.union(_areal(a), _areal(b), grid_size=_GRID))


def union_all(geoms: Sequence[shapely.Geometry]) -> shapely.Geometry:
    """Union of many geometries on the precision grid."""
    return _areal(shapely.union_all([_areal(g) for g in geoms], grid_size=_GRID))


def _largest(geom: shapely.Geometry) -> Polygon | None:
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
        self.outside = [self.blds[i].key for i in range(len(self.blds))
                        if not inside[self.pt_of[i]]]
        self.lines = [
            g for ln in inp.lines
            for g in shapely.get_parts(shapely.intersection(ln, self.region))
            if isinstance(g, LineString) and g.length > 0
        ]
        self._sites(inp)
        self._blocks()
        self._cells_and_neighbours()

    def _sites(self, inp: DivisionInput) -> None:
        """Carve exclusive sites (polygons, or footprints of exclusive buildings) out first."""
        cands: list[tuple[Polygon, int | None]] = [(s, None) for s in inp.exclusive_sites]
        cands += [(b.geom, int(self.pt_of[i])) for i, b in enumerate(self.blds)
                  if b.exclusive and isinstance(b.geom, Polygon)]
        taken: shapely.Geometry = Polygon()
        self.sites: list[Polygon] = []
        self.site_of = np.full(self.npts, -1)
        for geom, owner in cands:
            piece = clean(grid_difference(grid_intersection(shapely.make_valid(geom), self.region), taken))
            main = _largest(piece)
            if main is None or main.area < 1.0:
                continue
            self.sites.append(main)
            taken = grid_union(taken, main)
            if owner is not None:
                self.site_of[owner] = len(self.sites) - 1
        if self.sites and self.npts:
            inside = shapely.intersects_xy(np.array(self.sites, dtype=object)[:, None],
                                           self.xy[:, 0][None, :], self.xy[:, 1][None, :])
            for i in np.nonzero((self.site_of < 0) & inside.any(axis=0))[0]:
                self.site_of[i] = int(np.argmax(inside[:, i]))
        self.rest = clean(grid_difference(self.region, taken)) if self.sites else self.region

    def _blocks(self) -> None:
        """Cut the non-site area by the lines into blocks and put each building in one."""
        self.blocks: list[Polygon] = []
        if not self.rest.is_empty:
            # Clipped lines end on the boundary only up to rounding; overshoot so they get noded.
            edges = shapely.union_all([self.rest.boundary, *(_extend(ln) for ln in self.lines)])
            faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
            shapely.prepare(self.rest)
            self.blocks = [clean(shapely.set_precision(f, _GRID)) for f in faces
                           if self.rest.contains(f.representative_point())]
            if abs(sum(b.area for b in self.blocks) - self.rest.area) > 1e-6 * self.rest.area + 1:
                self.blocks = polygon_parts(self.rest)  # polygonize failed on odd input
        self.lb_of = np.full(self.npts, -1)
        self.block_tree = tree = STRtree(self.blocks)
        free = np.nonzero(self.site_of < 0)[0]
        if not self.blocks or not len(free):
            return
        pts = shapely.points(self.xy[free])
        # A building exactly on a line touches two blocks: take the first, deterministically.
        pi, bi = tree.query(pts, predicate="intersects")
        first: dict[int, int] = {}
        for p, b in zip(pi.tolist(), bi.tolist(), strict=True):
            first.setdefault(p, b)
        for p, i in enumerate(free):
            self.lb_of[i] = first[p] if p in first else int(tree.nearest(pts[p]))

    def _cells_and_neighbours(self) -> None:
        """Voronoi cells (per block, so they follow the lines) and Delaunay neighbours."""
        n = self.npts
        self.cells: list[shapely.Geometry] = [Polygon()] * n
        self.nbrs: list[list[int]] = [[] for _ in range(n)]
        for b, block in enumerate(self.blocks):
            idx = np.nonzero(self.lb_of == b)[0]
            if len(idx) == 1:
                self.cells[idx[0]] = block
            elif len(idx) >= 2:
                vor = shapely.voronoi_polygons(MultiPoint(self.xy[idx]), extend_to=block,
                                               ordered=True)
                clipped = shapely.intersection(np.array(shapely.get_parts(vor)), block,
                                               grid_size=_GRID)
                for j, i in enumerate(idx):
                    self.cells[i] = clipped[j]
        free = np.nonzero(self.site_of < 0)[0]
        if len(free) >= 2:
            # Neighbours across lines too: loans and grids that cross a line need them.
            edges = shapely.delaunay_triangles(MultiPoint(self.xy[free]), only_edges=True)
            at = {(x, y): int(i) for (x, y), i in zip(self.xy[free].tolist(), free, strict=True)}
            coords = shapely.get_coordinates(shapely.get_parts(edges)).reshape(-1, 2, 2)
            for (a, b) in coords.tolist():
                ia, ib = at.get(tuple(a)), at.get(tuple(b))
                if ia is not None and ib is not None:
                    self.nbrs[ia].append(ib)
                    self.nbrs[ib].append(ia)

    def lb_at(self, geom: shapely.Geometry) -> int:
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
    poly: shapely.Geometry
    exclusive: bool = False
    fixed: bool = False  # exclusive grids and single oversized buildings never trade buildings
    seq: int = 0


def reach_of(geom: shapely.Geometry) -> float:
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


def _feasible(total: float, lo: float, hi: float) -> bool:
    """Whether a total can be split into some number of parts that all lie in [lo, hi]."""
    if total <= 0:
        return True
    kmin, kmax = max(1, math.ceil(total / hi - 1e-9)), math.floor(total / lo + 1e-9)
    return kmin <= kmax


def _parts_for(total: float, target: float, lo: float, hi: float) -> int:
    """Number of parts: the in-band count nearest to total/target, else the rounded ratio."""
    k = max(1, round(total / target))
    for cand in sorted(range(max(1, k - 2), k + 3), key=lambda c: abs(total / c - target)):
        if lo <= total / cand <= hi:
            return cand
    return k


def bisect(
    ids: np.ndarray, xy: np.ndarray, w: np.ndarray, k: int, poly: shapely.Geometry,
    reach: float, out: list[tuple[np.ndarray, shapely.Geometry]],
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
    for ang in _ANGLES:
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
            sv1, sv2 = pv[order[: j + 1]], pv[order[j + 1:]]
            a1 = (pu[order[j]] - pu[order[0]] + pad) / (np.ptp(sv1) + pad)
            a2 = (pu[order[-1]] - pu[order[j + 1]] + pad) / (np.ptp(sv2) + pad)
            # A half that will hold k_h parts may be up to about k_h times longer than wide.
            pen = sum(max(0.0, abs(math.log(a)) - math.log(max(1, kh)) * 0.5)
                      for a, kh in ((a1, k1), (a2, k - k1)))
            score = err + _SHAPE_WEIGHT * pen
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
    bisect(ids[left], xy[left], w[left], k1, p1, reach, out)
    bisect(ids[~left], xy[~left], w[~left], k - k1, p2, reach, out)


def _pieces_with(poly: shapely.Geometry, xy: np.ndarray) -> int:
    """Number of parts of a polygon that hold some of the given points."""
    parts = polygon_parts(poly)
    if len(parts) <= 1:
        return 1
    return sum(bool(shapely.intersects_xy(p, xy[:, 0], xy[:, 1]).any()) for p in parts)


@dataclass
class _Unit:
    """A block (or piece of one) to partition, with the loans it received."""

    poly: shapely.Geometry
    bids: list[int]
    lb: int
    total: float
    attach: list[tuple[shapely.Geometry, list[int], np.ndarray, float]] = field(
        default_factory=list)
    received: bool = False
    lent: bool = False
    alive: bool = True
    into: int = -1  # the unit this one was merged into, once it is no longer alive


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
    orphans: list[shapely.Geometry] = []
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
        for piece in polygon_parts(rest):
            inside = [i for i in free if shapely.intersects_xy(piece, *xy[i])]
            if inside:
                units.append(_Unit(piece, inside, b, float(vals[inside].sum())))
                free = [i for i in free if i not in set(inside)]
            else:
                orphans.append(piece)
        for i in free:  # buildings outside every piece (outside the community): nearest unit
            if units and units[-1].lb == b:
                units[-1].bids.append(i)
                units[-1].total += float(vals[i])
    if allow_crossing:
        _lend(units, ctx, target, lo, hi, reach)
    typical = ctx.region.area * target / max(1.0, float(vals.sum()))
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
        leaves: list[tuple[np.ndarray, shapely.Geometry]] = []
        bisect(ids, pts, w, k, u.poly, reach, leaves)
        empty: list[shapely.Geometry] = []
        leaves = [(lids, _drop_empty_parts(ctx, lids, lpoly, empty)) for lids, lpoly in leaves]
        home = {int(-i - 1): li for li, (lids, _) in enumerate(leaves) for i in lids if i < 0}
        loan_polys = []
        for a, (apoly, _, _, _) in enumerate(u.attach):
            # Empty pieces next to the loan travel with it, so that it reaches real buildings.
            ext, grown = apoly, True
            while grown:
                grown = False
                for e in list(empty):
                    if e.intersects(ext) and _shared_length(e, ext) > 1.0:
                        ext = grid_union(ext, e)
                        empty.remove(e)
                        grown = True
            loan_polys.append(ext)
            # The cut may pass the anchor so that the chosen part touches the loan only at a
            # point; then the part with the longest common edge takes it (rebalancing follows).
            edge = [_shared_length(ext, lp) if lp.intersects(ext) else 0.0 for _, lp in leaves]
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
        # A large empty area (or one touching no grid, like an empty detached part of the
        # community) keeps its own reported grid rather than bloating a neighbour.
        if piece.area >= 0.5 * typical or not attach_piece(ctx, grids, piece, set()):
            grids.append(GridState(set(), piece))
    fix_strays(ctx, grids)
    return grids


def _drop_empty_parts(ctx: Ctx, lids: np.ndarray, poly: shapely.Geometry,
                      orphans: list[shapely.Geometry]) -> shapely.Geometry:
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


def _lend(units: list[_Unit], ctx: Ctx, target: float, lo: float, hi: float,
          reach: float) -> None:
    """Let blocks that cannot be balanced give their surplus to a neighbour across a line."""
    if len(units) < 2:
        return
    tree = STRtree([u.poly for u in units])
    for _ in range(8):
        changed = False
        for ui in sorted(range(len(units)), key=lambda i: units[i].total):
            u = units[ui]
            if not u.alive or _feasible(u.total, lo, hi) or not (u.bids or u.attach):
                continue
            m = int(u.total // target)
            if m > 0 and (u.attach or not u.bids):
                continue  # a block that received cannot be cut again without splitting a loan
            if _lend_one(units, ui, tree, ctx, target, lo, hi, reach, m):
                changed = True
        if not changed:
            return


def _lend_one(units: list[_Unit], ui: int, tree: STRtree, ctx: Ctx, target: float, lo: float,
              hi: float, reach: float, m: int) -> bool:
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
        if vi == ui or not v.alive or not (v.bids or v.attach):
            continue
        shared = u.poly.boundary.intersection(units[ti].poly.boundary)
        if shared.length < 1.0:
            continue
        # Prefer a neighbour that becomes balanceable, then one not already cut, then the
        # longest common edge (the most compact joint grid).
        key = (_feasible(v.total + surplus, lo, hi), not v.lent, shared.length)
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
        bids = np.array(u.bids)
        pts = ctx.xy[bids]
        mid = np.array(shared.interpolate(0.5, normalized=True).coords[0])
        d = mid - pts.mean(axis=0)
        d = d / (np.linalg.norm(d) or 1.0)
        proj = pts @ d
        order = np.argsort(-proj, kind="stable")
        cum = np.cumsum(ctx.vals[bids][order])
        take = int(np.argmin(np.abs(cum - surplus))) + 1
        if take >= len(bids) or proj[order[take - 1]] - proj[order[take]] < 1e-6:
            return False
        c = (proj[order[take - 1]] + proj[order[take]]) / 2
        hp = _halfplane(-d, -c, reach)  # {x·d > c}: the side facing the neighbour
        piece = clean(grid_intersection(u.poly, hp))
        u.poly = clean(grid_difference(u.poly, hp))
        u.lent = True
        moved = bids[order[:take]].tolist()
        amount = float(cum[take - 1])
        gone = set(moved)
        u.bids = [i for i in u.bids if i not in gone]
        u.total -= amount
    contact = piece.boundary.intersection(v.poly.boundary)
    # The loan stands in v's bisection as one point just inside the middle of the common edge,
    # so that the part that gets it shares that edge rather than a corner.
    anchor = _inner_anchor(contact if contact.length >= 1.0 else shared, v.poly)
    v.attach.append((piece, moved, anchor, amount))
    v.total += amount
    v.received = True
    return True


def _inner_anchor(contact: shapely.Geometry, poly: shapely.Geometry) -> np.ndarray:
    """A point two metres inside poly from the middle of the longest line of contact."""
    lines = [g for g in shapely.get_parts(contact) if g.geom_type == "LineString"]
    if not lines:
        return np.array(poly.representative_point().coords[0])
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    line = max((g for g in shapely.get_parts(merged)), key=lambda g: g.length)
    at = line.length / 2
    m = np.array(line.interpolate(at).coords[0])
    t = (np.array(line.interpolate(min(line.length, at + 0.5)).coords[0])
         - np.array(line.interpolate(max(0.0, at - 0.5)).coords[0]))
    n = np.array([-t[1], t[0]]) / (np.linalg.norm(t) or 1.0)
    for side in (1.0, -1.0):
        p = m + side * 2.0 * n
        if poly.contains(Point(p)):
            return p
    return m


def _shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length of the common edge of two polygons (robust to tiny noding differences)."""
    length = a.boundary.intersection(b.boundary).length
    if length > 0:
        return length
    return a.buffer(0.01, quad_segs=1).intersection(b).area / 0.02


def attach_piece(ctx: Ctx, grids: list[GridState], piece: shapely.Geometry, members: set[int],
            exclude: int = -1) -> bool:
    """Give a piece of area (and its buildings) to the touching grid with the longest edge."""
    lb = ctx.lb_at(piece)
    best, best_score = -1, 0.0
    for gi, g in enumerate(grids):
        if gi == exclude or g.poly.is_empty or not g.poly.intersects(piece.buffer(0.01)):
            continue
        length = _shared_length(piece, g.poly)
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
                [mem[j] for j in np.nonzero(shapely.intersects_xy(p, ctx.xy[mem, 0],
                                                                  ctx.xy[mem, 1]))[0]]
                if mem else [] for p in parts
            ]
            keep = max(range(len(parts)),
                       key=lambda j: (float(ctx.vals[inside[j]].sum()), len(inside[j]),
                                      parts[j].area))
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


def number_grids(grids: list[GridState], region: shapely.Geometry) -> None:
    """Sequence grids in rows north→south, then west→east within a row."""
    live = [g for g in grids if not g.poly.is_empty]
    if not live:
        return
    row = math.sqrt(float(np.median([g.poly.area for g in live])))
    top = region.bounds[3]
    cents = [g.poly.representative_point() if g.poly.geom_type != "Polygon" else g.poly.centroid
             for g in live]
    order = sorted(range(len(live)),
                   key=lambda i: (int((top - cents[i].y) // row), cents[i].x, -cents[i].y))
    for s, i in enumerate(order, start=1):
        live[i].seq = s
