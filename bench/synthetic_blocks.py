"""Seeded synthetic street-office district for the grid-division benchmark (metres, local CRS).

An irregular ~16 km² district cut by wiggly roads and a river into uneven blocks, split into
communities along four main roads, with ~3,000 buildings (~60,000 households: houses of 1-2
households and apartment blocks of 20-190) and exclusive sites (schools, hospital, enterprises,
park). ``tiled(3)`` repeats nine differently seeded districts side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import LineString, Point, Polygon, affinity

from wangge.grids.partition import Building, DivisionInput

SITE_KINDS = [
    ("school", 200, 150),
    ("school", 180, 160),
    ("school", 220, 140),
    ("hospital", 260, 200),
    ("enterprise", 320, 220),
    ("enterprise", 280, 200),
    ("park", 360, 260),
]


@dataclass
class District:
    """A generated district: communities to divide plus the layers used for scoring."""

    inputs: list[DivisionInput]
    boundary: Polygon
    roads: list[LineString]
    sites: list[Polygon]


def _wiggly(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, amp: float) -> LineString:
    """A road from a to b with small random bends every ~400 m."""
    n = max(2, int(np.linalg.norm(b - a) // 400) + 1)
    t = np.linspace(0, 1, n + 1)
    pts = a[None, :] + t[:, None] * (b - a)[None, :]
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
    pts[1:-1] += normal[None, :] * rng.uniform(-amp, amp, size=(n - 1, 1))
    return LineString(pts)


def make_district(
    seed: int = 0,
    origin: tuple[float, float] = (0.0, 0.0),
    spacing: tuple[float, float] = (600.0, 1200.0),
) -> District:
    """Generate one district (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    cx, cy = origin[0] + 2600.0, origin[1] + 2600.0
    th = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    r = 2257 * (
        1 + 0.10 * np.sin(3 * th + p1) + 0.06 * np.sin(5 * th + p2) + rng.normal(0, 0.015, th.size)
    )
    boundary = Polygon(np.c_[cx + r * np.cos(th), cy + r * np.sin(th)])
    boundary = affinity.scale(boundary, *(math.sqrt(16e6 / boundary.area),) * 2)
    x0, y0, x1, y1 = boundary.bounds
    roads: list[LineString] = []
    main: list[LineString] = []
    for axis in (0, 1):
        lo, hi = (x0, x1) if axis == 0 else (y0, y1)
        pos = lo + rng.uniform(300, 600)
        positions = []
        while pos < hi - 250:
            positions.append(pos)
            pos += rng.uniform(*spacing)
        for p in positions:
            skew = rng.uniform(-120, 120)
            if axis == 0:
                a, b = np.array([p - skew, y0 - 50]), np.array([p + skew, y1 + 50])
            else:
                a, b = np.array([x0 - 50, p - skew]), np.array([x1 + 50, p + skew])
            roads.append(_wiggly(a, b, rng, 40))
        # Two roads per axis near the thirds are the main roads that bound the communities.
        thirds = [lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3]
        idx = [int(np.argmin([abs(p - t) for p in positions])) for t in thirds]
        main += [roads[len(roads) - len(positions) + i] for i in sorted(set(idx))]
    river = _wiggly(
        np.array([x0 - 50, cy + rng.uniform(-1500, -800)]),
        np.array([x1 + 50, cy + rng.uniform(800, 1500)]),
        rng,
        150,
    )
    roads.append(river)
    minor = [r_ for r_ in roads if all(r_ is not m for m in main)]
    comm_faces = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.union_all([boundary.boundary, *main])))
    )
    communities = [f for f in comm_faces if boundary.contains(f.representative_point())]
    all_blocks = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.union_all([boundary.boundary, *roads])))
    )
    blocks = [f for f in all_blocks if boundary.contains(f.representative_point())]
    kinds = rng.choice(["houses", "apartments", "mixed"], size=len(blocks), p=[0.25, 0.45, 0.3])
    # Exclusive sites: placed away from community boundaries, may straddle a minor road.
    sites: list[Polygon] = []
    main_union = shapely.union_all(main)
    tries = 0
    for _kind, w, h in SITE_KINDS:
        while tries < 500:
            tries += 1
            c = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            rect = shapely.box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)
            s = affinity.rotate(rect, rng.uniform(-20, 20))
            if (
                boundary.buffer(-50).contains(s)
                and not s.intersects(main_union.buffer(30))
                and not any(s.buffer(40).intersects(o) for o in sites)
            ):
                sites.append(s)
                break
    # Buildings on a jittered lattice, kept off the roads, with a per-block household mix.
    step = 68.0
    gx, gy = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    xy = np.c_[gx.ravel(), gy.ravel()] + rng.uniform(-14, 14, size=(gx.size, 2))
    pts = shapely.points(xy)
    keep = shapely.contains(boundary, pts)
    roads_buf = shapely.union_all([r_.buffer(12) for r_ in roads])
    keep &= ~shapely.intersects(roads_buf, pts)
    for s in sites:
        keep &= ~shapely.intersects(s, pts)
    xy, pts = xy[keep], pts[keep]
    block_tree = shapely.STRtree(blocks)
    bi = block_tree.query(pts, predicate="intersects")
    block_of = np.zeros(len(pts), dtype=int)
    block_of[bi[0]] = bi[1]
    blds: list[tuple[Point, int, int, bool]] = []
    for i, p in enumerate(pts):
        kind = kinds[block_of[i]]
        house = kind == "houses" or (kind == "mixed" and rng.random() < 0.5)
        hh = int(rng.integers(1, 3)) if house else int(min(190, 20 + rng.exponential(12.5)))
        blds.append((p, hh, round(hh * rng.uniform(2.2, 3.0)), False))
    for s in sites:  # a few buildings inside each site, with no households
        for _ in range(int(rng.integers(1, 4))):
            blds.append(
                (Point(np.array(s.centroid.coords[0]) + rng.uniform(-30, 30, 2)), 0, 0, False)
            )
    inputs = []
    for ci, comm in enumerate(communities):
        shapely.prepare(comm)
        own = [(j, b) for j, b in enumerate(blds) if comm.intersects(b[0])]
        inputs.append(
            DivisionInput(
                community_key=f"S{seed:02d}C{ci:02d}",
                boundary=comm,
                buildings=[
                    Building(f"S{seed:02d}B{j:05d}", b[0], b[1], b[2], float(b[1] + 0.1 * b[2]))
                    for j, b in own
                ],
                lines=[ln for ln in minor if ln.intersects(comm)],
                exclusive_sites=[s for s in sites if s.intersects(comm)],
            )
        )
    return District(inputs, boundary, roads, sites)


def tiled(
    n: int = 3, seed: int = 0, spacing: tuple[float, float] = (600.0, 1200.0)
) -> list[District]:
    """n×n districts side by side, each with its own seed."""
    return [
        make_district(seed * 100 + i * n + j, (i * 5600.0, j * 5600.0), spacing)
        for i in range(n)
        for j in range(n)
    ]
