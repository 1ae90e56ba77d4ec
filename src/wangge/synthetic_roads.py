"""Seeded named roads and house numbers (门牌) for the synthetic demo district.

The demo district has divisions and grids but no road network; an address needs one. Roads
are a slightly rotated street grid (东西向 …路, 南北向 …街, every third a 大街) clipped to the
district outline, drawn in the district's affine metre frame like everything else in
`wangge.synthetic`. Buildings take the number of their nearest road: odd on one side, even on
the other, growing along the road, as Chinese house numbering does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.synthetic import SyntheticDistrict

if TYPE_CHECKING:
    from numpy.typing import NDArray

_NAME_TEXT = (
    "幸福 建设 光明 和平 人民 友谊 团结 胜利 振兴 复兴 新华 文化 长春 青年 锦江 丰收 学府 七里 "
    "朝阳 永安 东风 红旗 向阳 育才 花园 滨河 春晖 迎宾 建国 民主 安定 百花 工农 解放 前进 北辰"
)
_NAMES = tuple(_NAME_TEXT.split())
ROAD_SPACING_M = 650.0
NUMBER_STEP_M = 12.0  # metres of frontage per house number
NUMBER_RADIUS_M = 250.0  # a building farther from every road keeps its registry address


def make_roads(district: SyntheticDistrict, *, seed: int) -> list[tuple[str, BaseGeometry]]:
    """Named roads (EPSG:4490 lines) crossing the district on a rotated street grid."""
    rng = np.random.default_rng(seed + 17)
    outline = district.outline_m
    cx, cy = outline.centroid.x, outline.centroid.y
    xmin, ymin, xmax, ymax = outline.bounds
    half = math.hypot(xmax - xmin, ymax - ymin) / 2 + ROAD_SPACING_M
    theta = float(rng.uniform(-0.12, 0.12))
    c, s = math.cos(theta), math.sin(theta)
    used: set[str] = set()
    roads: list[tuple[str, BaseGeometry]] = []
    for direction, suffix in ((0, "路"), (1, "街")):
        n = int(2 * half // ROAD_SPACING_M)
        for i in range(n + 1):
            off = -half + i * ROAD_SPACING_M + float(rng.uniform(-80, 80))
            a, b = (-half, off), (half, off)
            if direction == 1:
                a, b = (off, -half), (off, half)
            pts = [(cx + x * c - y * s, cy + x * s + y * c) for x, y in (a, b)]
            clipped = LineString(pts).intersection(outline)
            if clipped.is_empty or clipped.length < 200:
                continue
            name = _name(rng, used) + ("大" + suffix if suffix == "街" and i % 3 == 0 else suffix)
            roads.append((name, district.frame.to_deg(clipped)))
    return roads


def _name(rng: np.random.Generator, used: set[str]) -> str:
    free = [n for n in _NAMES if n not in used]
    if not free:  # a very large district: two names make a new one (幸福东路 would need sides)
        free = [a + b for a in _NAMES for b in _NAMES if a != b and a + b not in used]
    name = str(free[int(rng.integers(len(free)))])
    used.add(name)
    return name


def house_numbers(
    district: SyntheticDistrict,
    roads: list[tuple[str, BaseGeometry]],
    lon: np.ndarray,
    lat: np.ndarray,
) -> list[str | None]:
    """The house number (e.g. "幸福路37号") of each building point, None far from roads."""
    frame = district.frame
    lines = [frame.to_m(g) for _, g in roads]
    tree = STRtree(lines)
    kx, ky = frame.kx, frame.ky
    # Coordinate arrays give an array of points.
    pts = cast(
        "NDArray[np.object_]", shapely.points((lon - frame.lon0) * kx, (lat - frame.lat0) * ky)
    )
    taken: set[str] = set()
    out: list[str | None] = []
    for p in pts:
        idx = tree.query_nearest(p, max_distance=NUMBER_RADIUS_M)
        if len(idx) == 0:
            out.append(None)
            continue
        k = int(idx[0])
        line = lines[k]
        at = line.project(p)
        ahead = line.interpolate(min(at + 1.0, line.length))
        here = line.interpolate(at)
        # Left of the road's direction: odd numbers; right: even.
        cross = (ahead.x - here.x) * (p.y - here.y) - (ahead.y - here.y) * (p.x - here.x)
        number = 2 * int(at // NUMBER_STEP_M) + (1 if cross >= 0 else 2)
        while f"{roads[k][0]}{number}号" in taken:
            number += 2
        text = f"{roads[k][0]}{number}号"
        taken.add(text)
        out.append(text)
    return out
