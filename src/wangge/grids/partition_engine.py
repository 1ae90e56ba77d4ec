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
    polsby_popper,
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
# Weight of compactness (distance pulled, in building spacings) against balance when moving.
_PULL_WEIGHT = 0.02
# Moves may not push a grid's Polsby-Popper compactness below this.
_PP_FLOOR = 0.2


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


def _i(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Intersection on the precision grid."""
    return _areal(shapely.intersection(_areal(a), _areal(b), grid_size=_GRID))


def _d(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Difference on the precision grid."""
    return _areal(shapely.difference(_areal(a), _areal(b), grid_size=_GRID))


def _u(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
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
            piece = clean(_d(_i(shapely.make_valid(geom), self.region), taken))
            main = _largest(piece)
            if main is None or main.area < 1.0:
                continue
            self.sites.append(main)
            taken = _u(taken, main)
            if owner is not None:
                self.site_of[owner] = len(self.sites) - 1
        if self.sites and self.npts:
            inside = shapely.intersects_xy(np.array(self.sites, dtype=object)[:, None],
                                           self.xy[:, 0][None, :], self.xy[:, 1][None, :])
            for i in np.nonzero((self.site_of < 0) & inside.any(axis=0))[0]:
                self.site_of[i] = int(np.argmax(inside[:, i]))
        self.rest = clean(_d(self.region, taken)) if self.sites else self.region

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
        p1, p2 = clean(_i(poly, hp)), clean(_d(poly, hp))
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
    reach = 4 * math.sqrt(ctx.region.area) + 1e4 if not ctx.region.is_empty else 1e4
    if ctx.region.bounds and not ctx.region.is_empty:
        x0, y0, x1, y1 = ctx.region.bounds
        reach = 2 * (abs(x0) + abs(x1) + abs(y0) + abs(y1)) + 1e4
    orphans: list[shapely.Geometry] = []
    units: list[_Unit] = []
    for b, block in enumerate(ctx.blocks):
        bids = np.nonzero(ctx.lb_of == b)[0].tolist()
        rest = block
        for i in bids:
            if ctx.excl_pt[i] or vals[i] > hi:
                cell = clean(_i(ctx.cells[i], rest))
                own = [p for p in polygon_parts(cell) if p.intersects(Point(xy[i]))]
                if own:
                    grids.append(GridState({i}, own[0], bool(ctx.excl_pt[i]), True))
                    rest = clean(_d(rest, own[0]))
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
                        ext = _u(ext, e)
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
        piece = clean(_i(u.poly, hp))
        u.poly = clean(_d(u.poly, hp))
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
    grids[best].poly = clean(_u(grids[best].poly, piece))
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
                g.poly = clean(_d(g.poly, p))
                g.members -= set(inside[j])
                changed = True
        if not changed:
            return


# --------------------------------------------------------------------------------------------
# rebalancing by moving boundary buildings
# --------------------------------------------------------------------------------------------


def _penalty(v: float, target: float, tol: float) -> float:
    """Objective of one grid: leaving the band counts most, then the excess, then deviation."""
    d = v / target - 1
    exc = max(0.0, abs(d) - tol)
    return (10.0 if exc > 1e-12 else 0.0) + exc + 0.01 * d * d


def _try_move(ctx: Ctx, grids: list[GridState], b: int, h: int, g: int,
              allow_crossing: bool, min_gain_pp: float | None = None) -> bool:
    """Move building b with its cell from grid h to grid g if both stay single polygons."""
    # min_gain_pp: the move must also raise the summed Polsby-Popper of the two grids.
    piece = _i(ctx.cells[b], grids[h].poly)
    if not allow_crossing and ctx.lb_of[b] >= 0:
        piece = _i(piece, ctx.blocks[ctx.lb_of[b]])
    own = [p for p in polygon_parts(piece) if shapely.intersects_xy(p, *ctx.xy[b])]
    if not own:
        return False
    piece = own[0]
    new_h = clean(_d(grids[h].poly, piece))
    parts = polygon_parts(new_h)
    if len(parts) != 1:
        # The cell may cut off an empty corner of h; it goes with the cell (it touches it).
        rest = list(grids[h].members - {b})
        if not rest:
            return False
        xs, ys = ctx.xy[rest, 0], ctx.xy[rest, 1]
        holding = [p for p in parts if shapely.intersects_xy(p, xs, ys).any()]
        if len(holding) != 1 or not shapely.intersects_xy(holding[0], xs, ys).all():
            return False
        piece = union_all([piece, *(p for p in parts if p is not holding[0])])
        new_h = holding[0]
    new_g = clean(_u(grids[g].poly, piece))
    if len(polygon_parts(new_g)) != 1:
        return False
    pp_old = (polsby_popper(grids[h].poly), polsby_popper(grids[g].poly))
    pp_new = (polsby_popper(new_h), polsby_popper(new_g))
    # Never make a grid ragged below the floor (unless it was already worse).
    if min(pp_new) < _PP_FLOOR and min(pp_new) < min(pp_old):
        return False
    if min_gain_pp is not None and sum(pp_new) < sum(pp_old) + min_gain_pp:
        return False
    grids[h].poly, grids[g].poly = new_h, new_g
    grids[h].members.discard(b)
    grids[g].members.add(b)
    return True


class _Balancer:
    """Greedy boundary moves (single moves and two-step chains) towards the tolerance band."""

    def __init__(self, ctx: Ctx, grids: list[GridState], target: float, tol: float,
                 allow_crossing: bool) -> None:
        self.ctx, self.grids, self.target, self.tol = ctx, grids, target, tol
        self.allow_crossing = allow_crossing
        self.lo, self.hi = tolerance_band(target, tol)
        self.owner = np.full(ctx.npts, -1)
        for gi, g in enumerate(grids):
            for i in g.members:
                self.owner[i] = gi
        self.value = [float(ctx.vals[list(g.members)].sum()) if g.members else 0.0
                      for g in grids]
        self.moved: dict[int, int] = {}

    def pen(self, gi: int, dv: float = 0.0) -> float:
        """Penalty of grid gi after a change of dv."""
        return _penalty(self.value[gi] + dv, self.target, self.tol)

    def steps_out(self, h: int) -> list[tuple[int, int]]:
        """Movable (building, receiving grid) pairs on the edge of grid h."""
        ctx, grids = self.ctx, self.grids
        if grids[h].fixed or len(grids[h].members) <= 1:
            return []
        out = []
        for b in grids[h].members:
            if self.moved.get(b, 0) > 2:
                continue  # a building that keeps moving is cycling
            for g in {int(self.owner[n]) for n in ctx.nbrs[b]} - {h, -1}:
                if grids[g].fixed:
                    continue
                if not self.allow_crossing and int(ctx.lb_of[b]) not in {
                        int(ctx.lb_of[i]) for i in grids[g].members}:
                    continue
                out.append((b, g))
        return out

    def candidates(self, x: int) -> list[tuple[float, list[tuple[int, int, int]]]]:
        """Single moves and two-step chains that lower the total penalty around grid x."""
        vals = self.ctx.vals
        cands: list[tuple[float, list[tuple[int, int, int]]]] = []
        over = self.value[x] > self.hi
        if over:
            first = [(b, x, g) for b, g in self.steps_out(x)]
        else:
            first = []
            for h in {int(self.owner[n]) for i in self.grids[x].members
                      for n in self.ctx.nbrs[i]} - {x, -1}:
                first += [(b, h, x) for b, g in self.steps_out(h) if g == x]
        for b1, h1, g1 in first:
            w1 = float(vals[b1])
            base = self.pen(h1) + self.pen(g1)
            d1 = self.pen(h1, -w1) + self.pen(g1, w1) - base
            if d1 < -1e-12:
                cands.append((d1, [(b1, h1, g1)]))
            # The grid that gave (or took) now passes the change on to one more neighbour.
            mid = h1 if not over else g1
            if over:
                seconds = [(b2, mid, g2) for b2, g2 in self.steps_out(mid) if g2 != x and b2 != b1]
            else:
                seconds = []
                for h2 in {int(self.owner[n]) for i in self.grids[mid].members
                           for n in self.ctx.nbrs[i]} - {mid, x, -1}:
                    seconds += [(b2, h2, mid) for b2, g in self.steps_out(h2) if g == mid]
            for b2, h2, g2 in seconds:
                w2 = float(vals[b2])
                other = h2 if not over else g2
                dv_mid = (-w1 + w2) if not over else (w1 - w2)
                dv_other = -w2 if not over else w2
                dv_x = w1 if not over else -w1
                d2 = (self.pen(x, dv_x) + self.pen(mid, dv_mid) + self.pen(other, dv_other)
                      - self.pen(x) - self.pen(mid) - self.pen(other))
                if d2 < -1e-12:
                    cands.append((d2 + 1e-3, [(b1, h1, g1), (b2, h2, g2)]))
        # Among moves of similar benefit, prefer those that pull a building towards the grid
        # whose buildings it is nearer to: that keeps grids compact.
        cands.sort(key=lambda c: c[0] + _PULL_WEIGHT * sum(self.pull(*step) for step in c[1]))
        return cands

    def centre(self, gi: int) -> np.ndarray:
        """Mean position of the buildings of grid gi."""
        mem = list(self.grids[gi].members)
        return self.ctx.xy[mem].mean(axis=0) if mem else np.zeros(2)

    def pull(self, b: int, h: int, g: int) -> float:
        """How much farther b is from the receiving grid than from the giving one (in spacing)."""
        xy = self.ctx.xy[b]
        scale = math.sqrt(max(self.grids[h].poly.area, 1.0) / max(1, len(self.grids[h].members)))
        return float(np.linalg.norm(xy - self.centre(g)) - np.linalg.norm(xy - self.centre(h))) / scale

    def smooth(self, max_moves: int) -> int:
        """Move buildings off ragged grids when it raises compactness and keeps the band."""
        done = 0
        for gi in sorted(range(len(self.grids)), key=lambda i: polsby_popper(self.grids[i].poly)):
            if done >= max_moves or polsby_popper(self.grids[gi].poly) >= 0.3:
                break
            steps = [(self.pull(b, gi, g), b, g) for b, g in self.steps_out(gi)]
            for pull, b, g in sorted(steps)[:6]:
                w = float(self.ctx.vals[b])
                if pull >= 0 or not (self.lo <= self.value[gi] - w and self.value[g] + w <= self.hi):
                    continue
                if _try_move(self.ctx, self.grids, b, gi, g, self.allow_crossing, 0.01):
                    self.value[gi] -= w
                    self.value[g] += w
                    self.owner[b] = g
                    done += 1
        return done

    def apply(self, chain: list[tuple[int, int, int]]) -> bool:
        """Apply a chain of moves, all or nothing."""
        saved = {gi: (self.grids[gi].poly, set(self.grids[gi].members))
                 for step in chain for gi in step[1:]}
        done = []
        for b, h, g in chain:
            if not _try_move(self.ctx, self.grids, b, h, g, self.allow_crossing):
                for gi, (poly, mem) in saved.items():
                    self.grids[gi].poly, self.grids[gi].members = poly, mem
                return False
            done.append((b, h, g))
        for b, h, g in done:
            w = float(self.ctx.vals[b])
            self.value[h] -= w
            self.value[g] += w
            self.owner[b] = g
            self.moved[b] = self.moved.get(b, 0) + 1
        return True

    def run(self, max_moves: int) -> list[tuple[int, int, int]]:
        """Move until every movable grid is within the band, nothing helps, or the limit."""
        moves: list[tuple[int, int, int]] = []
        stuck: set[int] = set()
        while len(moves) < max_moves:
            bad = [gi for gi, g in enumerate(self.grids)
                   if not g.fixed and g.members and gi not in stuck
                   and not self.lo - 1e-9 <= self.value[gi] <= self.hi + 1e-9]
            if not bad:
                break
            x = max(bad, key=lambda gi: abs(self.value[gi] / self.target - 1))
            for _, chain in self.candidates(x)[:24]:
                if self.apply(chain):
                    moves += chain
                    stuck.clear()
                    break
            else:
                path_moves = self.along_path(x)
                if path_moves:
                    moves += path_moves
                    stuck.clear()
                else:
                    stuck.add(x)
        return moves

    def neighbours(self, gi: int) -> set[int]:
        """Movable grids that share an edge (by building adjacency) with grid gi."""
        return {int(self.owner[n]) for i in self.grids[gi].members for n in self.ctx.nbrs[i]
                if self.owner[n] >= 0 and not self.grids[int(self.owner[n])].fixed} - {gi}

    def along_path(self, x: int, max_len: int = 8) -> list[tuple[int, int, int]]:
        """Pass the surplus or deficit of x along a path of grids to one that has room."""
        over = self.value[x] > self.hi
        prev: dict[int, int] = {x: -1}
        queue: list[int] = [x]
        order: list[int] = []
        while queue and len(order) < 60:
            cur = queue.pop(0)
            for nb in sorted(self.neighbours(cur)):
                if nb not in prev:
                    prev[nb] = cur
                    queue.append(nb)
                    order.append(nb)
        for end in order:
            room = self.hi - self.value[end] if over else self.value[end] - self.lo
            if room <= 1e-9:
                continue
            path = [end]
            while prev[path[-1]] >= 0:
                path.append(prev[path[-1]])
            path.reverse()
            if len(path) > max_len:
                continue
            saved = {gi: (self.grids[gi].poly, set(self.grids[gi].members), self.value[gi])
                     for gi in path}
            owner = self.owner.copy()
            done = self._push(path, over)
            if done is not None:
                return done
            for gi, (poly, mem, val) in saved.items():
                self.grids[gi].poly, self.grids[gi].members, self.value[gi] = poly, mem, val
            self.owner = owner
        return []

    def _push(self, path: list[int], over: bool) -> list[tuple[int, int, int]] | None:
        """Move one building per step along the path until the last grid touched is in band."""
        done: list[tuple[int, int, int]] = []
        for i in range(len(path) - 1):
            # Over: path[i] gives to path[i+1]. Under: path[i] receives from path[i+1].
            h, g = (path[i], path[i + 1]) if over else (path[i + 1], path[i])
            fix = h if over else g  # the grid that must land in the band with this step
            opts = []
            for b, to in self.steps_out(h):
                if to != g:
                    continue
                w = float(self.ctx.vals[b])
                after = self.value[fix] + (-w if over else w)
                if self.lo - 1e-9 <= after <= self.hi + 1e-9:
                    opts.append((abs(after - self.target) / self.target
                                 + _PULL_WEIGHT * self.pull(b, h, g), b))
            for _, b in sorted(opts)[:8]:
                if _try_move(self.ctx, self.grids, b, h, g, self.allow_crossing):
                    w = float(self.ctx.vals[b])
                    self.value[h] -= w
                    self.value[g] += w
                    self.owner[b] = g
                    done.append((b, h, g))
                    break
            else:
                return None
            nxt = path[i + 1]
            if self.lo - 1e-9 <= self.value[nxt] <= self.hi + 1e-9:
                return done
        return None


def rebalance_grids(ctx: Ctx, grids: list[GridState], target: float, tol: float,
                    allow_crossing: bool, max_moves: int,
                    smooth: bool = False) -> list[tuple[int, int, int]]:
    """Greedy boundary moves until every movable grid is within tolerance (or stuck)."""
    bal = _Balancer(ctx, grids, target, tol, allow_crossing)
    moves = bal.run(max_moves)
    if smooth:
        bal.smooth(len(grids))
    return moves


# --------------------------------------------------------------------------------------------
# numbering, results and public API


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
