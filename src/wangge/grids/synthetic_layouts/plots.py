"""Buildings and exclusive sites of the synthetic layout families: household quotas per
block, building sizes, scattering buildings in a block, sites and their buildings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import Point, Polygon, affinity

from wangge.grids.synthetic_layouts.layout import SITE_GAP_M, STREET_GAP_M, Geom, PlacedBuilding


def spread_total(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to the weights (largest remainders)."""
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=int)
    raw = total * w / w.sum()
    q: np.ndarray = np.floor(raw).astype(int)
    order = np.argsort(-(raw - q), kind="stable")
    q[order[: total - int(q.sum())]] += 1
    return q


def scatter_points(region: Geom, n: int, rng: np.random.Generator, min_gap: float) -> np.ndarray:
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


def fit_sizes(sizes: list[int], m: int) -> list[int]:
    """Sizes for m buildings when fewer than len(sizes) fit: extras join the smallest kept."""
    if m >= len(sizes) or m == 0:
        return sizes if m else []
    kept = sorted(sizes, reverse=True)[:m]
    for extra in sorted(sizes, reverse=True)[m:]:
        i = int(np.argmin(kept))
        kept[i] += extra
    return kept


def place_buildings(
    region: Geom, sizes: list[int], rng: np.random.Generator, min_gap: float
) -> list[PlacedBuilding]:
    """Point buildings with these households scattered in the region (totals kept)."""
    pts = scatter_points(region, len(sizes), rng, min_gap)
    sizes = fit_sizes(sizes, len(pts))
    return [(Point(p), int(s)) for p, s in zip(pts, sizes, strict=True)]


def building_mix(
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


def house_sizes(quota: int, rng: np.random.Generator, p: Sequence[float]) -> list[int]:
    """House sizes of 1..len(p) households (probabilities p) adding up to the quota."""
    if quota <= 0:
        return []
    draw = rng.choice(np.arange(1, len(p) + 1), size=quota, p=p)
    cum = np.cumsum(draw)
    n = int(np.searchsorted(cum, quota)) + 1
    sizes = draw[:n].tolist()
    sizes[-1] -= int(cum[n - 1]) - quota
    return [int(s) for s in sizes if s > 0]


def site_rect(w: float, h: float, angle: float, at: Sequence[float]) -> Polygon:
    """A w×h rectangle rotated by angle (degrees) centred at a point."""
    r = affinity.rotate(shapely.box(-w / 2, -h / 2, w / 2, h / 2), angle, origin=(0, 0))
    return affinity.translate(r, at[0], at[1])


def place_sites(
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
                    if inner.contains(r := site_rect(w * f, h * f, angle, at.coords[0]))
                    and (taken is None or not r.intersects(taken))
                ),
                None,
            )
            if rect is not None:
                sites.append(rect)
                used.add(fi)
                break
    return sites, used


def site_buildings(rng: np.random.Generator, sites: Sequence[Polygon]) -> list[PlacedBuilding]:
    """One to three buildings without households inside each exclusive site."""
    out: list[PlacedBuilding] = []
    for s in sites:
        pts = scatter_points(s.buffer(-SITE_GAP_M), int(rng.integers(1, 4)), rng, 15.0)
        out += [(Point(p), 0) for p in pts]
    return out


def face_densities(
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
