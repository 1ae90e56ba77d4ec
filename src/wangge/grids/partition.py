"""Automatic grid division (网格自动划分): balanced by a measure, contiguous, compact, following lines.

Pure computation (shapely 2 + numpy): no database, web or clock. All geometry must be in a metric
CRS (metres); the caller projects before and after. Method, per community:

1. Exclusive sites (and footprints of buildings tagged exclusive) become grids first.
2. The rest is cut by the lines (roads, rivers, walls) into blocks (polygonize).
3. Buildings that alone exceed the upper limit, and point buildings tagged exclusive, get their
   own grid (their Voronoi cell in the block); they are reported as unmet when over the limit.
4. A block whose total cannot be split into parts within the tolerance lends its surplus (the
   buildings nearest the neighbour, cut off by a straight line) to the neighbouring block across
   the line with the longest shared edge: the only way a grid crosses a line.
5. Each block is cut by recursive straight-line bisection into k = round(total/target) parts
   balanced by the measure; cut directions are chosen for balance first, then compactness.
6. Stray pieces are given to the touching grid; then boundary buildings (with their Voronoi cell)
   move between neighbouring grids of the same block until all are within the tolerance.
7. Grids are numbered per community in rows north→south, west→east within a row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from shapely import LineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.strtree import STRtree

from wangge.grids.partition_quality import (
    Measure,
    QualityReport,
    build_report,
    clean,
    polygon_parts,
    tolerance_band,
)

__all__ = [
    "Building",
    "DividedGrid",
    "Division",
    "DivisionInput",
    "Move",
    "divide",
    "division_from_assignment",
    "merge_grids",
    "quality_report",
    "rebalance",
    "split_grid",
]

# Cut directions tried at each bisection (degrees); six give near-isotropic choice at low cost.
_ANGLES = np.deg2rad([0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
# Weight of the shape penalty against the balance error (in parts of one grid) when cutting.
_SHAPE_WEIGHT = 0.25
# Balance error per grid (share of the target) that a cut may leave for rebalancing to absorb.
_FREE_ERROR = 0.03


@dataclass
class Building:
    """A building (point or footprint) with its households, residents and workload weight."""

    key: str
    geom: Point | Polygon
    households: int
    residents: int = 0
    weight: float = 0.0
    exclusive: bool = False

    def value(self, measure: Measure) -> float:
        """The balancing measure of this building."""
        return float(getattr(self, measure))


@dataclass
class DivisionInput:
    """One community to divide: boundary, buildings, lines to follow and exclusive sites."""

    community_key: str
    boundary: Polygon | MultiPolygon
    buildings: list[Building] = field(default_factory=list)
    lines: list[LineString] = field(default_factory=list)
    exclusive_sites: list[Polygon] = field(default_factory=list)


@dataclass
class DividedGrid:
    """One resulting grid."""

    community_key: str
    sequence: int
    polygon: Polygon | MultiPolygon
    building_keys: tuple[str, ...]
    households: int
    residents: int
    weight: float
    exclusive: bool


@dataclass(frozen=True)
class Move:
    """A building moved from one grid to another by rebalancing."""

    community_key: str
    building_key: str
    from_seq: int
    to_seq: int


@dataclass
class Division:
    """A division of communities into grids, with its quality report and the parameters used."""

    grids: list[DividedGrid]
    report: QualityReport
    inputs: list[DivisionInput]
    target: float
    measure: Measure
    tolerance: float
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# community context: blocks, Voronoi cells and building neighbours
# --------------------------------------------------------------------------------------------


def _largest(geom: shapely.Geometry) -> Polygon | None:
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


class _Ctx:
    """Geometry shared by divide, rebalance, split and merge for one community."""

    def __init__(self, inp: DivisionInput, measure: Measure) -> None:
        self.key = inp.community_key
        self.region = clean(shapely.make_valid(inp.boundary))
        self.blds = inp.buildings
        n = len(self.blds)
        self.index = {b.key: i for i, b in enumerate(self.blds)}
        if len(self.index) != n:
            raise ValueError(f"duplicate building keys in community {self.key}")
        self.vals = np.array([b.value(measure) for b in self.blds], dtype=float)
        xy = np.array(
            [(b.geom if isinstance(b.geom, Point) else b.geom.representative_point()).coords[0]
             for b in self.blds], dtype=float,
        ).reshape(n, 2)
        # Identical points would share one Voronoi cell; nudge repeats a few centimetres apart.
        seen: dict[tuple[float, float], int] = {}
        for i in range(n):
            k = (xy[i, 0], xy[i, 1])
            if k in seen:
                seen[k] += 1
                a = seen[k] * 2.399963  # golden angle keeps the nudged copies apart
                xy[i] += 0.05 * math.sqrt(seen[k]) * np.array([math.cos(a), math.sin(a)])
            else:
                seen[k] = 0
        self.xy = xy
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
        cands += [(b.geom, i) for i, b in enumerate(self.blds)
                  if b.exclusive and isinstance(b.geom, Polygon)]
        taken: shapely.Geometry = Polygon()
        self.sites: list[Polygon] = []
        self.site_of = np.full(len(self.blds), -1)
        for geom, owner in cands:
            piece = clean(shapely.make_valid(geom).intersection(self.region).difference(taken))
            main = _largest(piece)
            if main is None or main.area < 1.0:
                continue
            self.sites.append(main)
            taken = taken.union(main)
            if owner is not None:
                self.site_of[owner] = len(self.sites) - 1
        if self.sites and len(self.blds):
            inside = shapely.intersects_xy(np.array(self.sites, dtype=object)[:, None],
                                           self.xy[:, 0][None, :], self.xy[:, 1][None, :])
            for i in np.nonzero((self.site_of < 0) & inside.any(axis=0))[0]:
                if not self.blds[i].exclusive or not isinstance(self.blds[i].geom, Polygon):
                    self.site_of[i] = int(np.argmax(inside[:, i]))
        self.rest = clean(self.region.difference(taken)) if self.sites else self.region

    def _blocks(self) -> None:
        """Cut the non-site area by the lines into blocks and put each building in one."""
        self.blocks: list[Polygon] = []
        if not self.rest.is_empty:
            # Clipped lines end on the boundary only up to rounding; overshoot so they get noded.
            edges = shapely.union_all([self.rest.boundary, *(_extend(ln) for ln in self.lines)])
            faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
            shapely.prepare(self.rest)
            self.blocks = [f for f in faces if self.rest.contains(f.representative_point())]
            if abs(sum(b.area for b in self.blocks) - self.rest.area) > 1e-6 * self.rest.area + 1:
                self.blocks = polygon_parts(self.rest)  # polygonize failed on odd input
        self.lb_of = np.full(len(self.blds), -1)
        free = np.nonzero(self.site_of < 0)[0]
        if not self.blocks or not len(free):
            return
        tree = STRtree(self.blocks)
        pts = shapely.points(self.xy[free])
        # Buildings exactly on a line touch two blocks: "intersects" takes the first, deterministically.
        pi, bi = tree.query(pts, predicate="intersects")
        first: dict[int, int] = {}
        for p, b in zip(pi.tolist(), bi.tolist(), strict=True):
            first.setdefault(p, b)
        for p, i in enumerate(free):
            self.lb_of[i] = first[p] if p in first else int(tree.nearest(pts[p]))
        self.block_tree = tree

    def _cells_and_neighbours(self) -> None:
        """Voronoi cells (clipped to the non-site area) and Delaunay neighbours of free buildings."""
        n = len(self.blds)
        self.cells: list[shapely.Geometry] = [Polygon()] * n
        self.nbrs: list[list[int]] = [[] for _ in range(n)]
        free = np.nonzero(self.site_of < 0)[0]
        if len(free) == 1:
            self.cells[free[0]] = self.rest
        elif len(free) >= 2:
            mp = MultiPoint(self.xy[free])
            vor = shapely.voronoi_polygons(mp, extend_to=self.rest, ordered=True)
            clipped = shapely.intersection(np.array(shapely.get_parts(vor)), self.rest)
            for j, i in enumerate(free):
                self.cells[i] = clipped[j]
            edges = shapely.delaunay_triangles(mp, only_edges=True)
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
class _G:
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


def _bisect(
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
    best: tuple[float, np.ndarray, float, int] | None = None
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
            if best is None or score < best[0]:
                best = (score, u, (pu[order[j]] + pu[order[j + 1]]) / 2, j)
    if best is None:
        out.append((ids, poly))
        return
    _, u, c, _j = best
    left = xy @ u < c
    hp = _halfplane(u, c, reach)
    p1 = clean(poly.intersection(hp))
    p2 = clean(poly.difference(hp))
    _bisect(ids[left], xy[left], w[left], k1, p1, reach, out)
    _bisect(ids[~left], xy[~left], w[~left], k - k1, p2, reach, out)


@dataclass
class _Unit:
    poly: shapely.Geometry
    bids: list[int]
    lb: int
    total: float
    attach: list[tuple[shapely.Geometry, list[int], np.ndarray, float]] = field(
        default_factory=list)
    received: bool = False
    lent: bool = False
    alive: bool = True


def _divide_community(
    ctx: _Ctx, target: float, tolerance: float, allow_crossing: bool
) -> list[_G]:
    """Divide one community into grids (state before numbering)."""
    lo, hi = tolerance_band(target, tolerance)
    vals, xy = ctx.vals, ctx.xy
    grids: list[_G] = []
    for s, site in enumerate(ctx.sites):
        grids.append(_G(set(np.nonzero(ctx.site_of == s)[0].tolist()), site, True, True))
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
            if ctx.blds[i].exclusive or vals[i] > hi:
                cell = clean(ctx.cells[i].intersection(rest))
                own = [p for p in polygon_parts(cell) if p.intersects(Point(xy[i]))]
                if own:
                    grids.append(_G({i}, own[0], ctx.blds[i].exclusive, True))
                    rest = clean(rest.difference(own[0]))
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
        _bisect(ids, pts, w, k, u.poly, reach, leaves)
        for lids, lpoly in leaves:
            mem = {int(i) for i in lids if i >= 0}
            poly = lpoly
            for a in (int(-i - 1) for i in lids if i < 0):
                mem |= set(u.attach[a][1])
                poly = poly.union(u.attach[a][0])
            grids.append(_G(mem, clean(poly)))
    for piece in orphans:
        if piece.area >= 0.5 * typical or not grids:
            grids.append(_G(set(), piece))  # a large empty area keeps its own (reported) grid
        else:
            _attach(ctx, grids, piece, set())
    _fix_strays(ctx, grids)
    return grids


def _lend(units: list[_Unit], ctx: _Ctx, target: float, lo: float, hi: float,
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


def _lend_one(units: list[_Unit], ui: int, tree: STRtree, ctx: _Ctx, target: float, lo: float,
              hi: float, reach: float, m: int) -> bool:
    """Lend the surplus of unit ui (all of it when m == 0) to its best neighbour."""
    u = units[ui]
    surplus = u.total - m * target
    best = None
    for vi in tree.query(u.poly, predicate="intersects").tolist():
        v = units[vi]
        if vi == ui or not v.alive or not (v.bids or v.attach):
            continue
        shared = u.poly.boundary.intersection(v.poly.boundary)
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
        piece = clean(shapely.union_all([u.poly, *(a[0] for a in u.attach)]))
        amount = u.total
        u.alive = False
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
        piece = clean(u.poly.intersection(hp))
        u.poly = clean(u.poly.difference(hp))
        u.lent = True
        moved = bids[order[:take]].tolist()
        amount = float(cum[take - 1])
        gone = set(moved)
        u.bids = [i for i in u.bids if i not in gone]
        u.total -= amount
    centre = Point(ctx.xy[moved].mean(axis=0)) if moved else piece.representative_point()
    anchor = np.array(shared.interpolate(shared.project(centre)).coords[0])
    v.attach.append((piece, moved, anchor, amount))
    v.total += amount
    v.received = True
    return True


def _shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length of the common edge of two polygons (robust to tiny noding differences)."""
    length = a.boundary.intersection(b.boundary).length
    if length > 0:
        return length
    return a.buffer(0.01, quad_segs=1).intersection(b).area / 0.02


def _attach(ctx: _Ctx, grids: list[_G], piece: shapely.Geometry, members: set[int],
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
    grids[best].poly = clean(grids[best].poly.union(piece))
    grids[best].members |= members
    return True


def _fix_strays(ctx: _Ctx, grids: list[_G]) -> None:
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
                if _attach(ctx, grids, p, set(inside[j]), exclude=gi):
                    g.poly = clean(g.poly.difference(p))
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


def _try_move(ctx: _Ctx, grids: list[_G], b: int, h: int, g: int,
              allow_crossing: bool) -> bool:
    """Move building b with its cell from grid h to grid g if both stay single polygons."""
    piece = ctx.cells[b].intersection(grids[h].poly)
    if not allow_crossing and ctx.lb_of[b] >= 0:
        piece = piece.intersection(ctx.blocks[ctx.lb_of[b]])
    own = [p for p in polygon_parts(piece) if shapely.intersects_xy(p, *ctx.xy[b])]
    if not own:
        return False
    new_h = clean(grids[h].poly.difference(own[0]))
    if len(polygon_parts(new_h)) != 1:
        return False
    new_g = clean(grids[g].poly.union(own[0]))
    if len(polygon_parts(new_g)) != 1:
        return False
    grids[h].poly, grids[g].poly = new_h, new_g
    grids[h].members.discard(b)
    grids[g].members.add(b)
    return True


class _Balancer:
    """Greedy boundary moves (single moves and two-step chains) towards the tolerance band."""

    def __init__(self, ctx: _Ctx, grids: list[_G], target: float, tol: float,
                 allow_crossing: bool) -> None:
        self.ctx, self.grids, self.target, self.tol = ctx, grids, target, tol
        self.allow_crossing = allow_crossing
        self.lo, self.hi = tolerance_band(target, tol)
        self.owner = np.full(len(ctx.blds), -1)
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
        cands.sort(key=lambda c: c[0])
        return cands

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
                stuck.add(x)
        return moves


def _rebalance_grids(ctx: _Ctx, grids: list[_G], target: float, tol: float,
                     allow_crossing: bool, max_moves: int) -> list[tuple[int, int, int]]:
    """Greedy boundary moves until every movable grid is within tolerance (or stuck)."""
    return _Balancer(ctx, grids, target, tol, allow_crossing).run(max_moves)


# --------------------------------------------------------------------------------------------
# numbering, results and public API
# --------------------------------------------------------------------------------------------


def _number(grids: list[_G], region: shapely.Geometry) -> None:
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


def _to_grid(ctx: _Ctx, g: _G) -> DividedGrid:
    mem = sorted(g.members)
    return DividedGrid(
        community_key=ctx.key, sequence=g.seq, polygon=g.poly,
        building_keys=tuple(ctx.blds[i].key for i in mem),
        households=sum(ctx.blds[i].households for i in mem),
        residents=sum(ctx.blds[i].residents for i in mem),
        weight=float(sum(ctx.blds[i].weight for i in mem)), exclusive=g.exclusive,
    )


def quality_report(
    grids: Sequence[DividedGrid], inputs: Sequence[DivisionInput], *, target: float,
    measure: Measure = "households", tolerance: float = 0.10,
) -> QualityReport:
    """Quality of any division of these inputs: balance, compactness, crossings, contiguity."""
    by_key = {inp.community_key: inp for inp in inputs}
    vals = {(ck, b.key): b.value(measure) for ck, inp in by_key.items() for b in inp.buildings}
    rows, biggest = [], {}
    for g in grids:
        bv = [vals[(g.community_key, k)] for k in g.building_keys]
        rows.append((g.community_key, g.sequence, g.exclusive, g.polygon, len(bv), g.households,
                     g.residents, g.weight, float(sum(bv))))
        biggest[(g.community_key, g.sequence)] = max(bv, default=0.0)
    lines = {ck: list(inp.lines) for ck, inp in by_key.items()}
    return build_report(rows, target=target, measure=measure, tolerance=tolerance, lines=lines,
                        largest_building=biggest)


def _finish(ctxs: list[_Ctx], states: list[list[_G]], inputs: Sequence[DivisionInput],
            target: float, measure: Measure, tolerance: float,
            warnings: list[str] | None = None) -> Division:
    grids = [_to_grid(ctx, g) for ctx, st in zip(ctxs, states, strict=True) for g in st
             if not g.poly.is_empty or g.members]
    grids.sort(key=lambda g: (g.community_key, g.sequence))
    report = quality_report(grids, inputs, target=target, measure=measure, tolerance=tolerance)
    return Division(grids, report, list(inputs), target, measure, tolerance, warnings or [])


def divide(
    inputs: Sequence[DivisionInput], *, target: float, measure: Measure = "households",
    tolerance: float = 0.10, allow_crossing: bool = True, seed: int = 0,
) -> Division:
    """Divide communities into balanced, contiguous, compact grids that follow the lines.

    ``allow_crossing`` lets a block that cannot be balanced on its own lend buildings to a
    neighbouring block across a line; ``seed`` is accepted for API stability (the method is
    deterministic).
    """
    if target <= 0:
        raise ValueError("target must be positive")
    del seed
    ctxs, states, warnings = [], [], []
    for inp in inputs:
        ctx = _Ctx(inp, measure)
        grids = _divide_community(ctx, target, tolerance, allow_crossing)
        _rebalance_grids(ctx, grids, target, tolerance, allow_crossing,
                         max_moves=20 * len(grids) + 50)
        _fix_strays(ctx, grids)
        _number(grids, ctx.region)
        missing = set(range(len(ctx.blds))) - {i for g in grids for i in g.members}
        if missing:
            warnings.append(f"{ctx.key}: {len(missing)} buildings outside every grid")
        ctxs.append(ctx)
        states.append(grids)
    return _finish(ctxs, states, inputs, target, measure, tolerance, warnings)


def _state_of(division: Division) -> tuple[list[_Ctx], list[list[_G]]]:
    """Rebuild the working state (contexts and grids) from a division."""
    ctxs, states = [], []
    lo, hi = tolerance_band(division.target, division.tolerance)
    del lo
    for inp in division.inputs:
        ctx = _Ctx(inp, division.measure)
        grids = []
        for dg in division.grids:
            if dg.community_key != inp.community_key:
                continue
            mem = {ctx.index[k] for k in dg.building_keys}
            single_big = len(mem) == 1 and float(ctx.vals[list(mem)].sum()) > hi
            grids.append(_G(mem, dg.polygon, dg.exclusive, dg.exclusive or single_big,
                            dg.sequence))
        ctxs.append(ctx)
        states.append(grids)
    return ctxs, states


def rebalance(
    division: Division, *, max_moves: int | None = None, allow_crossing: bool = False
) -> tuple[Division, list[Move]]:
    """Move boundary buildings between neighbouring grids until all are within tolerance.

    Sequences are kept (codes stay stable); returns the new division and the moves made.
    """
    ctxs, states = _state_of(division)
    moves: list[Move] = []
    for ctx, grids in zip(ctxs, states, strict=True):
        limit = max_moves if max_moves is not None else 20 * len(grids) + 50
        for b, h, g in _rebalance_grids(ctx, grids, division.target, division.tolerance,
                                        allow_crossing, limit):
            moves.append(Move(ctx.key, ctx.blds[b].key, grids[h].seq, grids[g].seq))
    out = _finish(ctxs, states, division.inputs, division.target, division.measure,
                  division.tolerance, list(division.warnings))
    return out, moves


def division_from_assignment(
    inputs: Sequence[DivisionInput], assignment: Mapping[str, int], *, target: float,
    measure: Measure = "households", tolerance: float = 0.10,
) -> Division:
    """Build a division from building key → grid sequence (polygons from Voronoi cells)."""
    ctxs, states = [], []
    for inp in inputs:
        ctx = _Ctx(inp, measure)
        groups: dict[int, set[int]] = {}
        for i, b in enumerate(ctx.blds):
            groups.setdefault(int(assignment[b.key]), set()).add(i)
        grids = []
        for seq, mem in sorted(groups.items()):
            parts = [ctx.cells[i] for i in mem if ctx.site_of[i] < 0]
            parts += [ctx.sites[s] for s in {int(ctx.site_of[i]) for i in mem} - {-1}]
            grids.append(_G(mem, clean(shapely.union_all(parts)), seq=seq))
        ctxs.append(ctx)
        states.append(grids)
    return _finish(ctxs, states, inputs, target, measure, tolerance)


def split_grid(division: Division, community_key: str, sequence: int, parts: int = 2) -> Division:
    """Split one grid by straight cuts into balanced parts; new parts get new sequences."""
    ctxs, states = _state_of(division)
    ci = next(i for i, c in enumerate(ctxs) if c.key == community_key)
    ctx, grids = ctxs[ci], states[ci]
    gi = next(i for i, g in enumerate(grids) if g.seq == sequence)
    g = grids[gi]
    if g.exclusive or len(g.members) < parts:
        raise ValueError(f"grid {sequence} cannot be split into {parts} parts")
    ids = np.array(sorted(g.members))
    x0, y0, x1, y1 = g.poly.bounds
    leaves: list[tuple[np.ndarray, shapely.Geometry]] = []
    _bisect(ids, ctx.xy[ids], ctx.vals[ids], parts, g.poly,
            2 * (abs(x0) + abs(x1) + abs(y0) + abs(y1)) + 1e4, leaves)
    nxt = max(x.seq for x in grids) + 1
    grids[gi] = _G({int(i) for i in leaves[0][0]}, leaves[0][1], seq=sequence)
    for j, (lids, lpoly) in enumerate(leaves[1:]):
        grids.append(_G({int(i) for i in lids}, lpoly, seq=nxt + j))
    _fix_strays(ctx, grids)
    return _finish(ctxs, states, division.inputs, division.target, division.measure,
                   division.tolerance, list(division.warnings))


def merge_grids(division: Division, community_key: str, sequences: Sequence[int]) -> Division:
    """Merge neighbouring grids into one (keeps the smallest sequence); must stay contiguous."""
    ctxs, states = _state_of(division)
    ci = next(i for i, c in enumerate(ctxs) if c.key == community_key)
    grids = states[ci]
    chosen = [g for g in grids if g.seq in set(sequences)]
    if len(chosen) != len(set(sequences)) or len(chosen) < 2:
        raise ValueError("unknown grid sequence")
    if any(g.exclusive for g in chosen):
        raise ValueError("exclusive grids cannot be merged")
    poly = clean(shapely.union_all([g.poly for g in chosen]))
    if len(polygon_parts(poly)) != 1:
        raise ValueError("grids are not neighbours: the merged grid would not be contiguous")
    merged = _G(set().union(*(g.members for g in chosen)), poly, seq=min(sequences))
    states[ci] = [g for g in grids if g.seq not in set(sequences)] + [merged]
    return _finish(ctxs, states, division.inputs, division.target, division.measure,
                   division.tolerance, list(division.warnings))


def replace_report(division: Division) -> Division:
    """Recompute the report of a division (after editing its grids by hand)."""
    report = quality_report(division.grids, division.inputs, target=division.target,
                            measure=division.measure, tolerance=division.tolerance)
    return replace(division, report=report)
