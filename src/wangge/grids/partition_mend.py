"""Mending steps of the automatic grid division (internal to wangge.grids.partition).

After the first division: dissolve grids an area has too many of, re-cut grids still out of
the band together with their neighbours, give stray pieces and empty grids to a neighbour, and
number the grids. Pure geometry (shapely 2 + numpy); all coordinates in a metric CRS (metres).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from wangge.grids.partition_blocks import shared_length
from wangge.grids.partition_context import (
    Ctx,
    GridState,
    grid_difference,
    grid_union,
    reach_of,
    zone_of_grid,
)
from wangge.grids.partition_cuts import PP_REPAIRED, recut_cluster
from wangge.grids.partition_quality import clean, feasible_total, polsby_popper, polygon_parts


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
            for j in touching_grids(ctx, grids, g.poly, zone, [victim])
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
            or (lo - 1e-9 <= value(x) <= hi + 1e-9 and polsby_popper(x.poly) >= PP_REPAIRED)
        ):
            continue
        zone = zone_of_grid(ctx, x)
        in_band = lo - 1e-9 <= value(x) <= hi + 1e-9
        if not in_band and not feasible_total(area_total.get(zone, 0.0), lo, hi):
            continue  # no count of grids balances this area: nothing to mend
        shed = int(value(x) < 0.5 * lo and _fewer_fits(ctx, grids, zone, lo, hi))
        pairs = [
            (grids[j], clean(grid_union(x.poly, grids[j].poly)))
            for j in touching_grids(ctx, grids, x.poly, zone, [gi])
        ]
        if any(
            recut_cluster(ctx, [x, y], both, 2 - shed, lo, hi, reach, target) for y, both in pairs
        ):
            continue
        cluster, poly = [gi], x.poly
        while len(cluster) < most:
            total = sum(value(grids[i]) for i in cluster)
            near = touching_grids(ctx, grids, poly, zone, cluster)
            if not near:
                break
            j = min(
                near,
                key=lambda j: abs((total + value(grids[j])) / (len(cluster) + 1 - shed) - target),
            )
            cluster.append(j)
            poly = clean(grid_union(poly, grids[j].poly))
            if len(cluster) > 2 and recut_cluster(
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


def touching_grids(
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
