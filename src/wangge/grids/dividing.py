"""Automatic division, rebalance, split and merge on stored communities → new draft versions.

The pure engine (`partition.py`) works in metres; we hand it each community in a local
affine frame (`LocalFrame`), which keeps lon/lat edges straight, so the grids mapped back
cover the stored community boundaries exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import shapely
from shapely import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.common.gisio import Feature, read_features
from wangge.divisions.codes import check_grid_code, grid_code, grid_sequence
from wangge.divisions.models import Division
from wangge.errors import ImportFailed, ValidationFailed
from wangge.grids.geometry import LocalFrame
from wangge.grids.line_roles import ClassedLines, classify, parse_overrides
from wangge.grids.lookup import GridIndex
from wangge.grids.models import GridVersion
from wangge.grids.partition import (
    Building,
    DivisionInput,
    DivisionPlan,
    divide,
    division_from_assignment,
    merge_grids,
    rebalance,
    split_grid,
)
from wangge.grids.partition_quality import Measure
from wangge.grids.service import GridIn, add_grids, get_version, new_version, version_grids

MEASURES = ("households", "residents", "weight")
MEASURE_ZH = {"households": "户", "residents": "人", "weight": "工作量"}
_TRUE = {"1", "true", "yes", "y", "是", "专属", "t"}
# Lines by role (barriers, preferred boundaries, lanes), or a plain list: preferred boundaries.
LinesIn = ClassedLines | Sequence[BaseGeometry]


@dataclass
class BuildingIn:
    """A building as read from a file, in lon/lat."""

    key: str
    geom: BaseGeometry
    households: int
    residents: int
    weight: float
    exclusive: bool


def read_buildings(path: Path, **read: Any) -> list[BuildingIn]:
    """Read buildings (points or footprints) with 户数/人口/权重/专属 columns; errors name the row."""
    return buildings_from_features(path, read_features(path, **read).features)


def features_from_geojson(
    name: str, collection: dict[str, Any] | None, crs: str | None = None
) -> list[Feature]:
    """Turn an inline GeoJSON FeatureCollection (API bodies) into checked features in EPSG:4490."""
    from shapely.geometry import shape

    from wangge.common.geo import parse_crs, to_canonical

    out = []
    for n, item in enumerate((collection or {}).get("features", []), 1):
        try:
            geom = shape(item["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ImportFailed(
                file=name,
                feature=n,
                field="geometry",
                reason_zh="几何缺失或格式错误",
                reason_en="geometry missing or malformed",
            ) from None
        if not geom.is_valid:
            raise ImportFailed(
                file=name,
                feature=n,
                field="geometry",
                reason_zh=f"几何无效：{shapely.is_valid_reason(geom)}",
                reason_en=f"invalid geometry: {shapely.is_valid_reason(geom)}",
            )
        if crs:
            geom = to_canonical(geom, parse_crs(crs))
        out.append(Feature(number=n, geometry=geom, properties=dict(item.get("properties") or {})))
    return out


def buildings_from_features(path: Path | str, features: Sequence[Feature]) -> list[BuildingIn]:
    """Turn features into buildings, naming the feature and field of any bad value."""
    path = Path(str(path))
    out = []
    for f in features:
        if f.geometry is None:  # read_features and features_from_geojson never give one
            raise ImportFailed(
                file=path.name,
                feature=f.number,
                field="geometry",
                reason_zh="缺少几何",
                reason_en="the geometry is missing",
            )
        out.append(
            BuildingIn(
                key=_text(f, ("key", "id", "编号", "楼栋编号", "name", "名称")) or str(f.number),
                geom=f.geometry,
                households=int(_number(path, f, ("households", "户数"), 0)),
                residents=int(_number(path, f, ("residents", "population", "人口", "居民数"), 0)),
                weight=float(_number(path, f, ("weight", "权重", "工作量"), 0.0)),
                exclusive=(_text(f, ("exclusive", "专属", "专属网格")) or "").lower() in _TRUE,
            )
        )
    keys = [b.key for b in out]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ImportFailed(
            file=path.name,
            field="key",
            reason_zh=f"楼栋编号 {dup} 重复",
            reason_en=f"building key {dup} appears twice",
        )
    return out


def _text(f: Feature, names: Sequence[str]) -> str | None:
    for name in names:
        value = f.properties.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _number(path: Path, f: Feature, names: Sequence[str], default: float) -> float:
    for name in names:
        value = f.properties.get(name)
        if value is None or str(value).strip() == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ImportFailed(
                file=path.name,
                feature=f.number,
                field=name,
                reason_zh=f"值 {value!r} 不是数字",
                reason_en=f"value {value!r} is not a number",
            ) from None
        if number < 0 or math.isnan(number):
            raise ImportFailed(
                file=path.name,
                feature=f.number,
                field=name,
                reason_zh=f"值 {value} 不能为负",
                reason_en=f"value {value} must not be negative",
            )
        return number
    return default


def read_lines(
    path: Path | None, line_roles: str | Mapping[str, str] | None = None, **read: Any
) -> ClassedLines:
    """Read a line layer (roads, rivers, walls) by role from its class column (`line_roles`).

    Polygons count by their outline; `line_roles` maps classes the table lacks ("巷道=crossable").
    """
    if path is None:
        parse_overrides(line_roles)  # a bad mapping is refused even without a layer
        return ClassedLines()
    return classify(path.name, read_features(path, **read).features, line_roles)


def read_sites(path: Path | None, **read: Any) -> list[BaseGeometry]:
    """Read exclusive sites (专属网格: school, hospital, market …) as polygons."""
    if path is None:
        return []
    sites = [f for f in read_features(path, **read).features]
    out: list[BaseGeometry] = []
    for f in sites:
        if f.geometry is None or f.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise ImportFailed(
                file=path.name,
                feature=f.number,
                field="geometry",
                reason_zh="专属网格范围必须是面",
                reason_en="exclusive sites must be polygons",
            )
        out.append(f.geometry)
    return out


def _communities(session: Session, county: str, codes: Sequence[str] | None) -> list[Division]:
    q = select(Division).where(Division.county_code == county, Division.level == "community")
    if codes:
        q = q.where(Division.code.in_(list(codes)))
    rows = [d for d in session.scalars(q.order_by(Division.code)) if d.geom is not None]
    if not rows:
        raise ValidationFailed(
            f"区县 {county} 下没有带边界的社区",
            f"county {county} has no communities with boundaries",
            code="no_communities",
        )
    return rows


def _frame(rows: Sequence[Division]) -> LocalFrame:
    b = shapely.total_bounds([r.geom for r in rows])
    return LocalFrame.at(0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3]))


def build_inputs(
    communities: Sequence[Division],
    frame: LocalFrame,
    buildings: Sequence[BuildingIn],
    lines: LinesIn,
    sites: Sequence[BaseGeometry],
) -> list[DivisionInput]:
    """Give each community its buildings, sites and lines by role (those touching it), in metres."""
    geoms: list[BaseGeometry] = []
    for row in communities:
        assert row.geom is not None  # rows come from _communities: only those with a boundary
        geoms.append(row.geom)
    tree = shapely.STRtree(geoms)
    spots = [
        b.geom if b.geom.geom_type == "Point" else b.geom.representative_point() for b in buildings
    ]
    idx_b, idx_c = (
        tree.query(spots, predicate="intersects") if spots else (np.array([]), np.array([]))
    )
    owner: dict[int, int] = {}
    for b, c in zip(idx_b.tolist(), idx_c.tolist(), strict=True):
        owner.setdefault(b, c)  # a building on a shared border goes to the first community
    per: dict[int, list[Building]] = {i: [] for i in range(len(communities))}
    for b, c in owner.items():
        src = buildings[b]
        per[c].append(
            Building(
                src.key,
                frame.forward(src.geom),
                src.households,
                src.residents,
                src.weight,
                src.exclusive,
            )
        )
    classed = _as_classed(lines)
    layers = {
        "lines": classed.boundaries,
        "exclusive_sites": sites,
        "barriers": classed.barriers,
        "lanes": classed.lanes,
    }
    touching = {k: _touching(layer, tree, len(communities)) for k, layer in layers.items()}
    inputs = []
    for i, community in enumerate(communities):
        boundary = frame.forward(community.geom)
        if boundary.geom_type == "MultiPolygon" and len(boundary.geoms) == 1:
            boundary = boundary.geoms[0]
        inputs.append(
            DivisionInput(
                community.code,
                boundary,
                per[i],
                **{k: [frame.forward(layers[k][g]) for g in touching[k][i]] for k in layers},
            )
        )
    return inputs


def _as_classed(lines: LinesIn) -> ClassedLines:
    """Lines by role; a plain sequence of lines are all preferred boundaries."""
    return lines if isinstance(lines, ClassedLines) else ClassedLines(boundaries=list(lines))


def _touching(layer: Sequence[BaseGeometry], tree: shapely.STRtree, n: int) -> dict[int, list[int]]:
    """For each community index, the indexes of the layer's geometries that intersect it."""
    out: dict[int, list[int]] = {i: [] for i in range(n)}
    if layer:
        idx_g, idx_c = tree.query(list(layer), predicate="intersects")
        for g, c in zip(idx_g.tolist(), idx_c.tolist(), strict=True):
            out[c].append(g)
    return {c: sorted(gs) for c, gs in out.items()}  # in the layer's order


def _check_target(target: float, measure: str, tolerance: float) -> None:
    if target <= 0 or not 0 < tolerance < 1 or measure not in MEASURES:
        raise ValidationFailed(
            "目标值须为正，容差在 0 与 1 之间，度量为 households/residents/weight",
            "target must be positive, tolerance in (0, 1), measure households/residents/weight",
            code="bad_parameters",
            field="target",
        )


def _store(
    session: Session,
    county: str,
    division: DivisionPlan,
    frame: LocalFrame,
    *,
    name: str,
    width: int,
    note: str,
    keep_codes: bool,
) -> GridVersion:
    version = new_version(session, county, "social", name, note=note)
    rows = []
    for g in division.grids:
        code = grid_code(g.community_key, g.sequence, width) if keep_codes else None
        rows.append(
            GridIn(
                kind="exclusive" if g.exclusive else "basic",
                geom=frame.back(g.polygon),
                code=code,
                community_code=g.community_key,
                households=g.households,
                population=g.residents,
            )
        )
    stored = add_grids(session, version, rows, width=width)
    code_of = {
        (g.community_key, g.sequence): s.code for g, s in zip(division.grids, stored, strict=True)
    }
    version.report = division_report(division, code_of)
    session.flush()
    return version


def division_report(division: DivisionPlan, code_of: dict[tuple[str, int], str]) -> dict[str, Any]:
    """The quality report as JSON: totals, per grid, and the grids that cannot meet the tolerance."""
    rep = division.report
    return {
        "target": division.target,
        "measure": division.measure,
        "tolerance": division.tolerance,
        "totals": rep.totals(),
        "grids": [
            {
                "code": code_of.get((q.community_key, q.sequence)),
                "households": q.households,
                "residents": q.residents,
                "weight": q.weight,
                "deviation": round(q.deviation, 4),
                "within_tolerance": q.within_tolerance,
                "exclusive": q.exclusive,
                **{
                    k: getattr(q, k)
                    for k in ("polsby_popper", "line_crossings", "barrier_crossings", "contiguous")
                    if hasattr(q, k)
                },
            }
            for q in rep.grids
        ],
        "unmet": [
            {
                "code": code_of.get((u.community_key, u.sequence)),
                "value": u.value,
                "reason_zh": u.reason_zh,
                "reason_en": u.reason_en,
            }
            for u in rep.unmet
        ],
        "warnings": list(division.warnings),
    }


def divide_county(
    session: Session,
    county: str,
    *,
    buildings: Sequence[BuildingIn],
    lines: LinesIn = (),
    sites: Sequence[BaseGeometry] = (),
    target: float = 300,
    measure: str = "households",
    tolerance: float = 0.10,
    allow_crossing: bool = True,
    communities: Sequence[str] | None = None,
    name: str | None = None,
    width: int = 3,
) -> tuple[GridVersion, DivisionPlan, LocalFrame]:
    """Divide communities into balanced grids and store them as a new draft version."""
    _check_target(target, measure, tolerance)
    rows = _communities(session, county, communities)
    frame = _frame(rows)
    inputs = build_inputs(rows, frame, buildings, lines, sites)
    division = divide(
        inputs,
        target=target,
        measure=cast(Measure, measure),  # checked by _check_target above
        tolerance=tolerance,
        allow_crossing=allow_crossing,
    )
    version = _store(
        session,
        county,
        division,
        frame,
        width=width,
        keep_codes=False,
        name=name or f"自动划分（目标 {target:g} {MEASURE_ZH.get(measure, measure)}）",
        note="automatic division",
    )
    return version, division, frame


def _current_division(
    session: Session,
    version: GridVersion,
    buildings: Sequence[BuildingIn],
    lines: LinesIn,
    sites: Sequence[BaseGeometry],
    target: float,
    measure: str,
    tolerance: float,
) -> tuple[DivisionPlan, LocalFrame]:
    grids = version_grids(session, version.id, kinds=("basic", "exclusive"))
    codes = sorted({g.community_code for g in grids})
    rows = _communities(session, version.county_code, codes)
    frame = _frame(rows)
    inputs = build_inputs(rows, frame, buildings, lines, sites)
    index = GridIndex(np.arange(len(grids)), [g.geom for g in grids])
    spots = [
        b.geom if isinstance(b.geom, Point) else b.geom.representative_point() for b in buildings
    ]
    found = index.locate_many(np.array([p.x for p in spots]), np.array([p.y for p in spots]))
    assignment = {
        b.key: grid_sequence(grids[i].code)
        for b, i in zip(buildings, found.tolist(), strict=True)
        if i >= 0
    }
    for inp in inputs:
        inp.buildings = [b for b in inp.buildings if b.key in assignment]
    division = division_from_assignment(
        inputs,
        assignment,
        target=target,
        measure=measure,  # type: ignore[arg-type]
        tolerance=tolerance,
    )
    return division, frame


def rebalance_version(
    session: Session,
    version_id: int,
    *,
    buildings: Sequence[BuildingIn],
    lines: LinesIn = (),
    sites: Sequence[BaseGeometry] = (),
    target: float = 300,
    measure: str = "households",
    tolerance: float = 0.10,
    width: int = 3,
) -> tuple[GridVersion, list[dict[str, Any]]]:
    """Move boundary buildings until grids are within tolerance; store a new version, list the moves."""
    _check_target(target, measure, tolerance)
    base = get_version(session, version_id)
    division, frame = _current_division(
        session, base, buildings, lines, sites, target, measure, tolerance
    )
    balanced, moves = rebalance(division)
    version = _store(
        session,
        base.county_code,
        balanced,
        frame,
        width=width,
        keep_codes=True,
        name=f"第 {base.number} 版调整均衡",
        note=f"rebalanced from version {base.number}",
    )
    moved = [
        {
            "building": m.building_key,
            "from": grid_code(m.community_key, m.from_seq, width),
            "to": grid_code(m.community_key, m.to_seq, width),
        }
        for m in moves
    ]
    version.report = {**(version.report or {}), "moves": moved, "based_on": base.number}
    return version, moved


def edit_version(
    session: Session,
    version_id: int,
    *,
    op: str,
    codes: Sequence[str],
    parts: int = 2,
    buildings: Sequence[BuildingIn],
    lines: LinesIn = (),
    sites: Sequence[BaseGeometry] = (),
    target: float = 300,
    measure: str = "households",
    tolerance: float = 0.10,
    width: int = 3,
) -> GridVersion:
    """Split one grid or merge neighbouring grids by hand; the result is a new draft version."""
    base = get_version(session, version_id)
    if not codes or len({c[:12] for c in codes}) != 1:
        raise ValidationFailed(
            "请给出同一社区内的网格编码", "give grid codes of one community", field="codes"
        )
    for c in codes:  # the sequences are read from the codes: refuse what is not a grid code
        try:
            check_grid_code(c, codes[0][:12], width)
        except ValidationFailed as exc:
            exc.field = "codes"
            raise
    division, frame = _current_division(
        session, base, buildings, lines, sites, target, measure, tolerance
    )
    community, seqs = codes[0][:12], [int(c[12:]) for c in codes]
    try:
        if op == "split":
            edited = split_grid(division, community, seqs[0], parts)
        elif op == "merge":
            edited = merge_grids(division, community, seqs)
        else:
            raise ValidationFailed(f"操作 {op} 无效", f"operation {op} is invalid", field="op")
    except ValueError as exc:  # the engine's refusals, e.g. merging grids that do not touch
        raise ValidationFailed(
            f"无法{'拆分' if op == 'split' else '合并'}网格 {', '.join(codes)}：{exc}",
            f"cannot {op} grids {', '.join(codes)}: {exc}",
            code=f"cannot_{op}",
        ) from None
    return _store(
        session,
        base.county_code,
        edited,
        frame,
        width=width,
        keep_codes=True,
        name=f"第 {base.number} 版{'拆分' if op == 'split' else '合并'} {','.join(codes)}",
        note=f"{op} of {', '.join(codes)} in version {base.number}",
    )
