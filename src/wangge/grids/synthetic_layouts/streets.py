"""Outlines, streets and the faces they cut: the line work of the synthetic layout families
(wiggly and bent lines, chords across a region, rotated street grids)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, Polygon, affinity

from wangge.grids.synthetic_layouts.layout import Geom


def blob_outline(
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


def wiggly_line(
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


def bendy_line(pts: np.ndarray, rng: np.random.Generator, amp: float) -> LineString:
    """A polyline through the points with a bent midpoint between each pair."""
    out = [pts[0]]
    for p, q in itertools.pairwise(pts):
        d = q - p
        normal = np.array([-d[1], d[0]]) / max(1e-9, float(np.hypot(*d)))
        out += [(p + q) / 2 + normal * rng.uniform(-amp, amp), q]
    return LineString(np.array(out))


def extended_line(line: LineString, by: float) -> LineString:
    """The line lengthened at both ends along its end segments (to cross what it ends on)."""
    c = np.asarray(line.coords, dtype=float)
    for end, prev in ((0, 1), (-1, -2)):
        d = c[end] - c[prev]
        c[end] = c[end] + d / max(1e-9, float(np.hypot(*d))) * by
    return LineString(c)


def chord_line(
    rng: np.random.Generator, region: Geom, angle: float, offset: float, amp: float, step: float
) -> LineString:
    """A wiggly line across the whole region at an angle (degrees), offset from its centre."""
    c = np.asarray(region.centroid.coords[0])
    x0, y0, x1, y1 = region.bounds
    reach = math.hypot(x1 - x0, y1 - y0) / 2 + 100
    u = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    n = np.array([-u[1], u[0]])
    return wiggly_line(c + offset * n - reach * u, c + offset * n + reach * u, rng, amp, step)


def cut_faces(region: Geom, lines: Sequence[LineString]) -> list[Polygon]:
    """Faces of the region cut by the lines."""
    noded = shapely.union_all([region.boundary, *lines])
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    shapely.prepare(region)
    return [f for f in polys if region.contains(f.representative_point())]


def frame_bounds(region: Geom, theta: float) -> tuple[float, float, float, float]:
    """Bounds of the region in a frame rotated by -theta about its centroid."""
    return affinity.rotate(region, -theta, origin=region.centroid).bounds


def parallel_lines(
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
        lines.append(wiggly_line(a, b, rng, amp, max(100.0, spacing / 2)))
    return lines, pos


def street_grid(
    rng: np.random.Generator,
    region: Geom,
    spacing: float,
    main_spacing: float,
    theta: float,
    amp: float,
) -> tuple[list[LineString], list[LineString]]:
    """Streets on a rotated grid; those nearest even fractions of the extent are main roads."""
    c = region.centroid
    fx0, fy0, fx1, fy1 = frame_bounds(region, theta)
    streets: list[LineString] = []
    mains: list[LineString] = []
    for axis, lo, hi, across in (
        (0, fx0, fx1, (fy0 - 60, fy1 + 60)),
        (1, fy0, fy1, (fx0 - 60, fx1 + 60)),
    ):
        lines, pos = parallel_lines(rng, lo, hi, across, spacing, axis, amp)
        n_main = min(int((hi - lo) // main_spacing), len(lines) // 2)
        picks = {
            int(np.argmin(np.abs(np.array(pos) - (lo + (hi - lo) * (j + 1) / (n_main + 1)))))
            for j in range(n_main)
        }
        for i, ln in enumerate(lines):
            (mains if i in picks else streets).append(affinity.rotate(ln, theta, origin=c))
    return streets, mains
