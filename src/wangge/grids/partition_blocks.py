"""Joining whole small blocks into grids before any block is cut (internal to partition).

In county towns and villages the street blocks are often smaller than one grid: a grid must
then be made of whole neighbouring blocks, crossing as few streets as it can and never a
barrier. This module groups such blocks by region growing on the block adjacency graph, then
improves the groups by moving whole blocks between neighbouring groups. Pure geometry
(shapely 2); metric CRS (metres). No graph library does size-bounded connected grouping with
these priorities (balance first, then compactness), so it is written here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

# Cut directions tried at each bisection (six give near-isotropic choice at low cost), and the
# weight of the shape penalty against the balance error (in parts of one grid); shared with
# the building bisection of partition_cuts.
CUT_ANGLES = np.deg2rad([0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
SHAPE_WEIGHT = 0.25
# Shared edges shorter than this (metres) are corners, not a street front two blocks share.
MIN_SHARED_M = 1.0


def shared_length(a: BaseGeometry, b: BaseGeometry) -> float:
    """Length of the common edge of two polygons (robust to tiny noding differences)."""
    length = a.boundary.intersection(b.boundary).length
    if length > 0:
        return length
    return a.buffer(0.01, quad_segs=1).intersection(b).area / 0.02


def cut_shape_penalty(
    pu: np.ndarray, pv: np.ndarray, order: np.ndarray, j: int, pad: float, k1: int, k: int
) -> float:
    """How much a cut after the j-th item (in order along pu) makes its halves too elongated.

    A half that will hold k_h parts may be up to about k_h times longer than wide.
    """
    a1 = (pu[order[j]] - pu[order[0]] + pad) / (np.ptp(pv[order[: j + 1]]) + pad)
    a2 = (pu[order[-1]] - pu[order[j + 1]] + pad) / (np.ptp(pv[order[j + 1 :]]) + pad)
    return sum(
        max(0.0, abs(math.log(a)) - math.log(max(1, kh)) * 0.5)
        for a, kh in ((a1, k1), (a2, k - k1))
    )


def _penalty(total: float, target: float, lo: float, hi: float) -> float:
    """Leaving the band counts most, then the distance to the target."""
    out = max(0.0, lo - total, total - hi) / target
    return (10.0 if out > 0 else 0.0) + out + 0.01 * ((total - target) / target) ** 2


def _connected(members: set[int], adj: dict[int, dict[int, float]]) -> bool:
    """Whether blocks form one piece through shared edges."""
    if len(members) <= 1:
        return True
    start = next(iter(members))
    seen, todo = {start}, [start]
    while todo:
        for j in adj[todo.pop()]:
            if j in members and j not in seen:
                seen.add(j)
                todo.append(j)
    return len(seen) == len(members)


class _Grouping:
    """Groups of small blocks and the moves that improve them."""

    def __init__(
        self,
        polys: Sequence[BaseGeometry],
        totals: Sequence[float],
        small: list[int],
        adj: dict[int, dict[int, float]],
        target: float,
        lo: float,
        hi: float,
    ) -> None:
        self.polys, self.totals, self.adj = polys, totals, adj
        self.target, self.lo, self.hi = target, lo, hi
        self.groups: list[set[int]] = []
        self.group_of: dict[int, int] = {}
        self.small = small
        self.cent = {i: polys[i].centroid.coords[0] for i in small}

    def total(self, g: int) -> float:
        return float(sum(self.totals[i] for i in self.groups[g]))

    def pen(self, total: float) -> float:
        return _penalty(total, self.target, self.lo, self.hi)

    def split_all(self) -> None:
        """Each connected area of small blocks into its best count of groups, by bisection."""
        seen: set[int] = set()
        for i in self.small:
            if i in seen:
                continue
            comp, todo = {i}, [i]
            while todo:
                for j in self.adj[todo.pop()]:
                    if j not in comp:
                        comp.add(j)
                        todo.append(j)
            seen |= comp
            total = float(sum(self.totals[j] for j in comp))
            self._split(sorted(comp), _best_count(total, self.target, self.lo, self.hi))
        for g, members in enumerate(self.groups):
            for i in members:
                self.group_of[i] = g

    def _split(self, members: list[int], k: int) -> None:
        """Recursive straight-line bisection of whole blocks into k groups of equal totals."""
        if k <= 1 or len(members) <= 1:
            self.groups.append(set(members))
            return
        k1 = k // 2
        w = np.array([self.totals[i] for i in members], dtype=float)
        xy = np.array([self.cent[i] for i in members])
        total = float(w.sum())
        want, part = total * k1 / k, max(total / k, 1e-9)
        pad = math.sqrt(sum(self.polys[i].area for i in members) / len(members))
        cands: list[tuple[float, int, np.ndarray]] = []
        for ang in CUT_ANGLES:
            u = np.array([math.cos(ang), math.sin(ang)])
            pu, pv = xy @ u, xy @ np.array([-u[1], u[0]])
            order = np.argsort(pu, kind="stable")
            cum = np.cumsum(w[order])
            for j in range(len(members) - 1):
                err = abs(cum[j] - want) / part / min(k1, k - k1)
                pen = cut_shape_penalty(pu, pv, order, j, pad, k1, k)
                cands.append((err + SHAPE_WEIGHT * pen, len(cands), order[: j + 1]))
        cands.sort(key=lambda c: (c[0], c[1]))
        chosen = cands[0][2]
        for _, _, left in cands[:40]:
            one = {members[int(x)] for x in left}
            if _connected(one, self.adj) and _connected(set(members) - one, self.adj):
                chosen = left
                break
        one = {members[int(x)] for x in chosen}
        self._split(sorted(one), k1)
        self._split([i for i in members if i not in one], k - k1)

    def neighbours(self, g: int) -> set[int]:
        return {self.group_of[n] for i in self.groups[g] for n in self.adj[i]} - {g}

    def improve(self, rounds: int = 4) -> None:
        """Move whole blocks between neighbouring groups while that lowers the penalties."""
        for _ in range(rounds):
            changed = False
            for g in sorted(range(len(self.groups)), key=lambda g: -self.pen(self.total(g))):
                if self.groups[g] and self.pen(self.total(g)) >= 10.0:
                    changed |= self._fix(g)
            if not changed:
                return

    def _fix(self, g: int) -> bool:
        """Best single block move (or a merge) that lowers the penalty around group g."""
        tg = self.total(g)
        best: tuple[float, int, int, int] | None = None  # (gain, block, from, to)
        for h in self.neighbours(g):
            th = self.total(h)
            base = self.pen(tg) + self.pen(th)
            # g short: take a block of h on the common edge; g over: give one of its own.
            src, dst = (h, g) if tg < self.lo else (g, h)
            for b in self.groups[src]:
                if not any(self.group_of.get(n) == dst for n in self.adj[b]):
                    continue
                rest = self.groups[src] - {b}
                if not rest or not _connected(rest, self.adj):
                    continue
                w = float(self.totals[b])
                new_g = tg + (w if src == h else -w)
                new_h = th + (-w if src == h else w)
                gain = base - self.pen(new_g) - self.pen(new_h)
                if gain > 1e-9 and (best is None or gain > best[0]):
                    best = (gain, b, src, dst)
            # Two short groups that fit together in the band become one.
            if tg < self.lo and th < self.lo and tg + th <= self.hi:
                gain = base - self.pen(tg + th)
                if best is None or gain > best[0]:
                    best = (gain, -1, h, g)
        if best is None:
            return False
        _, b, src, dst = best
        moving = set(self.groups[src]) if b < 0 else {b}
        self.groups[src] -= moving
        self.groups[dst] |= moving
        for i in moving:
            self.group_of[i] = dst
        return True


def _best_count(total: float, target: float, lo: float, hi: float) -> int:
    """Number of grids whose mean lies in the band and nearest the target (else the nearest)."""
    k = max(1, round(total / target))
    cands = [c for c in range(max(1, k - 2), k + 3) if lo <= total / c <= hi]
    return min(cands or [k], key=lambda c: abs(total / c - target))


def join_blocks(
    polys: Sequence[BaseGeometry],
    totals: Sequence[float],
    zones: Sequence[int],
    target: float,
    lo: float,
    hi: float,
) -> list[list[int]]:
    """Groups (indices) of whole small blocks that together make about one grid each.

    A block is small when it holds less than the lower limit; blocks join only across a shared
    edge (a street) within one zone (never across a barrier). Larger blocks are not grouped.
    """
    small = [i for i, t in enumerate(totals) if 0 < t < lo]
    if len(small) < 2:
        return [[i] for i in small]
    sset = set(small)
    adj: dict[int, dict[int, float]] = {i: {} for i in small}
    tree = STRtree(list(polys))
    for i in small:
        for j in tree.query(polys[i], predicate="intersects").tolist():
            if j > i and j in sset and zones[i] == zones[j]:
                length = shared_length(polys[i], polys[j])
                if length >= MIN_SHARED_M:
                    adj[i][j] = adj[j][i] = length
    grouping = _Grouping(polys, totals, small, adj, target, lo, hi)
    grouping.split_all()
    grouping.improve()
    return [sorted(g) for g in grouping.groups if g]
