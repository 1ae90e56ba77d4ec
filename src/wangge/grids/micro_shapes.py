"""Micro grids (微网格) drawn from buildings: one per building or per group of neighbours. PURE.

利津's 一网多层 puts a lane or a building between the grid and its households. Given the
parent grid and the buildings in it (points or footprints, lon/lat), this returns the shapes:
- "building": each building's footprint widened by `margin_m` (its yard and entrance);
- "group": buildings closer than `gap_m` join one micro grid (their footprints widened by
  gap/2 touch), drawn as the hull of the group widened by `margin_m`, so the lane between
  them is inside.
Shapes never overlap (a later shape loses what an earlier one holds) and are clipped to the
parent; work is in local metres (an equirectangular frame at the parent's centre: a grid is a
few hundred metres across, where its error is far below a metre).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

MODES = ("building", "group")
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
MIN_AREA_M2 = 1.0  # smaller leftovers are clipping noise, not a micro grid


@dataclass(frozen=True)
class MicroShape:
    """One micro grid to draw: its shape (lon/lat) and the buildings it holds (indexes)."""

    geom: MultiPolygon
    members: tuple[int, ...]


def micro_shapes(
    parent: BaseGeometry,
    buildings: Sequence[BaseGeometry],
    *,
    mode: str = "building",
    margin_m: float = 5.0,
    gap_m: float = 30.0,
) -> list[MicroShape]:
    """Return the micro grids of `buildings` inside `parent` (buildings outside are skipped)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if margin_m <= 0 or gap_m <= 0:
        raise ValueError("margin_m and gap_m must be positive")
    centre = parent.centroid
    sx = _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(centre.y))
    sy = _M_PER_DEG_LAT

    def to_m(g: BaseGeometry) -> BaseGeometry:
        return affinity.affine_transform(g, [sx, 0, 0, sy, -centre.x * sx, -centre.y * sy])

    def to_deg(g: BaseGeometry) -> BaseGeometry:
        return affinity.affine_transform(g, [1 / sx, 0, 0, 1 / sy, centre.x, centre.y])

    area = to_m(parent)
    inside = [i for i, b in enumerate(buildings) if b is not None and area.intersects(to_m(b))]
    feet = [to_m(buildings[i]) for i in inside]
    pieces: list[tuple[BaseGeometry, tuple[int, ...]]]
    if mode == "building":
        pieces = [
            (f.buffer(margin_m, join_style="mitre"), (i,))
            for f, i in zip(feet, inside, strict=True)
        ]
    else:
        pieces = _groups(feet, inside, margin_m, gap_m)
    out: list[MicroShape] = []
    taken: BaseGeometry = Polygon()
    for shape, members in pieces:
        piece = shape.intersection(area).difference(taken)
        polys = [p for p in _polygons(piece) if p.area >= MIN_AREA_M2]
        if not polys:
            continue
        piece = MultiPolygon(polys)
        taken = taken.union(piece)
        geom = to_deg(piece)
        out.append(MicroShape(MultiPolygon(_polygons(shapely.make_valid(geom))), members))
    return out


def _groups(
    feet: list[BaseGeometry], inside: list[int], margin_m: float, gap_m: float
) -> list[tuple[BaseGeometry, tuple[int, ...]]]:
    """Cluster footprints closer than gap_m and draw each cluster as a closing of them."""
    if not feet:
        return []
    half = gap_m / 2
    wide = shapely.union_all([f.buffer(half, join_style="mitre") for f in feet])
    parts = _polygons(wide)
    tree = shapely.STRtree(parts)
    members: dict[int, list[int]] = {}
    for f, i in zip(feet, inside, strict=True):
        hits = tree.query(f.representative_point(), predicate="intersects")
        members.setdefault(int(hits[0]) if len(hits) else -1, []).append(i)
    out = []
    for k, part in enumerate(parts):
        if k not in members:
            continue
        # The members' hull (the lanes between them) widened by the margin, kept inside the
        # cluster's own dilated region, which no other cluster reaches.
        own = shapely.union_all([feet[inside.index(i)] for i in members[k]])
        hull = own.convex_hull.buffer(margin_m, join_style="mitre").intersection(part)
        out.append((shapely.union_all([hull, own.buffer(margin_m, join_style="mitre")]),
                    tuple(members[k])))  # fmt: skip
    return out


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [p for g in getattr(geom, "geoms", []) for p in _polygons(g)]
