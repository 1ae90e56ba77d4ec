"""Engine of the automatic grid division (internal to wangge.grids.partition).

Divides one community into grids block by block: blocks that cannot be balanced alone lend
buildings across a line or join into groups, each block is bisected into balanced parts, and
open land is shared among the grids around it. Pure geometry (shapely 2 + numpy); all
coordinates in a metric CRS (metres). See ``wangge.grids.partition`` for the method and the
public API; the working state is in ``partition_context``, the cuts in ``partition_cuts`` and
the mending steps that follow in ``partition_mend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.grids.partition_blocks import join_blocks, shared_length
from wangge.grids.partition_context import (
    SNAP_M,
    Ctx,
    GridState,
    grid_difference,
    grid_intersection,
    grid_union,
    reach_of,
    union_all,
)
from wangge.grids.partition_cuts import bisect, halfplane
from wangge.grids.partition_mend import attach_piece, fix_strays, touching_grids
from wangge.grids.partition_quality import clean, feasible_total, polygon_parts, tolerance_band

# A unit short of the band by less than this share of the lower limit stays a grid of its own
# (rebalancing fills it building by building) instead of being lent whole to a neighbour.
_KEEP_SHORT = 0.8


def _parts_for(total: float, target: float, lo: float, hi: float) -> int:
    """Number of parts: the in-band count nearest to total/target, else the rounded ratio."""
    k = max(1, round(total / target))
    for cand in sorted(range(max(1, k - 2), k + 3), key=lambda c: abs(total / c - target)):
        if lo <= total / cand <= hi:
            return cand
    return k


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
    grids: list[GridState] = []
    for s, site in enumerate(ctx.sites):
        grids.append(GridState(set(np.nonzero(ctx.site_of == s)[0].tolist()), site, True, True))
    reach = reach_of(ctx.region)
    orphans: list[Polygon | MultiPolygon] = []
    units: list[_Unit] = []
    for b, block in enumerate(ctx.blocks):
        _block_units(ctx, b, block, hi, grids, units, orphans)
    typical = ctx.region.area * target / max(1.0, float(ctx.vals.sum()))
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
        grids += _bisect_unit(ctx, u, _parts_for(u.total, target, lo, hi), reach, orphans)
    for piece in orphans:
        _place_orphan(ctx, grids, piece, allow_crossing, typical)
    fix_strays(ctx, grids)
    return grids


def _block_units(
    ctx: Ctx,
    b: int,
    block: Polygon | MultiPolygon,
    hi: float,
    grids: list[GridState],
    units: list[_Unit],
    orphans: list[Polygon | MultiPolygon],
) -> None:
    """Split block b into grids of single buildings (exclusive or over the band), units to
    partition (its pieces holding buildings) and orphans (pieces holding none)."""
    vals, xy = ctx.vals, ctx.xy
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
                _Unit(part, inside, b, float(vals[inside].sum()), zone=int(ctx.zone_of_block[b]))
            )
            free = [i for i in free if i not in set(inside)]
        else:
            orphans.append(part)
    for i in free:  # buildings outside every piece (outside the community): nearest unit
        if units and units[-1].lb == b:
            units[-1].bids.append(i)
            units[-1].total += float(vals[i])


def _bisect_unit(
    ctx: Ctx, u: _Unit, k: int, reach: float, orphans: list[Polygon | MultiPolygon]
) -> list[GridState]:
    """Cut a unit (its buildings and the loans it received) into k grids; its empty parts
    become orphans."""
    ids = np.array(u.bids + [-(a + 1) for a in range(len(u.attach))], dtype=int)
    pts = np.vstack([ctx.xy[u.bids].reshape(-1, 2)] + [a[2][None, :] for a in u.attach])
    w = np.array([ctx.vals[i] for i in u.bids] + [a[3] for a in u.attach])
    leaves: list[tuple[np.ndarray, Polygon | MultiPolygon]] = []
    bisect(ids, pts, w, k, u.poly, reach, leaves)
    empty: list[Polygon | MultiPolygon] = []
    leaves = [(lids, _drop_empty_parts(ctx, lids, lpoly, empty)) for lids, lpoly in leaves]
    home = {int(-i - 1): li for li, (lids, _) in enumerate(leaves) for i in lids if i < 0}
    loan_polys = []
    for a, (apoly, _, _, _) in enumerate(u.attach):
        ext = _with_empty_neighbours(apoly, empty)
        loan_polys.append(ext)
        # The cut may pass the anchor so that the chosen part touches the loan only at a
        # point; then the part with the longest common edge takes it (rebalancing follows).
        edge = [shared_length(ext, lp) if lp.intersects(ext) else 0.0 for _, lp in leaves]
        if edge[home[a]] < 0.3 * max(edge):
            home[a] = int(np.argmax(edge))
    orphans += empty
    grids = []
    for li, (lids, lpoly) in enumerate(leaves):
        mem = {int(i) for i in lids if i >= 0}
        loans = [a for a, h in home.items() if h == li]
        for a in loans:
            mem |= set(u.attach[a][1])
        poly = union_all([lpoly, *(loan_polys[a] for a in loans)])
        grids.append(GridState(mem, clean(poly)))
    return grids


def _with_empty_neighbours(loan: BaseGeometry, empty: list[Polygon | MultiPolygon]) -> BaseGeometry:
    """A loan grown by the empty pieces next to it (taken from ``empty``), so that it reaches
    real buildings."""
    ext, grown = loan, True
    while grown:
        grown = False
        for e in list(empty):
            if e.intersects(ext) and shared_length(e, ext) > 1.0:
                ext = grid_union(ext, e)
                empty.remove(e)
                grown = True
    return ext


def _place_orphan(
    ctx: Ctx, grids: list[GridState], piece: Polygon | MultiPolygon, crossing: bool, typical: float
) -> None:
    """Give a piece of land without buildings to the grids around it, or a grid of its own."""
    # Open land is shared among the grids around it (a grid with no households would have
    # no one to serve); a piece touching no grid of its area (an empty detached part, or
    # land closed in by barriers) keeps a grid of its own, reported.
    if crossing:
        if not _share_open_land(ctx, grids, piece) and not attach_piece(ctx, grids, piece, set()):
            grids.append(GridState(set(), piece))
    # Never crossing a line: large open land keeps its own grid rather than join a
    # neighbour across the street.
    elif piece.area >= 0.5 * typical or not attach_piece(ctx, grids, piece, set()):
        grids.append(GridState(set(), piece))


def _share_open_land(ctx: Ctx, grids: list[GridState], piece: BaseGeometry) -> bool:
    """Split open land among the touching grids of its area, each taking the part nearest its
    buildings, so that no one grid grows a long empty arm; parts that reach their grid only
    at a corner go to the grid they share the longest edge with."""
    lb = ctx.lb_at(piece)
    zone = int(ctx.zone_of_block[lb]) if lb >= 0 else None
    near = [gi for gi in touching_grids(ctx, grids, piece, zone, []) if not grids[gi].exclusive]
    if len(near) < 2:
        return False
    ids = [i for gi in near for i in sorted(grids[gi].members)]
    label = np.array([gi for gi in near for _ in grids[gi].members])
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(ctx.xy[ids]), extend_to=piece, ordered=True)
    )
    clipped = shapely.intersection(np.asarray(cells), piece, grid_size=SNAP_M)
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
    hp = halfplane(-d, -c, reach)  # {x·d > c}: the side facing the neighbour
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
