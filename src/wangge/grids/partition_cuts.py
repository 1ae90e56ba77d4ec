"""Cutting a cluster of buildings and its polygon into balanced parts (internal to
wangge.grids.partition): recursive straight bisection, and for a few coarse buildings every
split of two halves or parts grown from seed buildings.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.grids.partition_blocks import CUT_ANGLES, SHAPE_WEIGHT, cut_shape_penalty
from wangge.grids.partition_context import (
    SNAP_M,
    Ctx,
    GridState,
    grid_difference,
    grid_intersection,
    union_all,
)
from wangge.grids.partition_quality import clean, polsby_popper, polygon_parts

FINE_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 7.5))
# A grid re-cut to mend the balance must not come out more ragged than this (Polsby-Popper).
PP_REPAIRED = 0.2
# Two grids of at most this many buildings are re-cut by trying every split (2^(n-1)), the
# most compact few of the balanced ones checked as polygons.
_EXACT_MAX = 14
_EXACT_TRIES = 8
# Parts grown from seeds are tried for clusters of at most this many grids (the search grows
# with the count).
_GROW_MAX = 4
# Balance error per grid (share of the target) that a cut may leave for rebalancing to absorb.
_FREE_ERROR = 0.03


def halfplane(u: np.ndarray, c: float, reach: float) -> Polygon:
    """The half plane {x : x·u < c} cut to a square of side 2·reach around the origin line."""
    v = np.array([-u[1], u[0]])
    a, b = c * u + reach * v, c * u - reach * v
    d = (c - 2 * reach) * u
    return Polygon([tuple(a), tuple(b), tuple(d - reach * v), tuple(d + reach * v)])


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
        hp = halfplane(u, c, reach)
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


def recut_cluster(
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
    bisect(np.array(ids), ctx.xy[ids], ctx.vals[ids], parts, poly, reach, leaves, FINE_ANGLES)
    found: list[tuple[set[int], Polygon]] | None = None
    if len(leaves) == parts and all(sound_leaf(ctx, lids, lp, lo, hi) for lids, lp in leaves):
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


def _local_cells(ctx: Ctx, ids: list[int], poly: BaseGeometry) -> list[BaseGeometry]:
    """Voronoi cells of a cluster's buildings within the cluster's polygon (in ids order).

    The block cells of ``Ctx`` do not follow grid edges drawn by straight cuts, so parts made
    of them leave slivers of the cluster behind; these cells share the cluster exactly.
    """
    if len(ids) == 1:
        return [poly]
    vor = shapely.voronoi_polygons(MultiPoint(ctx.xy[ids]), extend_to=poly, ordered=True)
    return list(shapely.intersection(np.asarray(shapely.get_parts(vor)), poly, grid_size=SNAP_M))


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
        if sound_leaf(ctx, np.array(sorted(part)), piece, lo, hi) and sound_leaf(
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
        ok = sound_leaf(ctx, np.array(ids), poly, lo, hi)
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
        if not sound_leaf(ctx, np.array(sorted(part)), piece, lo, hi):
            continue
        tail = _grow_parts(ctx, rest, left, m - 1, lo, hi, target, max(4, seeds // 2))
        if tail is not None:
            return [(part, polygon_parts(piece)[0]), *tail]
    return None


def sound_leaf(ctx: Ctx, ids: np.ndarray, poly: BaseGeometry, lo: float, hi: float) -> bool:
    """A cut half that is one polygon holding its buildings, within the band."""
    parts = polygon_parts(poly)
    return (
        len(parts) == 1
        and lo - 1e-9 <= float(ctx.vals[ids].sum()) <= hi + 1e-9
        and polsby_popper(parts[0]) >= PP_REPAIRED
        and bool(shapely.intersects_xy(parts[0], ctx.xy[ids, 0], ctx.xy[ids, 1]).all())
    )
