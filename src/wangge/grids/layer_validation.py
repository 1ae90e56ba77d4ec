"""Layer validation: child grids checked against each other and their parent (invalid
geometries, parts outside the parent, gaps, overlaps, slivers).

Pure geometry: inputs in CGCS2000 lon/lat (EPSG:4490), areas measured in a local metre frame.
No database, no web, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from wangge.grids.geometry import GRID_SIZE_DEG, GeomArray, LocalFrame, areal_parts, pp_metric


@dataclass(frozen=True)
class Problem:
    """One finding of `validate_layer`; location is (lon, lat), area in m² when it has one."""

    kind: str
    keys: tuple[str, ...]
    location: tuple[float, float] | None
    area_m2: float | None
    message_zh: str
    message_en: str


# GEOS reasons look like "Self-intersection[116.3 39.9]" or "Ring Self-intersection[x y]".
_REASON_AT = re.compile(r"^(?P<what>[^\[]*)\[(?P<x>[-+0-9.eE]+) (?P<y>[-+0-9.eE]+)")


def _parse_reason(reason: str) -> tuple[str, tuple[float, float] | None]:
    m = _REASON_AT.match(reason)
    if not m:
        return reason, None
    return m["what"].strip(), (float(m["x"]), float(m["y"]))


def _invalid(key: str, geom: Any) -> Problem | None:
    """A Problem when `geom` is not a valid, non-empty areal geometry."""
    if not isinstance(geom, BaseGeometry) or geom.is_empty or not areal_parts(geom):
        kind = type(geom).__name__ if not isinstance(geom, BaseGeometry) else geom.geom_type
        return Problem(
            "invalid_geometry",
            (key,),
            None,
            None,
            f"网格 {key} 不是有效的面几何（{kind}，或为空）",
            f"grid {key} is not an areal geometry ({kind}, or empty)",
        )
    if shapely.is_valid(geom):
        return None
    what, at = _parse_reason(str(shapely.is_valid_reason(geom)))
    where = f" @ {at[0]:.6f},{at[1]:.6f}" if at else ""
    return Problem(
        "invalid_geometry",
        (key,),
        at,
        None,
        f"网格 {key} 几何无效：{what}{where}",
        f"grid {key} has an invalid geometry: {what}{where}",
    )


@dataclass(frozen=True)
class _Layer:
    """The valid children of a layer in lon/lat, measured in one local metre frame."""

    keys: list[str]
    lonlat: GeomArray
    frame: LocalFrame
    tree: shapely.STRtree

    @classmethod
    def of(cls, keys: list[str], good: list[BaseGeometry], parent: BaseGeometry | None) -> _Layer:
        lonlat = np.asarray(good, dtype=object)
        # Areas in a local affine frame: it keeps lon/lat edges straight, so a 1 mm sliver
        # between two edges stays a 1 mm sliver (a projection bends long edges apart).
        b = shapely.total_bounds(
            lonlat if parent is None else np.append(lonlat, np.array([parent], dtype=object))
        )
        frame = LocalFrame.at(0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3]))
        return cls(keys, lonlat, frame, shapely.STRtree(lonlat))

    def m2(self, pieces: GeomArray) -> NDArray[np.float64]:
        """Areas of lon/lat pieces in m²."""
        return shapely.area(self.frame.forward(pieces)) if len(pieces) else np.zeros(0)


def _where(pieces: GeomArray) -> list[tuple[float, float]]:
    """A point on the surface of each piece, as (lon, lat)."""
    pts = shapely.point_on_surface(pieces)
    return [
        (float(x), float(y)) for x, y in zip(shapely.get_x(pts), shapely.get_y(pts), strict=True)
    ]


def _valid_children(
    children: Mapping[str, BaseGeometry], parent: BaseGeometry | None
) -> tuple[list[Problem], list[str], list[BaseGeometry], BaseGeometry | None]:
    """Problems of invalid children and parent; the valid children and the parent if valid."""
    problems: list[Problem] = []
    keys: list[str] = []
    good: list[BaseGeometry] = []
    for key, geom in children.items():
        bad = _invalid(key, geom)
        if bad:
            problems.append(bad)
        else:
            keys.append(key)
            good.append(geom)
    if parent is not None and (bad := _invalid("parent", parent)) is not None:
        problems.append(
            Problem(
                "invalid_geometry",
                (),
                bad.location,
                None,
                bad.message_zh.replace("网格 parent ", "上级边界"),
                bad.message_en.replace("grid parent", "the parent boundary"),
            )
        )
        parent = None
    return problems, keys, good, parent


def _outside(layer: _Layer, parent: BaseGeometry, tolerance_m2: float) -> list[Problem]:
    """Children reaching outside the parent by more than the tolerance."""
    problems = []
    out_idx = np.flatnonzero(~shapely.covers(parent, layer.lonlat))
    outside = shapely.difference(layer.lonlat[out_idx], parent, grid_size=GRID_SIZE_DEG)
    out_area = layer.m2(outside)
    big = out_area > tolerance_m2
    for i, a, loc in zip(out_idx[big], out_area[big], _where(outside[big]), strict=True):
        k = layer.keys[i]
        problems.append(
            Problem(
                "outside_parent",
                (k,),
                loc,
                float(a),
                f"网格 {k} 有 {a:.1f} 平方米超出上级边界",
                f"grid {k} has {a:.1f} m² outside its parent boundary",
            )
        )
    return problems


def _gaps(layer: _Layer, parent: BaseGeometry, tolerance_m2: float) -> list[Problem]:
    """Parts of the parent, larger than the tolerance, that no child covers."""
    problems = []
    covered = shapely.union_all(layer.lonlat, grid_size=GRID_SIZE_DEG)
    gaps = shapely.get_parts(shapely.difference(parent, covered, grid_size=GRID_SIZE_DEG))
    gap_area = layer.m2(gaps)
    gaps, gap_area = gaps[gap_area > tolerance_m2], gap_area[gap_area > tolerance_m2]
    for gap, a, loc in zip(gaps, gap_area, _where(gaps), strict=True):
        near = layer.tree.query(gap, predicate="dwithin", distance=1e-7)
        names = tuple(sorted(layer.keys[i] for i in near))
        problems.append(
            Problem(
                "gap",
                names,
                loc,
                float(a),
                f"上级范围内有 {a:.1f} 平方米未被任何网格覆盖"
                f"（相邻网格：{'、'.join(names) or '无'}）",
                f"{a:.1f} m² of the parent is covered by no grid "
                f"(next to: {', '.join(names) or 'none'})",
            )
        )
    return problems


def _overlaps(layer: _Layer, tolerance_m2: float) -> list[Problem]:
    """Pairs of children overlapping by more than the tolerance."""
    problems = []
    # STRtree candidate pairs, each unordered pair once.
    lonlat = layer.lonlat
    a_idx, b_idx = layer.tree.query(lonlat, predicate="intersects")
    pair = a_idx < b_idx
    a_idx, b_idx = a_idx[pair], b_idx[pair]
    inter = shapely.intersection(lonlat[a_idx], lonlat[b_idx], grid_size=GRID_SIZE_DEG)
    inter_area = layer.m2(inter)
    big = inter_area > tolerance_m2
    for i, j, a, loc in zip(
        a_idx[big], b_idx[big], inter_area[big], _where(inter[big]), strict=True
    ):
        ki, kj = layer.keys[i], layer.keys[j]
        problems.append(
            Problem(
                "overlap",
                (ki, kj),
                loc,
                float(a),
                f"网格 {ki} 与 {kj} 重叠 {a:.1f} 平方米",
                f"grids {ki} and {kj} overlap by {a:.1f} m²",
            )
        )
    return problems


def _slivers(layer: _Layer, sliver_area_m2: float, sliver_thinness: float) -> list[Problem]:
    """Children too small or too thin."""
    problems = []
    geoms = layer.frame.forward(layer.lonlat)
    area = shapely.area(geoms)
    pp = pp_metric(geoms)
    thin = np.flatnonzero((area < sliver_area_m2) | (pp < sliver_thinness))
    for i, loc in zip(thin, _where(layer.lonlat[thin]), strict=True):
        k = layer.keys[i]
        problems.append(
            Problem(
                "sliver",
                (k,),
                loc,
                float(area[i]),
                f"网格 {k} 是碎片：面积 {area[i]:.1f} 平方米，紧凑度 {pp[i]:.3f}",
                f"grid {k} is a sliver: {area[i]:.1f} m², Polsby-Popper {pp[i]:.3f}",
            )
        )
    return problems


def validate_layer(
    parent: BaseGeometry | None,
    children: Mapping[str, BaseGeometry],
    *,
    sliver_area_m2: float = 100.0,
    sliver_thinness: float = 0.1,
    tolerance_m2: float = 1.0,
) -> list[Problem]:
    """Check a layer of child grids against each other and their parent; [] when clean.

    Kinds: invalid_geometry, outside_parent, gap, overlap, sliver. Invalid children are
    reported and left out of the other checks. Default thinness 0.1 flags shapes longer
    than about 1:30; a square scores 0.785. `parent=None` skips the gap/outside checks.
    """
    problems, keys, good, parent = _valid_children(children, parent)
    if not good:
        return problems
    # Overlays run in lon/lat, the stored CRS, where edges are straight exactly as in
    # PostGIS: projecting first would bend the parallels and turn a shared edge with an
    # extra vertex into phantom slivers. Only the resulting pieces are measured in metres.
    # Snap-rounding to 1e-8° (about 1 mm) absorbs T-junction noise: a vertex of one grid
    # lying on its neighbour's edge is never exactly on it after a projection.
    layer = _Layer.of(keys, good, parent)
    if parent is not None:
        shapely.prepare(parent)
        problems += _outside(layer, parent, tolerance_m2)
        problems += _gaps(layer, parent, tolerance_m2)
    problems += _overlaps(layer, tolerance_m2)
    problems += _slivers(layer, sliver_area_m2, sliver_thinness)
    return problems
