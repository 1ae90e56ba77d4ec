"""Rebalancing of a grid division: move boundary buildings between neighbouring grids.

Internal to wangge.grids.partition. A move hands a building's Voronoi cell (within the giving
grid and, unless crossing is allowed, within its block) to the receiving grid, and is refused if
either grid would fall apart or become ragged. Pure geometry; metric CRS (metres).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import shapely
from shapely import MultiPolygon, Polygon

from wangge.grids.partition_context import (
    Ctx,
    GridState,
    grid_difference,
    grid_intersection,
    grid_union,
    union_all,
    zone_of_grid,
)
from wangge.grids.partition_quality import (
    clean,
    feasible_total,
    polsby_popper,
    polygon_parts,
    tolerance_band,
)

# Weight of compactness (distance pulled, in building spacings) against balance when moving.
_PULL_WEIGHT = 0.02
# Cost of a move that makes a grid reach across a street (in penalty units; leaving the band
# costs 10, so balance still comes first).
_CROSS_COST = 0.5
# Moves may not push a grid's Polsby-Popper compactness below this.
_PP_FLOOR = 0.2


def _penalty(v: float, target: float, band: tuple[float, float]) -> float:
    """Objective of one grid: leaving the band counts most, then the excess, then deviation."""
    d = v / target - 1
    exc = max(0.0, band[0] - v, v - band[1]) / target
    return (10.0 if exc > 1e-12 else 0.0) + exc + 0.01 * d * d


def _bands(ctx: Ctx, grids: list[GridState], lo: float, hi: float) -> list[tuple[float, float]]:
    """The band each grid aims at: the tolerance, widened to the mean of its area (±3 %)
    where no count of grids brings the area's total within the tolerance, so that the
    unavoidable error is shared by its grids instead of piling on one."""
    totals: dict[int | None, list[float]] = {}
    zone = [zone_of_grid(ctx, g) if g.members and not g.fixed else None for g in grids]
    for z, g in zip(zone, grids, strict=True):
        if z is not None:
            totals.setdefault(z, []).append(float(ctx.vals[list(g.members)].sum()))
    wide = {}
    for z, vals in totals.items():
        total, k = sum(vals), len(vals)
        if not feasible_total(total, lo, hi):
            mean = total / k
            wide[z] = (min(lo, 0.97 * mean), max(hi, 1.03 * mean))
    return [wide.get(z, (lo, hi)) for z in zone]


def _try_move(
    ctx: Ctx,
    grids: list[GridState],
    b: int,
    h: int,
    g: int,
    allow_crossing: bool,
    min_gain_pp: float | None = None,
) -> bool:
    """Move building b with its cell from grid h to grid g if both stay single polygons."""
    # min_gain_pp: the move must also raise the summed Polsby-Popper of the two grids.
    piece = grid_intersection(ctx.cells[b], grids[h].poly)
    if not allow_crossing and ctx.lb_of[b] >= 0:
        piece = grid_intersection(piece, ctx.blocks[ctx.lb_of[b]])
    own = [p for p in polygon_parts(piece) if shapely.intersects_xy(p, *ctx.xy[b])]
    if not own:
        return False
    piece = own[0]
    new_h = clean(grid_difference(grids[h].poly, piece))
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
    new_g = clean(grid_union(grids[g].poly, piece))
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

    def __init__(
        self, ctx: Ctx, grids: list[GridState], target: float, tol: float, allow_crossing: bool
    ) -> None:
        self.ctx, self.grids, self.target, self.tol = ctx, grids, target, tol
        self.allow_crossing = allow_crossing
        self.lo, self.hi = tolerance_band(target, tol)
        self.band = _bands(ctx, grids, self.lo, self.hi)
        self.owner = np.full(ctx.npts, -1)
        for gi, g in enumerate(grids):
            for i in g.members:
                self.owner[i] = gi
        self.value = [float(ctx.vals[list(g.members)].sum()) if g.members else 0.0 for g in grids]
        self.moved: dict[int, int] = {}
        # Blocks each grid reaches into (building counts), kept in step with every move.
        self.blk = [Counter(int(ctx.lb_of[i]) for i in g.members) for g in grids]
        # Sums of building positions, for the mean position of each grid's buildings.
        self.xysum = [
            ctx.xy[list(g.members)].sum(axis=0) if g.members else np.zeros(2) for g in grids
        ]

    def shift(self, b: int, h: int, g: int) -> None:
        """Book a move of building b from grid h to grid g (already made on the polygons)."""
        w, lb = float(self.ctx.vals[b]), int(self.ctx.lb_of[b])
        self.value[h] -= w
        self.value[g] += w
        self.owner[b] = g
        self.blk[h][lb] -= 1
        if self.blk[h][lb] <= 0:
            del self.blk[h][lb]
        self.blk[g][lb] += 1
        self.xysum[h] = self.xysum[h] - self.ctx.xy[b]
        self.xysum[g] = self.xysum[g] + self.ctx.xy[b]

    def restore(self, saved: dict[int, tuple[Polygon | MultiPolygon, set[int]]]) -> None:
        """Put grids back as saved (polygon, members) and recount what depends on them."""
        for gi, (poly, mem) in saved.items():
            self.grids[gi].poly, self.grids[gi].members = poly, set(mem)
            self.value[gi] = float(self.ctx.vals[list(mem)].sum()) if mem else 0.0
            self.blk[gi] = Counter(int(self.ctx.lb_of[i]) for i in mem)
            self.xysum[gi] = self.ctx.xy[list(mem)].sum(axis=0) if mem else np.zeros(2)
            for i in mem:
                self.owner[i] = gi

    def pen(self, gi: int, dv: float = 0.0) -> float:
        """Penalty of grid gi after a change of dv."""
        return _penalty(self.value[gi] + dv, self.target, self.band[gi])

    def in_band(self, gi: int, dv: float = 0.0) -> bool:
        """Whether grid gi (after a change of dv) is within its band."""
        lo, hi = self.band[gi]
        return lo - 1e-9 <= self.value[gi] + dv <= hi + 1e-9

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
                # Neighbours never lie across a barrier (see Ctx), so crossing is of streets.
                if not self.allow_crossing and self.crosses(b, g):
                    continue
                out.append((b, g))
        return out

    def crosses(self, b: int, g: int) -> bool:
        """Whether giving building b to grid g makes g reach into a block it did not have."""
        return self.blk[g].get(int(self.ctx.lb_of[b]), 0) <= 0

    def candidates(self, x: int) -> list[tuple[float, list[tuple[int, int, int]]]]:
        """Single moves and two-step chains that lower the total penalty around grid x."""
        vals = self.ctx.vals
        cands: list[tuple[float, list[tuple[int, int, int]]]] = []
        over = self.value[x] > self.band[x][1]
        if over:
            first = [(b, x, g) for b, g in self.steps_out(x)]
        else:
            first = []
            for h in {
                int(self.owner[n]) for i in self.grids[x].members for n in self.ctx.nbrs[i]
            } - {x, -1}:
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
                for h2 in {
                    int(self.owner[n]) for i in self.grids[mid].members for n in self.ctx.nbrs[i]
                } - {mid, x, -1}:
                    seconds += [(b2, h2, mid) for b2, g in self.steps_out(h2) if g == mid]
            for b2, h2, g2 in seconds:
                w2 = float(vals[b2])
                other = h2 if not over else g2
                dv_mid = (-w1 + w2) if not over else (w1 - w2)
                dv_other = -w2 if not over else w2
                dv_x = w1 if not over else -w1
                d2 = (
                    self.pen(x, dv_x)
                    + self.pen(mid, dv_mid)
                    + self.pen(other, dv_other)
                    - self.pen(x)
                    - self.pen(mid)
                    - self.pen(other)
                )
                if d2 < -1e-12:
                    cands.append((d2 + 1e-3, [(b1, h1, g1), (b2, h2, g2)]))
        # Among moves of similar benefit, prefer those that pull a building towards the grid
        # whose buildings it is nearer to: that keeps grids compact.
        # A move that makes a grid cross a street is taken only when nothing else helps as much.
        cands.sort(
            key=lambda c: (
                c[0]
                + _PULL_WEIGHT * sum(self.pull(*step) for step in c[1])
                + _CROSS_COST * sum(self.crosses(b, g) for b, _, g in c[1])
            )
        )
        return cands

    def centre(self, gi: int) -> np.ndarray:
        """Mean position of the buildings of grid gi."""
        n = len(self.grids[gi].members)
        return self.xysum[gi] / n if n else np.zeros(2)

    def pull(self, b: int, h: int, g: int) -> float:
        """How much farther b is from the receiving grid than from the giving one (in spacing)."""
        xy = self.ctx.xy[b]
        scale = math.sqrt(max(self.grids[h].poly.area, 1.0) / max(1, len(self.grids[h].members)))
        return (
            float(np.linalg.norm(xy - self.centre(g)) - np.linalg.norm(xy - self.centre(h))) / scale
        )

    def smooth(self, max_moves: int) -> int:
        """Move buildings off ragged grids when it raises compactness and keeps the band."""
        done = 0
        for gi in sorted(range(len(self.grids)), key=lambda i: polsby_popper(self.grids[i].poly)):
            if done >= max_moves or polsby_popper(self.grids[gi].poly) >= 0.3:
                break
            steps = [(self.pull(b, gi, g), b, g) for b, g in self.steps_out(gi)]
            for pull, b, g in sorted(steps)[:6]:
                w = float(self.ctx.vals[b])
                if pull >= 0 or not (
                    self.band[gi][0] <= self.value[gi] - w and self.value[g] + w <= self.band[g][1]
                ):
                    continue
                if _try_move(self.ctx, self.grids, b, gi, g, self.allow_crossing, 0.01):
                    self.shift(b, gi, g)
                    done += 1
        return done

    def apply(self, chain: list[tuple[int, int, int]]) -> bool:
        """Apply a chain of moves, all or nothing."""
        saved = {
            gi: (self.grids[gi].poly, set(self.grids[gi].members))
            for step in chain
            for gi in step[1:]
        }
        for b, h, g in chain:
            if not _try_move(self.ctx, self.grids, b, h, g, self.allow_crossing):
                self.restore(saved)
                return False
            self.shift(b, h, g)
        for b, _, _ in chain:
            self.moved[b] = self.moved.get(b, 0) + 1
        return True

    def run(self, max_moves: int) -> list[tuple[int, int, int]]:
        """Move until every movable grid is within the band, nothing helps, or the limit."""
        moves: list[tuple[int, int, int]] = []
        stuck: set[int] = set()
        while len(moves) < max_moves:
            bad = [
                gi
                for gi, g in enumerate(self.grids)
                if not g.fixed and g.members and gi not in stuck and not self.in_band(gi)
            ]
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
        return {
            int(self.owner[n])
            for i in self.grids[gi].members
            for n in self.ctx.nbrs[i]
            if self.owner[n] >= 0 and not self.grids[int(self.owner[n])].fixed
        } - {gi}

    def along_path(self, x: int, max_len: int = 8) -> list[tuple[int, int, int]]:
        """Pass the surplus or deficit of x along a path of grids to one that has room."""
        over = self.value[x] > self.band[x][1]
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
            room = (
                self.band[end][1] - self.value[end] if over else self.value[end] - self.band[end][0]
            )
            if room <= 1e-9:
                continue
            path = [end]
            while prev[path[-1]] >= 0:
                path.append(prev[path[-1]])
            path.reverse()
            if len(path) > max_len:
                continue
            saved = {gi: (self.grids[gi].poly, set(self.grids[gi].members)) for gi in path}
            done = self._push(path, over)
            if done is not None:
                return done
            self.restore(saved)
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
                if self.in_band(fix, -w if over else w):
                    after = self.value[fix] + (-w if over else w)
                    opts.append(
                        (
                            abs(after - self.target) / self.target
                            + _PULL_WEIGHT * self.pull(b, h, g),
                            b,
                        )
                    )
            for _, b in sorted(opts)[:8]:
                if _try_move(self.ctx, self.grids, b, h, g, self.allow_crossing):
                    self.shift(b, h, g)
                    done.append((b, h, g))
                    break
            else:
                return None
            nxt = path[i + 1]
            if self.in_band(nxt):
                return done
        return None


def rebalance_grids(
    ctx: Ctx,
    grids: list[GridState],
    target: float,
    tol: float,
    allow_crossing: bool,
    max_moves: int,
    smooth: bool = False,
) -> list[tuple[int, int, int]]:
    """Greedy boundary moves until every movable grid is within tolerance (or stuck)."""
    bal = _Balancer(ctx, grids, target, tol, allow_crossing)
    moves = bal.run(max_moves)
    if smooth:
        bal.smooth(len(grids))
    return moves


# --------------------------------------------------------------------------------------------
# numbering, results and public API
