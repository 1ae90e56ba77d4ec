"""Seeded synthetic layouts for automatic grid division: families of real-world shapes.

Each family is a function ``(seed, target=300, **size) -> Layout``; the same arguments always
give the same layout (numpy generators seeded from ``seed``, shapely only). Coordinates are in
metres in a local frame centred near the origin. The families:

- ``grid_town``: a county town on a street grid whose block size is set so that a block holds
  ``block_factor × target`` households on average (blocks smaller than a grid are the common
  county-town case); main roads and, in some seeds, a river are barriers; streets are preferred
  boundaries; schools and a hospital are exclusive sites; apartment buildings of 10–190
  households and houses of 1–3, with a density that varies strongly from block to block.
- ``county_town``: ``grid_town`` set to the numbers of a held-out county town (11 communities,
  ~600 buildings, ~28,700 households, streets every ~400 m, ~195 blocks of ~147 households).
- ``old_town``: irregular, non-orthogonal wiggly streets, many crossable lanes inside blocks,
  dense houses of 1–4 households and a few courtyard complexes (footprint buildings).
- ``suburb``: gated estates of 3–5 × target households in 8–30 towers, villa areas and empty
  land, main roads as barriers.
- ``rural``: villages of 20–80 houses far apart in farmland, village roads as preferred lines,
  a river and (in some seeds) a railway as barriers, administrative-village lines as barriers
  inside large communities of several km².
- ``tiled`` / ``large``: several layouts side by side (``large``: ~27,000 buildings).

A ``Layout`` holds the ``DivisionInput`` of every community (lines, barriers and lanes clipped
to it, extended 1 m past its boundary so that each crosses it fully) and the flattened layers
used for scoring. Buildings lie strictly inside their community, at least ``STREET_GAP_M`` from
streets and barriers and ``LANE_GAP_M`` from lanes.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Point, Polygon, affinity
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.grids.partition import Building, DivisionInput

__all__ = [
    "FAMILIES",
    "Layout",
    "block_households",
    "county_town",
    "grid_town",
    "large",
    "old_town",
    "rural",
    "suburb",
    "tiled",
]

STREET_GAP_M = 6.0  # buildings keep this far from streets, main roads, rivers and railways
LANE_GAP_M = 2.5  # … and this far from lanes
SITE_GAP_M = 5.0  # … and from exclusive sites (apart from the site's own buildings)
HELD_OUT_TOWN = {"households": 28659, "blocks": 195, "buildings": 600, "communities": 11}

Geom = BaseGeometry
_G = TypeVar("_G", bound=BaseGeometry)
Building_ = tuple[Point | Polygon, int]  # a generated building: geometry and households


@dataclass
class Layout:
    """A generated layout: the communities to divide plus flattened layers for scoring."""

    name: str
    inputs: list[DivisionInput]
    boundary: Polygon | MultiPolygon
    lines: list[LineString] = field(default_factory=list)  # preferred boundaries (streets)
    barriers: list[LineString] = field(default_factory=list)  # never crossed
    lanes: list[LineString] = field(default_factory=list)  # crossable alleys
    sites: list[Polygon] = field(default_factory=list)  # exclusive sites
    # What each barrier is: "main road", "river", "canal", "railway" or "administrative line".
    barrier_kinds: list[str] = field(default_factory=list)

    @property
    def buildings(self) -> list[Building]:
        """All buildings of all communities."""
        return [b for inp in self.inputs for b in inp.buildings]

    @property
    def households(self) -> int:
        """Households of all buildings."""
        return sum(b.households for inp in self.inputs for b in inp.buildings)


# --------------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per (seed, stream), so that parts can be redrawn alone."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    return np.random.default_rng([seed, stream])


def _spot(g: Point | Polygon) -> tuple[float, float]:
    """The point a building is placed by (its representative point for a footprint)."""
    p = g if isinstance(g, Point) else g.representative_point()
    return (p.x, p.y)


def _blob(
    rng: np.random.Generator, area: float, irregular: float = 0.1, aspect: float = 1.0
) -> Polygon:
    """An irregular star-shaped outline of the given area centred at the origin."""
    th = np.linspace(0, 2 * math.pi, 96, endpoint=False)
    ph = rng.uniform(0, 2 * math.pi, 3)
    r = 1 + irregular * (
        np.sin(2 * th + ph[0]) + 0.6 * np.sin(3 * th + ph[1]) + 0.4 * np.sin(5 * th + ph[2])
    )
    poly = Polygon(np.c_[aspect * r * np.cos(th), r * np.sin(th) / aspect])
    f = math.sqrt(area / poly.area)
    return affinity.scale(poly, f, f, origin=(0, 0))


def _wiggly(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    amp: float,
    step: float,
) -> LineString:
    """A line from a to b with random sideways bends of up to ``amp`` every ``step`` metres."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = b_ - a_
    length = float(np.hypot(*d))
    n = max(1, int(length // step))
    pts = a_[None, :] + np.linspace(0, 1, n + 1)[:, None] * d[None, :]
    if n > 1 and amp > 0:
        normal = np.array([-d[1], d[0]]) / length
        pts[1:-1] += normal[None, :] * rng.uniform(-amp, amp, size=(n - 1, 1))
    return LineString(pts)


def _bendy(pts: np.ndarray, rng: np.random.Generator, amp: float) -> LineString:
    """A polyline through the points with a bent midpoint between each pair."""
    out = [pts[0]]
    for p, q in itertools.pairwise(pts):
        d = q - p
        normal = np.array([-d[1], d[0]]) / max(1e-9, float(np.hypot(*d)))
        out += [(p + q) / 2 + normal * rng.uniform(-amp, amp), q]
    return LineString(np.array(out))


def _extend(line: LineString, by: float) -> LineString:
    """The line lengthened at both ends along its end segments (to cross what it ends on)."""
    c = np.asarray(line.coords, dtype=float)
    for end, prev in ((0, 1), (-1, -2)):
        d = c[end] - c[prev]
        c[end] = c[end] + d / max(1e-9, float(np.hypot(*d))) * by
    return LineString(c)


def _chord(
    rng: np.random.Generator, region: Geom, angle: float, offset: float, amp: float, step: float
) -> LineString:
    """A wiggly line across the whole region at an angle (degrees), offset from its centre."""
    c = np.asarray(region.centroid.coords[0])
    x0, y0, x1, y1 = region.bounds
    reach = math.hypot(x1 - x0, y1 - y0) / 2 + 100
    u = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    n = np.array([-u[1], u[0]])
    return _wiggly(c + offset * n - reach * u, c + offset * n + reach * u, rng, amp, step)


def _faces(region: Geom, lines: Sequence[LineString]) -> list[Polygon]:
    """Faces of the region cut by the lines."""
    noded = shapely.union_all([region.boundary, *lines])
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    shapely.prepare(region)
    return [f for f in polys if region.contains(f.representative_point())]


def _frame(region: Geom, theta: float) -> tuple[float, float, float, float]:
    """Bounds of the region in a frame rotated by -theta about its centroid."""
    return affinity.rotate(region, -theta, origin=region.centroid).bounds


def _parallels(
    rng: np.random.Generator,
    lo: float,
    hi: float,
    across: tuple[float, float],
    spacing: float,
    axis: int,
    amp: float,
) -> tuple[list[LineString], list[float]]:
    """Roughly parallel wiggly lines ``spacing`` apart (±25 %) between lo and hi (frame axes)."""
    pos: list[float] = []
    p = lo + rng.uniform(0.3, 0.7) * spacing
    while p < hi - 0.3 * spacing:
        pos.append(p)
        p += spacing * rng.uniform(0.75, 1.25)
    lines = []
    for p in pos:
        skew = rng.uniform(-0.08, 0.08) * spacing
        a, b = (p - skew, across[0]), (p + skew, across[1])
        if axis == 1:
            a, b = a[::-1], b[::-1]
        lines.append(_wiggly(a, b, rng, amp, max(100.0, spacing / 2)))
    return lines, pos


def _street_grid(
    rng: np.random.Generator,
    region: Geom,
    spacing: float,
    main_spacing: float,
    theta: float,
    amp: float,
) -> tuple[list[LineString], list[LineString]]:
    """Streets on a rotated grid; those nearest even fractions of the extent are main roads."""
    c = region.centroid
    fx0, fy0, fx1, fy1 = _frame(region, theta)
    streets: list[LineString] = []
    mains: list[LineString] = []
    for axis, lo, hi, across in (
        (0, fx0, fx1, (fy0 - 60, fy1 + 60)),
        (1, fy0, fy1, (fx0 - 60, fx1 + 60)),
    ):
        lines, pos = _parallels(rng, lo, hi, across, spacing, axis, amp)
        n_main = min(int((hi - lo) // main_spacing), len(lines) // 2)
        picks = {
            int(np.argmin(np.abs(np.array(pos) - (lo + (hi - lo) * (j + 1) / (n_main + 1)))))
            for j in range(n_main)
        }
        for i, ln in enumerate(lines):
            (mains if i in picks else streets).append(affinity.rotate(ln, theta, origin=c))
    return streets, mains


def _spread(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to the weights (largest remainders)."""
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=int)
    raw = total * w / w.sum()
    q: np.ndarray = np.floor(raw).astype(int)
    order = np.argsort(-(raw - q), kind="stable")
    q[order[: total - int(q.sum())]] += 1
    return q


def _scatter(region: Geom, n: int, rng: np.random.Generator, min_gap: float) -> np.ndarray:
    """Up to n distinct points inside the region on a jittered lattice (≥ ~min_gap/2 apart)."""
    if n <= 0 or region.is_empty or region.area <= 0:
        return np.zeros((0, 2))
    x0, y0, x1, y1 = region.bounds
    step = max(min_gap, math.sqrt(region.area / (1.6 * n)))
    while True:
        off = rng.uniform(0, step, 2)
        gx, gy = np.meshgrid(np.arange(x0 + off[0], x1, step), np.arange(y0 + off[1], y1, step))
        pts = np.c_[gx.ravel(), gy.ravel()]
        pts = pts + rng.uniform(-0.25 * step, 0.25 * step, pts.shape)
        cand: np.ndarray = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        if len(cand) >= n or step <= 0.6 * min_gap:
            break
        step *= 0.8
    pick = np.sort(rng.choice(len(cand), size=min(n, len(cand)), replace=False))
    return cand[pick]


def _fit(sizes: list[int], m: int) -> list[int]:
    """Sizes for m buildings when fewer than len(sizes) fit: extras join the smallest kept."""
    if m >= len(sizes) or m == 0:
        return sizes if m else []
    kept = sorted(sizes, reverse=True)[:m]
    for extra in sorted(sizes, reverse=True)[m:]:
        i = int(np.argmin(kept))
        kept[i] += extra
    return kept


def _place(
    region: Geom, sizes: list[int], rng: np.random.Generator, min_gap: float
) -> list[Building_]:
    """Point buildings with these households scattered in the region (totals kept)."""
    pts = _scatter(region, len(sizes), rng, min_gap)
    sizes = _fit(sizes, len(pts))
    return [(Point(p), int(s)) for p, s in zip(pts, sizes, strict=True)]


def _mix(
    quota: int,
    rng: np.random.Generator,
    house_share: float,
    house: tuple[int, int],
    apartment_mean: float,
    apartment: tuple[int, int] = (10, 190),
) -> list[int]:
    """Building sizes (households) adding up to the quota: apartments plus some houses."""
    sizes: list[int] = []
    rem = quota
    scale = max(1.0, apartment_mean - apartment[0]) / 2.0
    while rem > 0:
        if rem < apartment[0] or rng.random() < house_share:
            s = int(rng.integers(house[0], house[1] + 1))
        else:
            s = int(np.clip(apartment[0] + rng.gamma(2.0, scale), *apartment))
            if rem - s < apartment[0]:  # the last apartment takes the rest rather than crumbs
                s = min(rem, apartment[1])
        s = min(s, rem)
        sizes.append(s)
        rem -= s
    return sizes


def _houses(quota: int, rng: np.random.Generator, p: Sequence[float]) -> list[int]:
    """House sizes of 1..len(p) households (probabilities p) adding up to the quota."""
    if quota <= 0:
        return []
    draw = rng.choice(np.arange(1, len(p) + 1), size=quota, p=p)
    cum = np.cumsum(draw)
    n = int(np.searchsorted(cum, quota)) + 1
    sizes = draw[:n].tolist()
    sizes[-1] -= int(cum[n - 1]) - quota
    return [int(s) for s in sizes if s > 0]


def _site_rect(w: float, h: float, angle: float, at: Sequence[float]) -> Polygon:
    """A w×h rectangle rotated by angle (degrees) centred at a point."""
    r = affinity.rotate(shapely.box(-w / 2, -h / 2, w / 2, h / 2), angle, origin=(0, 0))
    return affinity.translate(r, at[0], at[1])


def _place_sites(
    rng: np.random.Generator,
    faces: Sequence[Polygon],
    kinds: Sequence[tuple[float, float]],
    theta: float,
    taken: Geom | None = None,
) -> tuple[list[Polygon], set[int]]:
    """Exclusive sites (rectangles, shrunk to fit) inside distinct faces, off the streets."""
    sites: list[Polygon] = []
    used: set[int] = set()
    order = rng.permutation(len(faces)).tolist()
    for w, h in kinds:
        angle = theta + rng.uniform(-6, 6)
        for fi in order:
            inner = faces[fi].buffer(-2 * STREET_GAP_M)
            if fi in used or inner.is_empty or inner.area < 0.25 * w * h:
                continue
            at = inner.centroid if inner.contains(inner.centroid) else inner.representative_point()
            rect = next(
                (
                    r
                    for f in (1.0, 0.85, 0.7, 0.55)
                    if inner.contains(r := _site_rect(w * f, h * f, angle, at.coords[0]))
                    and (taken is None or not r.intersects(taken))
                ),
                None,
            )
            if rect is not None:
                sites.append(rect)
                used.add(fi)
                break
    return sites, used


def _site_buildings(rng: np.random.Generator, sites: Sequence[Polygon]) -> list[Building_]:
    """One to three buildings without households inside each exclusive site."""
    out: list[Building_] = []
    for s in sites:
        pts = _scatter(s.buffer(-SITE_GAP_M), int(rng.integers(1, 4)), rng, 15.0)
        out += [(Point(p), 0) for p in pts]
    return out


def _densities(
    rng: np.random.Generator,
    faces: Sequence[Polygon],
    centre: Point,
    radius: float,
    spread: float,
    empty_share: float,
) -> np.ndarray:
    """Relative density per face: denser near the centre, lognormal noise, some nearly empty."""
    cent = shapely.get_coordinates([f.representative_point() for f in faces])
    d = np.hypot(cent[:, 0] - centre.x, cent[:, 1] - centre.y) / radius
    dens = np.clip(1.6 - np.clip(d, 0, 1.3), 0.3, None) * np.exp(rng.normal(0, spread, len(faces)))
    return np.where(rng.random(len(faces)) < empty_share, 0.04 * dens, dens)


# --------------------------------------------------------------------------------------------
# communities: grouping faces, clipping lines, assembling the inputs
# --------------------------------------------------------------------------------------------


def _adjacency(faces: Sequence[Polygon]) -> list[dict[int, float]]:
    """Shared edge length between faces that share more than a point."""
    tree = STRtree(list(faces))
    adj: list[dict[int, float]] = [{} for _ in faces]
    a, b = tree.query(list(faces), predicate="intersects")
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        if i < j:
            shared = faces[i].boundary.intersection(faces[j].boundary).length
            if shared > 0.5:
                adj[i][j] = adj[j][i] = shared
    return adj


def _components(members: list[int], adj: list[dict[int, float]]) -> list[list[int]]:
    """Connected groups of faces (by shared edges) among the members."""
    left, comps = set(members), []
    while left:
        stack, comp = [min(left)], []
        left.discard(stack[0])
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in adj[i]:
                if j in left:
                    left.discard(j)
                    stack.append(j)
        comps.append(comp)
    return comps


def _touch(
    lab: np.ndarray, members: Sequence[int], own: int, adj: list[dict[int, float]]
) -> dict[int, float]:
    """Length of border the faces ``members`` (labelled ``own``) share with each other label."""
    touch: dict[int, float] = {}
    for i in members:
        for j, ln in adj[i].items():
            if lab[j] != own:
                touch[int(lab[j])] = touch.get(int(lab[j]), 0.0) + ln
    return touch


def _kmeans(
    cent: np.ndarray,
    area: np.ndarray,
    k: int,
    rng: np.random.Generator,
    hard: Geom | None,
    penalty: float,
) -> np.ndarray:
    """Labels 0..k-1 of area-weighted k-means on face centres from a farthest-point start; a
    segment to a centre that crosses ``hard`` costs ``penalty`` metres more."""
    n = len(cent)
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:  # farthest-point start
        d = np.min(
            np.hypot(cent[:, None, 0] - cent[seeds, 0], cent[:, None, 1] - cent[seeds, 1]), axis=1
        )
        seeds.append(int(np.argmax(d)))
    ctr = cent[seeds].copy()
    if hard is not None:
        shapely.prepare(hard)
    lab = np.zeros(n, dtype=int)
    for _ in range(8):
        cost = np.hypot(cent[:, None, 0] - ctr[None, :, 0], cent[:, None, 1] - ctr[None, :, 1])
        if hard is not None and penalty > 0:
            segs = shapely.linestrings(
                np.stack(
                    [
                        np.broadcast_to(cent[:, None, :], (n, k, 2)),
                        np.broadcast_to(ctr[None, :, :], (n, k, 2)),
                    ],
                    axis=2,
                ).reshape(-1, 2, 2)
            )
            cost = cost + penalty * shapely.intersects(segs, hard).reshape(n, k)
        lab = np.argmin(cost, axis=1)
        for c in range(k):
            m = lab == c
            if m.any():
                ctr[c] = (cent[m] * area[m, None]).sum(axis=0) / area[m].sum()
    return lab


def _join_detached(lab: np.ndarray, area: np.ndarray, adj: list[dict[int, float]], k: int) -> None:
    """Make every group one piece (in place): detached pieces join the longest neighbour."""
    for _ in range(50):
        changed = False
        for c in range(k):
            comps = _components(np.nonzero(lab == c)[0].tolist(), adj)
            if len(comps) < 2:
                continue
            comps.sort(key=lambda comp: -sum(area[i] for i in comp))
            for comp in comps[1:]:
                touch = _touch(lab, comp, c, adj)
                if touch:
                    lab[comp] = max(touch, key=lambda t: (touch[t], -t))
                    changed = True
        if not changed:
            break


def _group(
    faces: Sequence[Polygon],
    k: int,
    rng: np.random.Generator,
    hard: Geom | None = None,
    penalty: float = 0.0,
    weight: Sequence[float] | np.ndarray | None = None,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Labels 0..k'-1 grouping faces into k' ≤ k contiguous regions (k-means on centroids).

    A face whose segment to a seed crosses ``hard`` (main roads, rivers) costs ``penalty``
    metres more, so groups tend to end at barriers without having to. A group whose faces
    weigh (households) less than ``min_weight`` in all joins the neighbour it shares most
    boundary with.
    """
    k = max(1, min(k, len(faces)))
    cent = shapely.get_coordinates([f.representative_point() for f in faces])
    area = np.array([f.area for f in faces])
    lab = _kmeans(cent, area, k, rng, hard, penalty)
    adj = _adjacency(faces)
    _join_detached(lab, area, adj, k)
    if weight is not None:
        _merge_light(lab, np.asarray(weight, dtype=float), min_weight, adj)
    _, lab = np.unique(lab, return_inverse=True)
    return lab


def _merge_light(
    lab: np.ndarray, weight: np.ndarray, min_weight: float, adj: list[dict[int, float]]
) -> None:
    """Merge (in place) the lightest group into its longest-bordering neighbour while it weighs
    less than min_weight and more than two groups are left; groups stay contiguous."""
    stuck: set[int] = set()
    while True:
        tot = {int(c): float(weight[lab == c].sum()) for c in np.unique(lab)}
        light = [c for c in tot if tot[c] < min_weight and c not in stuck]
        if len(tot) <= 2 or not light:
            return
        c = min(light, key=lambda g: (tot[g], g))
        touch = _touch(lab, np.nonzero(lab == c)[0].tolist(), c, adj)
        if not touch:
            stuck.add(c)
            continue
        lab[lab == c] = max(touch, key=lambda t: (touch[t], -t))


def _merge_small_zones(
    zone_of: np.ndarray, w: np.ndarray, adj: list[dict[int, float]], k: int, rounds: int
) -> None:
    """Small areas join (in place) their longest neighbour, smallest first: those under half
    the mean community, and the smallest while there are more areas than communities."""
    mean = max(1.0, float(w.sum()) / max(1, k))
    for _ in range(rounds):
        tot = {z: float(w[zone_of == z].sum()) for z in set(zone_of.tolist())}
        small = [
            z
            for z in sorted(tot, key=tot.__getitem__)
            if (tot[z] < 0.5 * mean or len(tot) > k) and len(tot) > 1
        ]
        if not small:
            break
        z = small[0]
        touch = _touch(zone_of, np.nonzero(zone_of == z)[0].tolist(), z, adj)
        if not touch:
            break
        zone_of[zone_of == z] = max(touch, key=touch.__getitem__)


def _zone_shares(tot: dict[int, float], k: int) -> dict[int, int]:
    """Communities per area, k in all (at least one each), by largest remainders."""
    exact = {z: k * t / max(1.0, sum(tot.values())) for z, t in tot.items()}
    share = {z: max(1, math.floor(e)) for z, e in exact.items()}
    while sum(share.values()) < k:  # largest remainders first
        z = max(share, key=lambda z: exact[z] - share[z])
        share[z] += 1
    while sum(share.values()) > k and any(v > 1 for v in share.values()):
        z = min((z for z in share if share[z] > 1), key=lambda z: exact[z] - share[z])
        share[z] -= 1
    return share


def _zoned_group(
    faces: Sequence[Polygon],
    k: int,
    rng: np.random.Generator,
    boundary: Geom,
    barriers: Sequence[LineString],
    weight: Sequence[float] | np.ndarray,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Labels grouping faces into about k communities that end at the barriers, as 社区 do.

    The areas between barriers (main roads, rivers) share the k communities by households; an
    area too small for a community of its own (under half the mean), or the smallest while
    there are more areas than communities, joins the neighbouring area it shares most edge
    with, so a barrier runs through a community only there.
    """
    w = np.asarray(weight, dtype=float)
    if not barriers:
        return _group(faces, k, rng, None, 0.0, w, min_weight)
    zones = _faces(boundary, list(barriers))
    ztree = STRtree(zones)
    zone_of = np.array(
        [
            int(next(iter(ztree.query(f.representative_point(), predicate="intersects")), 0))
            for f in faces
        ]
    )
    _merge_small_zones(zone_of, w, _adjacency(faces), k, len(zones))
    tot = {z: float(w[zone_of == z].sum()) for z in sorted(set(zone_of.tolist()))}
    lab = np.zeros(len(faces), dtype=int)
    nxt = 0
    for z, kz in _zone_shares(tot, k).items():
        idx = np.nonzero(zone_of == z)[0]
        sub = _group([faces[i] for i in idx.tolist()], kz, rng, None, 0.0, w[idx], min_weight)
        lab[idx] = sub + nxt
        nxt += int(sub.max()) + 1
    return lab


def _unions(faces: Sequence[Polygon], lab: np.ndarray) -> list[Polygon]:
    """One polygon per label 0..max: the union of the faces with that label."""
    return [
        _union([f for f, x in zip(faces, lab, strict=True) if x == g])
        for g in range(int(lab.max()) + 1)
    ]


def _union(faces: Sequence[Polygon]) -> Polygon:
    """The union of adjacent faces as one valid polygon."""
    u = shapely.make_valid(shapely.union_all(list(faces)))
    parts = [p for p in shapely.get_parts(u) if isinstance(p, Polygon) and p.area > 1.0]
    if len(parts) != 1:
        raise RuntimeError(f"a generated community is in {len(parts)} parts")
    return parts[0]


def _clip(lines: Sequence[LineString], tree: STRtree, poly: Polygon) -> list[LineString]:
    """Pieces of the lines that run through the polygon, reaching 1 m past its boundary."""
    grow, inner = poly.buffer(1.0), poly.buffer(-1.0)
    shapely.prepare(inner)
    out: list[LineString] = []
    for i in sorted(tree.query(inner, predicate="intersects").tolist()):
        for part in shapely.get_parts(shapely.intersection(lines[i], grow)):
            if isinstance(part, LineString) and part.intersection(inner).length > 1.0:
                out.append(part)
    return out


def _assemble(
    name: str,
    prefix: str,
    boundary: Polygon | MultiPolygon,
    comms: Sequence[Polygon],
    blds: Sequence[Building_],
    rng: np.random.Generator,
    *,
    lines: Sequence[LineString] = (),
    barriers: Sequence[LineString] = (),
    barrier_kinds: Sequence[str] = (),
    lanes: Sequence[LineString] = (),
    sites: Sequence[Polygon] = (),
) -> Layout:
    """The division inputs: each building in the community that contains it, layers clipped."""
    if len(barrier_kinds) != len(barriers):
        raise ValueError("one kind per barrier")
    spots = np.array([_spot(g) for g, _ in blds], dtype=float).reshape(-1, 2)
    owner = np.full(len(blds), -1)
    for c, poly in enumerate(comms):
        inside = shapely.contains_xy(poly, spots[:, 0], spots[:, 1])
        owner[inside & (owner < 0)] = c
    if (owner < 0).any():
        raise RuntimeError(f"{int((owner < 0).sum())} generated buildings outside all communities")
    people = rng.uniform(2.2, 3.0, len(blds))
    trees = {id(ls): STRtree(list(ls)) for ls in (lines, barriers, lanes) if len(ls)}

    def clip(ls: Sequence[LineString], poly: Polygon) -> list[LineString]:
        return _clip(ls, trees[id(ls)], poly) if len(ls) else []

    inputs = []
    for c, poly in enumerate(comms):
        key = f"{prefix}C{c:02d}"
        members = []
        for j, i in enumerate(np.nonzero(owner == c)[0].tolist()):
            geom, hh = blds[i]
            res = round(hh * people[i])
            members.append(Building(f"{key}-{j:05d}", geom, hh, res, float(hh + 0.1 * res)))
        inputs.append(
            DivisionInput(
                community_key=key,
                boundary=poly,
                buildings=members,
                lines=clip(lines, poly),
                exclusive_sites=[s for s in sites if poly.contains(s)],
                barriers=clip(barriers, poly),
                lanes=clip(lanes, poly),
            )
        )
    return Layout(
        name,
        inputs,
        boundary,
        list(lines),
        list(barriers),
        list(lanes),
        list(sites),
        list(barrier_kinds),
    )


def block_households(inputs: Sequence[DivisionInput]) -> np.ndarray:
    """Households per block: the faces of each community (less its exclusive sites) cut by its
    preferred lines and barriers (not lanes), as the divider sees them."""
    out: list[float] = []
    for inp in inputs:
        rest: BaseGeometry = inp.boundary
        if inp.exclusive_sites:
            rest = rest.difference(shapely.union_all(inp.exclusive_sites))
        if rest.is_empty:
            continue
        xy = np.array([_spot(b.geom) for b in inp.buildings], dtype=float).reshape(-1, 2)
        hh = np.array([b.households for b in inp.buildings], dtype=float)
        for block in _faces(rest, [*inp.lines, *inp.barriers]):
            out.append(float(hh[shapely.intersects_xy(block, xy[:, 0], xy[:, 1])].sum()))
    return np.array(out)


# --------------------------------------------------------------------------------------------
# families
# --------------------------------------------------------------------------------------------


def _town_net(
    seed: int, boundary: Polygon, spacing: float, river: bool, main_spacing: float = 1100.0
) -> tuple[list[LineString], list[LineString], list[LineString]]:
    """Streets, main roads (every ``main_spacing``, at least every 2.5 blocks) and a river."""
    rng = _rng(seed, 1)
    theta = rng.uniform(-15, 15)
    streets, mains = _street_grid(
        rng, boundary, spacing, max(main_spacing, 2.5 * spacing), theta, 0.03 * spacing
    )
    rivers = []
    if river:
        x0, y0, x1, y1 = boundary.bounds
        ext = max(x1 - x0, y1 - y0)
        rivers.append(
            _chord(
                rng,
                boundary,
                rng.uniform(0, 180),
                rng.uniform(-0.15, 0.15) * ext,
                0.05 * ext,
                250.0,
            )
        )
    return streets, mains, rivers


def _fit_outline(
    seed: int, want: float, spacing: float, river: bool, communities: int
) -> tuple[Polygon, list[LineString], list[LineString], list[LineString], list[Polygon]]:
    """Scale the outline until its faces between streets, main roads (about one community
    apart) and the river number about ``want``; the boundary, streets, main roads, rivers
    and faces of the best try."""
    r_shape = _rng(seed, 0)
    shape = _blob(r_shape, 1.0, irregular=0.1, aspect=r_shape.uniform(1.0, 1.3))
    area, best = want * spacing**2, None
    main_spacing = max(1100.0, math.sqrt(area / communities))
    for _ in range(8):
        boundary = affinity.scale(shape, math.sqrt(area), math.sqrt(area), origin=(0, 0))
        streets, mains, rivers = _town_net(seed, boundary, spacing, river, main_spacing)
        faces = _faces(boundary, [*streets, *mains, *rivers])
        if best is None or abs(len(faces) - want) < abs(len(best[4]) - want):
            best = (boundary, streets, mains, rivers, faces)
        if abs(len(faces) - want) <= max(1.0, 0.02 * want):
            break
        area *= want / len(faces)
    assert best is not None  # set on the first pass of the loop
    return best


def _town_plots(
    rng: np.random.Generator, boundary: Polygon, faces: Sequence[Polygon], theta: float, total: int
) -> tuple[list[Polygon], list[Geom], np.ndarray]:
    """A hospital and schools, the room left for buildings in each block and its quota of the
    households (denser towards the centre)."""
    n_sites = int(np.clip(round(total / 7000), 2, 6))
    kinds = [(220.0, 170.0)] + [(170.0, 130.0)] * (n_sites - 1)  # a hospital, then schools
    sites, _ = _place_sites(rng, faces, kinds, theta)
    off = shapely.union_all([s.buffer(SITE_GAP_M) for s in sites])
    room = [f.buffer(-STREET_GAP_M).difference(off) for f in faces]
    radius = math.sqrt(boundary.area / math.pi)
    dens = _densities(rng, faces, boundary.centroid, radius, 0.7, 0.12)
    usable = np.array([r.area for r in room])
    quotas = _spread(total, np.where(usable > 400.0, usable * dens, 0.0))
    return sites, room, quotas


def _town_buildings(
    rng: np.random.Generator,
    quotas: np.ndarray,
    room: Sequence[Geom],
    house_share: float,
    apartment_mean: float,
    houses_below: int,
) -> list[Building_]:
    """Houses and apartment buildings of each block, by its quota of households."""
    blds: list[Building_] = []
    for q, region in zip(quotas.tolist(), room, strict=True):
        if q <= 0:
            continue
        share = (
            1.0 if q < houses_below else min(1.0, house_share * float(rng.choice([0.2, 1.0, 2.5])))
        )
        blds += _place(region, _mix(q, rng, share, (1, 3), apartment_mean), rng, 10.0)
    return blds


def grid_town(
    seed: int = 0,
    target: float = 300,
    *,
    block_factor: float = 1.0,
    households: int = 30000,
    spacing: float | None = None,
    communities: int | None = None,
    river: bool | None = None,
    house_share: float = 0.3,
    apartment_mean: float = 60.0,
    houses_below: int = 30,
    density: float = 2500.0,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """A county town on a street grid whose blocks hold ``block_factor × target`` households
    on average (exactly, over all faces between streets, main roads and the river).

    ``households`` sets the size (about households / (block_factor × target) blocks);
    ``density`` (households per km²) sets the block size unless ``spacing`` (metres between
    streets) is given. There are 2–12 communities (``communities`` if given, else each holds
    at least 4 × target households, as far as there are more than two), unions of whole
    blocks, so bounded by main roads or streets; main roads and the river (in about half the
    seeds, unless ``river``) are barriers and may also run through a community.
    ``house_share`` is the mean share of houses (1–3 households) among the buildings of a block
    (a block of fewer than ``houses_below`` households has houses only); apartment buildings
    hold 10–190 (mean about ``apartment_mean``).
    """
    block_hh = block_factor * target
    if block_hh <= 0:
        raise ValueError("block_factor and target must be positive")
    if spacing is None:
        spacing = math.sqrt(block_hh / density * 1e6)
    want = max(4.0, households / block_hh)
    has_river = bool(_rng(seed, 2).random() < 0.5) if river is None else river
    # Main roads about one community apart (~2,700 households each), so that communities can
    # end at them, as 社区 in a county town do.
    k_est = communities or int(np.clip(round(households / 2700), 2, 12))
    boundary, streets, mains, rivers, faces = _fit_outline(seed, want, spacing, has_river, k_est)
    theta = float(_rng(seed, 1).uniform(-15, 15))
    total = round(block_hh * len(faces))
    sites, room, quotas = _town_plots(_rng(seed, 3), boundary, faces, theta, total)
    r_bld = _rng(seed, 4)
    blds = _town_buildings(r_bld, quotas, room, house_share, apartment_mean, houses_below)
    blds += _site_buildings(r_bld, sites)
    r_comm = _rng(seed, 5)
    k = communities or int(np.clip(round(total / r_comm.uniform(2200, 3200)), 2, 12))
    lab = _zoned_group(
        faces, k, r_comm, boundary, [*mains, *rivers], quotas, 0 if communities else 4 * target
    )
    return _assemble(
        name or f"grid_town(block_factor={block_factor:g})",
        prefix if prefix is not None else f"GT{seed}-",
        boundary,
        _unions(faces, lab),
        blds,
        _rng(seed, 6),
        lines=streets,
        barriers=[*mains, *rivers],
        barrier_kinds=["main road"] * len(mains) + ["river"] * len(rivers),
        sites=sites,
    )


def county_town(seed: int = 0, target: float = 300, *, prefix: str | None = None) -> Layout:
    """Replica of a held-out county town: 11 communities, ~600 buildings, ~28,700 households,
    streets every ~400 m → ~195 blocks of ~147 households (half a grid at target 300)."""
    h = HELD_OUT_TOWN
    return grid_town(
        seed,
        target,
        block_factor=h["households"] / h["blocks"] / target,
        households=h["households"],
        spacing=400.0,
        communities=h["communities"],
        house_share=0.08,
        apartment_mean=70.0,
        houses_below=10,
        prefix=prefix if prefix is not None else f"CT{seed}-",
        name="county_town (held-out replica)",
    )


def _old_town_grid(
    rn: np.random.Generator, boundary: Polygon, spacing: float, theta: float
) -> tuple[list[LineString], list[LineString]]:
    """Wiggly streets on a jittered, rotated grid: continuous column streets, row streets in
    runs with gaps; the middle column (and in some seeds the middle row) is a main street."""
    fx0, fy0, fx1, fy1 = _frame(boundary, theta)

    def ticks(lo: float, hi: float) -> np.ndarray:
        out = [lo - spacing]
        while out[-1] < hi + spacing:
            out.append(out[-1] + spacing * rn.uniform(0.8, 1.25))
        return np.array(out)

    xs, ys = ticks(fx0, fx1), ticks(fy0, fy1)
    nx, ny = len(xs), len(ys)
    nodes = np.stack(np.meshgrid(xs, ys), axis=-1) + rn.uniform(-0.22, 0.22, (ny, nx, 2)) * spacing
    main_col = int(np.argmin(np.abs(xs - (fx0 + fx1) / 2)))
    main_row = int(np.argmin(np.abs(ys - (fy0 + fy1) / 2))) if rn.random() < 0.6 else -1
    streets: list[LineString] = []
    mains: list[LineString] = []
    for i in range(nx):
        (mains if i == main_col else streets).append(_bendy(nodes[:, i], rn, 0.1 * spacing))
    for j in range(ny):
        keep = np.ones(nx - 1, dtype=bool) if j == main_row else rn.random(nx - 1) > 0.25
        start = None
        for s in range(nx):  # runs of kept segments; a run ends on a (continuous) column street
            if s < nx - 1 and keep[s]:
                start = s if start is None else start
                continue
            if start is not None:
                ln = _bendy(nodes[j, start : s + 1], rn, 0.1 * spacing)
                (mains if j == main_row else streets).append(ln)
                start = None
    c = boundary.centroid
    return (
        [affinity.rotate(ln, theta, origin=c) for ln in streets],
        [affinity.rotate(ln, theta, origin=c) for ln in mains],
    )


def _old_town_streets(
    rn: np.random.Generator, boundary: Polygon, spacing: float, theta: float, canal: bool
) -> tuple[list[LineString], list[LineString]]:
    """Streets and main streets (the canal, if any, last among them): the wiggly grid and one
    or two diagonals."""
    streets, mains = _old_town_grid(rn, boundary, spacing, theta)
    fx0, fy0, fx1, fy1 = _frame(boundary, theta)
    ext = max(fx1 - fx0, fy1 - fy0)
    for _ in range(int(rn.integers(1, 3))):
        angle = theta + rn.choice([-1, 1]) * rn.uniform(30, 60)
        streets.append(
            _chord(rn, boundary, angle, rn.uniform(-0.25, 0.25) * ext, 0.08 * spacing, spacing)
        )
    if canal:
        mains.append(
            _chord(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.2, 0.2) * ext, 0.04 * ext, 200.0)
        )
    return streets, mains


def _old_town_lanes(
    rl: np.random.Generator, faces: Sequence[Polygon], theta: float, spacing: float
) -> list[list[LineString]]:
    """Lanes of each block: alleys across it, mostly along the street grid."""
    lanes_of: list[list[LineString]] = []
    for f in faces:
        mine: list[LineString] = []
        n = int(min(6, rl.poisson(f.area / (0.25 * spacing**2))))
        for p in _scatter(f.buffer(-12.0), n, rl, 20.0):
            ang = theta + float(rl.choice([0.0, 90.0])) + rl.uniform(-12, 12)
            u = np.array([math.cos(math.radians(ang)), math.sin(math.radians(ang))]) * 2 * spacing
            ln = _wiggly(p - u, p + u, rl, 3.0, 25.0)
            for part in shapely.get_parts(shapely.intersection(ln, f)):
                if isinstance(part, LineString) and part.length > 15.0:
                    mine.append(_extend(part, 0.5))
        lanes_of.append(mine)
    return lanes_of


def _courtyards(
    rs: np.random.Generator,
    faces: Sequence[Polygon],
    lanes_of: Sequence[Sequence[LineString]],
    theta: float,
    taken: list[Polygon],
) -> list[Building_]:
    """Courtyard complexes: ring-shaped footprints off the lanes and clear of ``taken``
    (which each complex joins)."""
    courts: list[Building_] = []
    for _ in range(max(1, round(len(faces) / 6))):
        fi = int(rs.integers(len(faces)))
        side = rs.uniform(36, 60)
        inner = faces[fi].buffer(-STREET_GAP_M - side / 2)
        if inner.is_empty:
            continue
        lane_buf = shapely.union_all([ln.buffer(LANE_GAP_M) for ln in lanes_of[fi]])
        for p in _scatter(inner, 20, rs, 5.0):
            outer = _site_rect(side, side, theta, p)
            if (
                faces[fi].buffer(-STREET_GAP_M).contains(outer)
                and not outer.intersects(lane_buf)
                and not any(outer.intersects(t) for t in taken)
            ):
                hole = _site_rect(side * rs.uniform(0.4, 0.6), side * 0.5, theta, p).exterior
                courts.append((Polygon(outer.exterior, [hole]), int(rs.integers(15, 61))))
                taken.append(outer.buffer(4.0))
                break
    return courts


def _room_off_lanes(
    faces: Sequence[Polygon], lanes_of: Sequence[Sequence[LineString]], off: Geom
) -> list[Geom]:
    """Where each block has room for houses: off streets, sites, complexes and lanes."""
    room = []
    for f, mine in zip(faces, lanes_of, strict=True):
        rm = f.buffer(-STREET_GAP_M).difference(off)
        if mine:
            rm = rm.difference(shapely.union_all([ln.buffer(LANE_GAP_M) for ln in mine]))
        room.append(rm)
    return room


def _old_town_plots(
    rs: np.random.Generator,
    boundary: Polygon,
    faces: Sequence[Polygon],
    lanes_of: Sequence[Sequence[LineString]],
    theta: float,
    households: int,
) -> tuple[list[Polygon], list[Building_], list[Geom], np.ndarray]:
    """Exclusive sites, then courtyard complexes (footprints off the lanes); then the room
    left for houses in each block and its quota of the remaining households."""
    lanes = [ln for mine in lanes_of for ln in mine]
    n_sites = int(np.clip(round(households / 8000), 1, 3))
    sites, _ = _place_sites(
        rs,
        faces,
        [(140.0, 100.0), (70.0, 60.0), (160.0, 120.0)][:n_sites],
        theta,
        shapely.union_all(lanes) if lanes else None,
    )
    taken = [s.buffer(SITE_GAP_M) for s in sites]
    courts = _courtyards(rs, faces, lanes_of, theta, taken)
    room = _room_off_lanes(faces, lanes_of, shapely.union_all(taken) if taken else Polygon())
    radius = math.sqrt(boundary.area / math.pi)
    dens = _densities(rs, faces, boundary.centroid, radius, 0.45, 0.08)
    usable = np.array([rm.area for rm in room])
    quotas = _spread(
        households - sum(h for _, h in courts), np.where(usable > 150.0, usable * dens, 0.0)
    )
    return sites, courts, room, quotas


def old_town(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 12000,
    spacing: float = 140.0,
    density: float = 9000.0,
    communities: int | None = None,
    canal: bool | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """An old town: irregular non-orthogonal wiggly streets (some interrupted, one or two
    diagonals), many crossable lanes in each block, dense houses of 1–4 households and a few
    courtyard complexes (ring-shaped footprints of 15–60 households).

    ``households`` (total, exact) and ``density`` (households per km²) set the size;
    ``spacing`` is the mean street spacing. One or two main streets and, in about half the
    seeds (unless ``canal``), a canal are barriers. ``target`` only names the case.
    """
    del target  # the layout does not depend on the grid size
    r = _rng(seed, 0)
    boundary = _blob(r, households / density * 1e6, irregular=0.14, aspect=r.uniform(1.0, 1.3))
    rn = _rng(seed, 1)
    theta = rn.uniform(-30, 30)
    has_canal = bool(_rng(seed, 2).random() < 0.5) if canal is None else canal
    streets, mains = _old_town_streets(rn, boundary, spacing, theta, has_canal)
    faces = _faces(boundary, [*streets, *mains])
    lanes_of = _old_town_lanes(_rng(seed, 3), faces, theta, spacing)
    lanes = [ln for mine in lanes_of for ln in mine]
    sites, courts, room, quotas = _old_town_plots(
        _rng(seed, 4), boundary, faces, lanes_of, theta, households
    )
    blds: list[Building_] = list(courts)
    rb = _rng(seed, 5)
    for q, region in zip(quotas.tolist(), room, strict=True):
        blds += _place(region, _houses(q, rb, (0.25, 0.35, 0.25, 0.15)), rb, 6.0)
    blds += _site_buildings(rb, sites)
    rc = _rng(seed, 6)
    k = communities or int(np.clip(round(households / rc.uniform(2500, 4000)), 2, 12))
    lab = _zoned_group(faces, k, rc, boundary, mains, quotas, 0 if communities else 1200.0)
    return _assemble(
        name or "old_town",
        prefix if prefix is not None else f"OT{seed}-",
        boundary,
        _unions(faces, lab),
        blds,
        _rng(seed, 7),
        lines=streets,
        barriers=mains,
        barrier_kinds=["main road"] * (len(mains) - has_canal) + ["canal"] * has_canal,
        lanes=lanes,
        sites=sites,
    )


def _suburb_streets(
    rn: np.random.Generator, boundary: Polygon, theta: float
) -> tuple[list[LineString], list[LineString]]:
    """Main roads ~1.1 km apart both ways, and 0–2 local streets each way in each superblock."""
    c = boundary.centroid
    fx0, fy0, fx1, fy1 = _frame(boundary, theta)
    mains: list[LineString] = []
    for axis, lo, hi, across in (
        (0, fx0, fx1, (fy0 - 60, fy1 + 60)),
        (1, fy0, fy1, (fx0 - 60, fx1 + 60)),
    ):
        lines, _ = _parallels(rn, lo, hi, across, 1100.0, axis, 15.0)
        mains += [affinity.rotate(ln, theta, origin=c) for ln in lines]
    streets: list[LineString] = []
    for sb in _faces(boundary, mains):
        bx0, by0, bx1, by1 = _frame(sb, theta)
        sc = sb.centroid
        for axis in (0, 1):
            lo, hi = (bx0, bx1) if axis == 0 else (by0, by1)
            for t in np.sort(rn.uniform(0.25, 0.75, int(rn.integers(0, 3)))):
                p = lo + t * (hi - lo)
                a, b = (
                    ((p, by0 - 50), (p, by1 + 50)) if axis == 0 else ((bx0 - 50, p), (bx1 + 50, p))
                )
                ln = affinity.rotate(_wiggly(a, b, rn, 8.0, 150.0), theta, origin=sc)
                streets += [
                    _extend(g, 0.5)
                    for g in shapely.get_parts(shapely.intersection(ln, sb))
                    if isinstance(g, LineString) and g.length > 50.0
                ]
    return mains, streets


def _suburb_buildings(
    ru: np.random.Generator, parcels: Sequence[Polygon], used: set[int], target: float
) -> tuple[list[Building_], np.ndarray]:
    """Buildings of each parcel (a gated estate, villas or empty land; sites in ``used`` stay
    empty) and the households each parcel holds."""
    blds: list[Building_] = []
    held = np.zeros(len(parcels))  # households per parcel
    for i, parcel in enumerate(parcels):
        before = len(blds)
        use = "site" if i in used else ru.choice(["estate", "villas", "empty"], p=[0.5, 0.25, 0.25])
        compound = parcel.buffer(-20.0)
        if use == "estate" and compound.area > 25000.0:
            total = round(target * ru.uniform(3.0, 5.0))
            n = max(math.ceil(total / 150), int(ru.integers(8, 31)))
            sizes = np.clip(_spread(total, ru.uniform(0.7, 1.3, n)), 10, 190).tolist()
            blds += _place(compound, [int(s) for s in sizes], ru, 25.0)
        elif use in ("estate", "villas"):
            area = parcel.buffer(-STREET_GAP_M).area
            n = int(min(250, area / 1800 * ru.uniform(0.6, 1.0)))
            sizes = ru.integers(1, 3, n).tolist()
            blds += _place(parcel.buffer(-STREET_GAP_M), [int(s) for s in sizes], ru, 15.0)
        held[i] = sum(h for _, h in blds[before:])
    return blds, held


def suburb(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 15000,
    communities: int | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """A suburb: main roads (barriers) ~1.1 km apart enclose superblocks split by 0–2 local
    streets each way (preferred lines) into parcels; half the parcels are gated estates of
    3–5 × target households in 8–30 towers, a quarter villa areas (houses of 1–2 households),
    the rest empty land, plus one or two schools. ``households`` sets the area (about)."""
    r = _rng(seed, 0)
    boundary = _blob(r, households / 2600 * 1e6, irregular=0.12, aspect=r.uniform(1.0, 1.5))
    rn = _rng(seed, 1)
    theta = rn.uniform(-20, 20)
    mains, streets = _suburb_streets(rn, boundary, theta)
    parcels = _faces(boundary, [*mains, *streets])
    ru = _rng(seed, 2)
    n_sites = 1 + int(households > 12000)
    sites, used = _place_sites(ru, parcels, [(180.0, 130.0)] * n_sites, theta)
    blds, held = _suburb_buildings(ru, parcels, used, target)
    blds += _site_buildings(ru, sites)
    rc = _rng(seed, 3)
    total_hh = sum(h for _, h in blds)
    k = communities or int(np.clip(round(total_hh / rc.uniform(3000, 4500)), 2, 12))
    lab = _zoned_group(parcels, k, rc, boundary, mains, held, 0 if communities else 1200.0)
    comms = _unions(parcels, lab)
    return _assemble(
        name or "suburb",
        prefix if prefix is not None else f"SU{seed}-",
        boundary,
        comms,
        blds,
        _rng(seed, 4),
        lines=streets,
        barriers=mains,
        barrier_kinds=["main road"] * len(mains),
        sites=sites,
    )


def _village_centres(r: np.random.Generator, inner: Geom, n_vill: int, gap: float) -> np.ndarray:
    """Up to ``n_vill`` random village centres in ``inner``, at least ``gap`` apart."""
    x0, y0, x1, y1 = inner.bounds
    centres: list[np.ndarray] = []
    for cand in r.uniform((x0, y0), (x1, y1), size=(40 * n_vill, 2)):
        if len(centres) >= n_vill:
            break
        if inner.contains(Point(cand)) and all(np.hypot(*(cand - q)) >= gap for q in centres):
            centres.append(cand)
    return np.array(centres)


def _villages(
    rv: np.random.Generator, cxy: np.ndarray, keep_off: Geom
) -> tuple[list[Building_], list[int]]:
    """Houses of 20–80 around each centre (off roads and barriers), and each village's
    households."""
    blds: list[Building_] = []
    held = []  # households per village
    for q in cxy:
        n = int(rv.integers(20, 81))
        village = affinity.translate(_blob(rv, n * 700.0, irregular=0.15), *q).difference(keep_off)
        sizes = rv.choice(np.arange(1, 5), size=n, p=(0.2, 0.35, 0.3, 0.15)).tolist()
        placed = _place(village, [int(s) for s in sizes], rv, 12.0)
        blds += placed
        held.append(sum(h for _, h in placed))
    return blds, held


def _rural_lines(
    rn: np.random.Generator, boundary: Polygon, n_roads: int, railway: bool | None
) -> tuple[list[LineString], list[LineString]]:
    """Village roads across the whole area; a river and (if ``railway``, else in about 60 %
    of seeds) a railway as barriers."""
    ext = max(boundary.bounds[2] - boundary.bounds[0], boundary.bounds[3] - boundary.bounds[1])
    roads = [
        _chord(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.4, 0.4) * ext, 60.0, 250.0)
        for _ in range(n_roads)
    ]
    barriers = [_chord(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.2, 0.2) * ext, 150.0, 300.0)]
    if (rn.random() < 0.6) if railway is None else railway:
        barriers.append(
            _chord(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.3, 0.3) * ext, 5.0, 1000.0)
        )
    return roads, barriers


def _admin_villages(
    ra: np.random.Generator,
    cells: Sequence[Polygon],
    barriers: Sequence[LineString],
    held: Sequence[float],
    target: float,
) -> tuple[list[Polygon], list[Polygon]]:
    """Natural villages' cells grouped into administrative villages of at least 1.5 × target
    households (tending to end at barriers), and those into 2–6 communities."""
    hard = shapely.union_all(barriers)
    admin_lab = _group(
        cells, max(2, round(len(cells) / ra.uniform(4, 7))), ra, hard, 800.0, held, 1.5 * target
    )
    admin = _unions(cells, admin_lab)
    comms = _unions(admin, _group(admin, int(np.clip(round(len(admin) / 3), 2, 6)), ra))
    return admin, comms


def _common_lines(areas: Sequence[Polygon]) -> list[LineString]:
    """The lines between touching areas (each pair once), extended to cross fully."""
    adj = _adjacency(areas)
    return [
        _extend(g, 0.5)
        for i, nb in enumerate(adj)
        for j in nb
        if i < j
        for g in shapely.get_parts(
            shapely.line_merge(areas[i].boundary.intersection(areas[j].boundary))
        )
        if isinstance(g, LineString) and g.length > 1.0
    ]


def _farmland_sites(
    rs: np.random.Generator, boundary: Polygon, avoid: Geom, comms: Sequence[Polygon], n: int
) -> list[Polygon]:
    """Up to ``n`` exclusive sites (a school, a works) in farmland off ``avoid``, each well
    inside one community."""
    sites: list[Polygon] = []
    for w, h in [(160.0, 120.0), (220.0, 160.0)][:n]:
        room = boundary.buffer(-200.0).difference(avoid)
        for p in _scatter(room, 30, rs, 50.0):
            s = _site_rect(w, h, rs.uniform(0, 90), p)
            if (
                room.contains(s)
                and not any(s.intersects(o.buffer(100.0)) for o in sites)
                and any(cm.buffer(-20.0).contains(s) for cm in comms)
            ):
                sites.append(s)
                break
    return sites


def rural(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 6000,
    railway: bool | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """Farmland with villages of 20–80 houses (1–4 households) ≥ 650 m apart.

    Village roads (preferred lines) cross the whole area; a river and, in about 60 % of seeds
    (unless ``railway``), a railway are barriers. Natural villages are grouped into
    administrative villages, and those into 2–6 communities of several km²; the lines between
    administrative villages are barriers inside a community. ``households`` sets the size
    (about 125 households a village, 0.75 km² a village); an administrative village holds at
    least 1.5 × ``target`` households.
    """
    n_vill = max(4, round(households / 125))
    r = _rng(seed, 0)
    boundary = _blob(r, n_vill * 0.75e6, irregular=0.15, aspect=r.uniform(1.0, 1.4))
    cxy = _village_centres(r, boundary.buffer(-250.0), n_vill, 650.0)
    n_roads = max(3, round(0.8 * math.sqrt(len(cxy))))
    roads, barriers = _rural_lines(_rng(seed, 1), boundary, n_roads, railway)
    keep_off = shapely.union_all([g.buffer(STREET_GAP_M) for g in [*roads, *barriers]])
    blds, held = _villages(_rng(seed, 2), cxy, keep_off)
    # Administrative villages: Voronoi cells of natural villages, grouped; then communities.
    cells = [
        shapely.intersection(g, boundary)
        for g in shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(cxy), extend_to=boundary, ordered=True)
        )
    ]
    admin, comms = _admin_villages(_rng(seed, 3), cells, barriers, held, target)
    admin_lines = _common_lines(admin)
    # One or two exclusive sites (a school, a works) in farmland away from villages and lines.
    rs = _rng(seed, 4)
    avoid = shapely.union_all(
        [
            keep_off,
            *[Point(q).buffer(350.0) for q in cxy],
            *[g.buffer(STREET_GAP_M) for g in admin_lines],
        ]
    )
    sites = _farmland_sites(rs, boundary, avoid, comms, 1 + int(len(cxy) > 30))
    blds += _site_buildings(rs, sites)
    return _assemble(
        name or "rural",
        prefix if prefix is not None else f"RU{seed}-",
        boundary,
        comms,
        blds,
        _rng(seed, 5),
        lines=roads,
        barriers=[*barriers, *admin_lines],
        barrier_kinds=["river", "railway"][: len(barriers)]
        + ["administrative line"] * len(admin_lines),
        sites=sites,
    )


def _translated(layout: Layout, dx: float, dy: float, prefix: str) -> Layout:
    """The layout moved by (dx, dy), with its community and building keys prefixed."""

    def move(g: _G) -> _G:
        return shapely.transform(g, lambda xy: xy + np.array([dx, dy]))

    def moved(gs: Sequence[_G]) -> list[_G]:
        if not len(gs):
            return []
        arr = np.array(list(gs), dtype=object)
        return list(shapely.transform(arr, lambda xy: xy + np.array([dx, dy])))

    inputs = []
    for inp in layout.inputs:
        geoms = moved([b.geom for b in inp.buildings])
        inputs.append(
            dataclasses.replace(
                inp,
                community_key=prefix + inp.community_key,
                boundary=move(inp.boundary),
                buildings=[
                    dataclasses.replace(b, key=prefix + b.key, geom=g)
                    for b, g in zip(inp.buildings, geoms, strict=True)
                ],
                lines=moved(inp.lines),
                exclusive_sites=moved(inp.exclusive_sites),
                barriers=moved(inp.barriers),
                lanes=moved(inp.lanes),
            )
        )
    return Layout(
        layout.name,
        inputs,
        move(layout.boundary),
        moved(layout.lines),
        moved(layout.barriers),
        moved(layout.lanes),
        moved(layout.sites),
        list(layout.barrier_kinds),
    )


def tiled(
    seed: int = 0,
    target: float = 300,
    *,
    n: int = 3,
    families: Sequence[str] = ("grid_town", "old_town"),
    households: int | None = None,
    gap: float = 400.0,
    name: str | None = None,
) -> Layout:
    """n×n layouts side by side (families in turn, each with its own seed), keys prefixed by
    the tile (``T01-``…); ``households`` is passed to every tile when given."""
    tiles = []
    for i in range(n):
        for j in range(n):
            fam = FAMILIES[families[(i * n + j) % len(families)]]
            size = {} if households is None else {"households": households}
            tiles.append(fam(seed * 100 + i * n + j, target, **size))
    cell = (
        max(
            max(
                t.boundary.bounds[2] - t.boundary.bounds[0],
                t.boundary.bounds[3] - t.boundary.bounds[1],
            )
            for t in tiles
        )
        + gap
    )
    moved = []
    for t, tile in enumerate(tiles):
        x0, y0, x1, y1 = tile.boundary.bounds
        i, j = divmod(t, n)
        moved.append(
            _translated(tile, i * cell - (x0 + x1) / 2, j * cell - (y0 + y1) / 2, f"T{i}{j}-")
        )
    return Layout(
        name or f"tiled {n}×{n} ({', '.join(families)})",
        [inp for t in moved for inp in t.inputs],
        # The union of polygonal tiles is polygonal.
        cast(Polygon | MultiPolygon, shapely.union_all([t.boundary for t in moved])),
        [x for t in moved for x in t.lines],
        [x for t in moved for x in t.barriers],
        [x for t in moved for x in t.lanes],
        [x for t in moved for x in t.sites],
        [x for t in moved for x in t.barrier_kinds],
    )


def large(seed: int = 0, target: float = 300) -> Layout:
    """About 27,000 buildings: 3×3 tiles, five grid towns and four old towns."""
    return tiled(
        seed,
        target,
        n=3,
        families=("grid_town", "old_town"),
        households=14000,
        name="large: 3×3 tiles of grid_town and old_town",
    )


FAMILIES: dict[str, Callable[..., Layout]] = {
    "grid_town": grid_town,
    "county_town": county_town,
    "old_town": old_town,
    "suburb": suburb,
    "rural": rural,
    "tiled": tiled,
    "large": large,
}
