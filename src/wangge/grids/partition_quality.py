"""Quality measures for a grid division: balance, compactness, line crossings and contiguity.

Pure geometry (shapely 2); all coordinates are in a metric CRS (metres), projected by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import shapely
from shapely import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

Measure = Literal["households", "residents", "weight"]

# A line counts as crossing a grid only if more than this many metres of it run inside the grid;
# shorter pieces are snapping noise where a grid boundary follows the line.
CROSSING_MIN_LENGTH_M = 1.0
# Polygon parts smaller than this (m²) are floating-point slivers, not real pieces of a grid.
SLIVER_AREA_M2 = 1e-3


@dataclass(frozen=True)
class Unmet:
    """A grid that cannot meet the tolerance, with the reason in Chinese and English."""

    community_key: str
    sequence: int
    value: float
    reason_zh: str
    reason_en: str
    # What stands in the way: "empty_area", "empty", "building", "community", "area",
    # "detached" (the input admits no grid within the tolerance here) or "split" (the method
    # found none although the totals allow it).
    kind: str = "split"

    @property
    def excused(self) -> bool:
        """Whether the input itself (not the method) rules out a grid within the tolerance."""
        return self.kind in {"empty_area", "building", "community", "area", "detached"}


@dataclass(frozen=True)
class GridQuality:
    """Quality figures of one grid."""

    community_key: str
    sequence: int
    exclusive: bool
    buildings: int
    households: int
    residents: int
    weight: float
    value: float
    deviation: float  # value / target - 1
    within_tolerance: bool
    polsby_popper: float
    line_crossings: int
    contiguous: bool
    parts: int
    barrier_crossings: int = 0  # barriers (main roads, rivers …) through the grid: must be 0


@dataclass
class QualityReport:
    """Per-grid quality plus totals and the grids that cannot meet the tolerance."""

    target: float
    measure: Measure
    tolerance: float
    grids: list[GridQuality] = field(default_factory=list)
    unmet: list[Unmet] = field(default_factory=list)

    @property
    def basic(self) -> list[GridQuality]:
        """Grids subject to the tolerance (exclusive grids are exempt)."""
        return [g for g in self.grids if not g.exclusive]

    @property
    def share_within(self) -> float:
        """Share of basic grids within the tolerance."""
        basic = self.basic
        return sum(g.within_tolerance for g in basic) / len(basic) if basic else 1.0

    @property
    def share_within_allowed(self) -> float:
        """Share within the tolerance of the basic grids the input allows to be (see Unmet)."""
        excused = sum(u.excused for u in self.unmet)
        allowed = len(self.basic) - excused
        return (allowed - (len(self.unmet) - excused)) / allowed if allowed > 0 else 1.0

    @property
    def multi_part(self) -> int:
        """Number of grids made of more than one polygon."""
        return sum(not g.contiguous for g in self.grids)

    @property
    def crossing_grids(self) -> int:
        """Number of basic grids that a line runs through."""
        return sum(g.line_crossings > 0 for g in self.basic)

    @property
    def barrier_grids(self) -> int:
        """Number of grids that a barrier runs through (the method never makes one)."""
        return sum(g.barrier_crossings > 0 for g in self.grids)

    @property
    def pp_mean(self) -> float:
        """Mean Polsby-Popper compactness of all grids."""
        return sum(g.polsby_popper for g in self.grids) / max(1, len(self.grids))

    @property
    def pp_min(self) -> float:
        """Minimum Polsby-Popper compactness of all grids."""
        return min((g.polsby_popper for g in self.grids), default=0.0)

    def totals(self) -> dict[str, float]:
        """Summary figures over all grids."""
        devs = [g.deviation for g in self.basic] or [0.0]
        mean = sum(devs) / len(devs)
        return {
            "grids": len(self.grids),
            "exclusive": sum(g.exclusive for g in self.grids),
            "households": sum(g.households for g in self.grids),
            "residents": sum(g.residents for g in self.grids),
            "weight": sum(g.weight for g in self.grids),
            "share_within": self.share_within,
            "share_within_allowed": self.share_within_allowed,
            "dev_min": min(devs),
            "dev_max": max(devs),
            "dev_std": math.sqrt(sum((d - mean) ** 2 for d in devs) / len(devs)),
            "multi_part": self.multi_part,
            "crossing_grids": self.crossing_grids,
            "barrier_grids": self.barrier_grids,
            "pp_mean": self.pp_mean,
            "pp_min": self.pp_min,
            "unmet": len(self.unmet),
        }


def polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    """Polygon parts of a geometry larger than a floating-point sliver."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom] if geom.area > SLIVER_AREA_M2 else []
    out: list[Polygon] = []
    for g in getattr(geom, "geoms", []):
        out.extend(polygon_parts(g))
    return out


def clean(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """Drop sliver parts and sliver holes so that contiguity tests see real pieces only."""
    parts = []
    for p in polygon_parts(geom):
        holes = [r for r in p.interiors if Polygon(r).area > SLIVER_AREA_M2]
        parts.append(Polygon(p.exterior, holes) if len(holes) != len(p.interiors) else p)
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def polsby_popper(geom: BaseGeometry) -> float:
    """Polsby-Popper compactness 4πA/P² (1 for a disc, → 0 for slivers)."""
    if geom.is_empty or geom.length == 0:
        return 0.0
    return 4 * math.pi * geom.area / geom.length**2


def line_crossings(geom: BaseGeometry, lines: Sequence[LineString]) -> int:
    """Number of lines that run through the interior of a grid, not just along its edge."""
    if not lines or geom.is_empty:
        return 0
    # Shrinking by half a metre removes the boundary, so lines that follow an edge do not count.
    inner = geom.buffer(-0.5, quad_segs=1)
    if inner.is_empty:
        return 0
    shapely.prepare(inner)
    return sum(
        1
        for ln in lines
        if inner.intersects(ln) and ln.intersection(inner).length > CROSSING_MIN_LENGTH_M
    )


def feasible_total(total: float, lo: float, hi: float) -> bool:
    """Whether a total can be split into some number of parts that all lie in [lo, hi]."""
    if total <= 0:
        return True
    kmin, kmax = max(1, math.ceil(total / hi - 1e-9)), math.floor(total / lo + 1e-9)
    return kmin <= kmax


def _grids(n: int) -> str:
    return f"{n} grid" if n == 1 else f"{n} grids"


def tolerance_band(target: float, tolerance: float) -> tuple[float, float]:
    """Lowest and highest value allowed for a basic grid."""
    return target * (1 - tolerance), target * (1 + tolerance)


_Row = tuple[str, int, bool, Polygon | MultiPolygon, int, int, int, float, float]


def _grid_quality(
    row: _Row,
    target: float,
    band: tuple[float, float],
    lines: Sequence[LineString],
    barriers: Sequence[LineString],
) -> GridQuality:
    """Quality figures of one grid from its row."""
    ck, seq, excl, poly, n, hh, res, w, value = row
    lo, hi = band
    parts = polygon_parts(poly)
    return GridQuality(
        community_key=ck,
        sequence=seq,
        exclusive=excl,
        buildings=n,
        households=hh,
        residents=res,
        weight=w,
        value=value,
        deviation=value / target - 1 if target else 0.0,
        within_tolerance=excl or lo - 1e-9 <= value <= hi + 1e-9,
        polsby_popper=polsby_popper(poly),
        line_crossings=line_crossings(poly, lines),
        contiguous=len(parts) == 1,
        parts=len(parts),
        barrier_crossings=line_crossings(poly, barriers),
    )


def _area_reason(
    area: float, has_areas: bool, measure: Measure, lo: float, hi: float
) -> tuple[str, str]:
    """Why the total of an area (or community) admits no count of grids within the band."""
    n_lo = max(1, math.floor(area / hi))
    where_zh = "所在片区（社区内被不可跨越线分隔的部分）" if has_areas else "社区"
    where_en = "the area between barriers" if has_areas else "the whole community"
    zh = (
        f"{where_zh}合计{area:g}（{measure}），分成{n_lo}格平均{area / n_lo:.0f}，"
        f"分成{n_lo + 1}格平均{area / (n_lo + 1):.0f}，都不在{lo:g}–{hi:g}之内"
    )
    en = (
        f"{where_en} holds {area:g} {measure}: {_grids(n_lo)} average "
        f"{area / n_lo:.0f}, {_grids(n_lo + 1)} {area / (n_lo + 1):.0f}, neither "
        f"within {lo:g}–{hi:g}"
    )
    return zh, en


@dataclass(frozen=True)
class _Setting:
    """What an unmet grid is judged against: its totals and the band."""

    measure: Measure
    lo: float
    hi: float
    comm_total: float  # the community's basic grids
    area: float  # the area between barriers the grid lies in (else the community)
    has_areas: bool
    big: float  # the largest building (point) of the grid
    touching: bool  # whether a basic grid of the community shares an edge with it


def _unmet(ck: str, seq: int, n: int, value: float, s: _Setting) -> Unmet:
    """A grid out of the band, with the reason the input gives (or "split" where none)."""
    measure, lo, hi, area = s.measure, s.lo, s.hi, s.area
    kind = "split"
    if n == 0 and area <= 0:
        kind = "empty_area"
        zh = "所在片区被不可跨越线（主干道、河流等）围住，片区内没有建筑"
        en = "the area between barriers holds no buildings (open land or water)"
    elif n == 0:
        kind = "empty"
        zh = "网格内没有建筑（空地、绿地或水面）"
        en = "no buildings in the grid (open land, green or water)"
    elif value > hi and s.big > hi:
        kind = "building"
        zh = f"单栋建筑（或同一地址点的建筑）有{s.big:g}（{measure}），超过目标上限{hi:g}，不可拆分"
        en = (
            f"a single building (or buildings at one address point) holds {s.big:g} "
            f"{measure}, above the upper limit {hi:g}"
        )
    elif s.comm_total < lo:
        kind = "community"
        zh = f"社区合计仅{s.comm_total:g}（{measure}），低于目标下限{lo:g}，只能划为一个网格"
        en = f"the whole community holds only {s.comm_total:g} {measure}, below {lo:g}"
    elif not feasible_total(area, lo, hi):
        kind = "area"
        zh, en = _area_reason(area, s.has_areas, measure, lo, hi)
    elif not s.touching:
        kind = "detached"
        zh = f"社区的独立部分（飞地）仅有{value:g}，无法与其他网格连片"
        en = f"a detached part of the community holds {value:g}; it cannot join another grid"
    else:
        zh = "受道路/河流分隔和建筑户数粒度所限，无法在容差内连片划分"
        en = "lines and building sizes leave no contiguous split within the tolerance"
    return Unmet(ck, seq, value, zh, en, kind)


def build_report(
    rows: Sequence[_Row],
    *,
    target: float,
    measure: Measure,
    tolerance: float,
    lines: dict[str, list[LineString]],
    barriers: dict[str, list[LineString]] | None = None,
    largest_building: dict[tuple[str, int], float] | None = None,
    area_total: dict[tuple[str, int], float] | None = None,
) -> QualityReport:
    """Report from rows (community, seq, exclusive, polygon, n, hh, res, weight, value).

    ``area_total`` is, per grid, the total of the area between barriers that it lies in.
    """
    lo, hi = tolerance_band(target, tolerance)
    report = QualityReport(target=target, measure=measure, tolerance=tolerance)
    by_comm: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_comm.setdefault(r[0], []).append(i)
    polys = [r[3] for r in rows]
    tree = STRtree(polys)
    for row in rows:
        ck, seq, _, poly, n, _, _, _, value = row
        quality = _grid_quality(
            row, target, (lo, hi), lines.get(ck, []), (barriers or {}).get(ck, [])
        )
        report.grids.append(quality)
        if quality.within_tolerance:
            continue
        comm_total = sum(rows[j][8] for j in by_comm[ck] if not rows[j][2])
        touching = [
            j
            for j in tree.query(poly, predicate="intersects")
            if rows[j][0] == ck
            and rows[j][3] is not poly
            and not rows[j][2]
            and rows[j][3].intersection(poly).length > CROSSING_MIN_LENGTH_M
        ]
        setting = _Setting(
            measure,
            lo,
            hi,
            comm_total,
            area=(area_total or {}).get((ck, seq), comm_total),
            has_areas=(ck, seq) in (area_total or {}),
            big=(largest_building or {}).get((ck, seq), 0.0),
            touching=bool(touching),
        )
        report.unmet.append(_unmet(ck, seq, n, value, setting))
    return report
