"""Seeded water and parks for the synthetic demo district: a river, a lake and two parks.

Drawn in the district's affine metre frame like everything in `wangge.synthetic`, with a
random generator of their own (seed + 29): the divisions, grids, points and cases the seed
already makes stay exactly as they were.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from wangge.synthetic import SyntheticDistrict

RIVER_HALF_WIDTH_M = 32.0
LAKE_RADIUS_M = 260.0


def make_water(
    district: SyntheticDistrict, *, seed: int
) -> tuple[list[tuple[str, BaseGeometry]], list[tuple[str, BaseGeometry]]]:
    """Return (water, parks) as (name, EPSG:4490 polygon) lists."""
    rng = np.random.default_rng(seed + 29)
    outline = district.outline_m
    xmin, ymin, xmax, ymax = outline.bounds
    # The river crosses the district west → east, meandering, in its middle band.
    y0 = ymin + (ymax - ymin) * float(rng.uniform(0.35, 0.65))
    xs = np.linspace(xmin - 1500, xmax + 1500, 240)
    phase = rng.uniform(0, 2 * math.pi, size=2)
    ys = y0 + 380 * np.sin(xs / 1900 + phase[0]) + 140 * np.sin(xs / 610 + phase[1])
    river_line = LineString(np.column_stack([xs, ys]))
    around = outline.buffer(1200)
    river = river_line.buffer(RIVER_HALF_WIDTH_M, quad_segs=4).intersection(around)
    # A lake with a park around it, away from the river, inside the district.
    lake_at = _spot(outline, rng, away=river, gap=LAKE_RADIUS_M + 500)
    lake = _blob(lake_at, LAKE_RADIUS_M, rng)
    lake_park = lake.buffer(170).difference(lake)
    park_at = _spot(outline, rng, away=river.union(lake_park), gap=600)
    park = _blob(park_at, 230, rng)
    riverside = (
        river_line.buffer(RIVER_HALF_WIDTH_M + 45).difference(river.buffer(1)).intersection(outline)
    )
    to_deg = district.frame.to_deg
    water = [("清水河", to_deg(river)), ("翠湖", to_deg(lake))]
    parks = [
        ("翠湖公园", to_deg(lake_park)),
        ("滨河绿带", to_deg(riverside)),
        ("市民公园", to_deg(park)),
    ]
    return water, parks


def _spot(
    region: BaseGeometry, rng: np.random.Generator, *, away: BaseGeometry, gap: float
) -> Point:
    """A random point of the region at least `gap` metres from `away` (else the farthest tried)."""
    inner: BaseGeometry = region.buffer(-gap)
    if inner.is_empty:
        inner = region
    xmin, ymin, xmax, ymax = inner.bounds
    best, best_d = None, -1.0
    for _ in range(200):
        p = Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        if not inner.contains(p):
            continue
        d = p.distance(away)
        if d >= gap:
            return p
        if d > best_d:
            best, best_d = p, d
    return best or region.representative_point()


def _blob(at: Point, radius: float, rng: np.random.Generator) -> BaseGeometry:
    """An irregular round shape (a lake, a park) of about the given radius."""
    theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    r = radius * (1 + 0.18 * np.sin(2 * theta + rng.uniform(0, 6)) + 0.1 * np.sin(3 * theta))
    return shapely.Polygon(np.column_stack([at.x + r * np.cos(theta), at.y + r * np.sin(theta)]))
