"""Locating line and polygon components in every grid they cross (pipelines span many grids).

A point component lies in one grid (`Component.grid_id`/`unit_grid_id`). A line or polygon
also gets one `component_grids` row per grid of each layer's active version it crosses, so a
grid's list of components finds the pipeline that runs through it. The rows are rebuilt when
the geometry changes (save_component, bulk_load) and when a grid version is activated (the
Component spec's on_moved hook in grids.versions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.auth.scope import scope_clause
from wangge.divisions.models import Division
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids import locating
from wangge.grids.models import Grid, GridVersion
from wangge.grids.service import TILING_KINDS
from wangge.registry.access import visible
from wangge.registry.models_component_grids import ComponentGrid
from wangge.registry.models_components import Component

LAYERS = ("social", "unit")


def is_spread(geom: BaseGeometry | None) -> bool:
    """Return True for a geometry that may cross several grids (anything but a point)."""
    return geom is not None and not geom.is_empty and geom.geom_type not in ("Point", "MultiPoint")


def require_in_county(
    session: Session, county_code: str, geom: BaseGeometry | None, *, what: str | None = None
) -> None:
    """Refuse a line or polygon that leaves the county (the union of its divisions).

    With `what` (the record's name in Chinese and English, "楼栋|building"), a point is
    checked too: the 信息采集 forms place buildings and organisations by a point.
    """
    if geom is None or geom.is_empty or (what is None and not is_spread(geom)):
        return
    shapes = session.scalars(
        select(Division.geom).where(
            or_(Division.code == county_code, Division.county_code == county_code),
            Division.geom.is_not(None),
        )
    ).all()
    if not shapes:  # no boundary loaded: nothing to check against
        return
    county = shapely.union_all(list(shapes))
    if not county.covers(geom):
        outside = geom.difference(county)
        x, y = outside.representative_point().coords[0] if not outside.is_empty else (0.0, 0.0)
        if what is not None:
            zh, _, en = what.partition("|")
            raise ValidationFailed(
                f"{zh}的位置（{x:.5f}, {y:.5f}）不在区县 {county_code} 的范围内，请检查经纬度",
                f"the {en}'s position ({x:.5f}, {y:.5f}) lies outside county {county_code};"
                " check the longitude and latitude",
                code="outside_county", field="lon",
            )  # fmt: skip
        raise ValidationFailed(
            f"部件的几何超出区县 {county_code} 的范围（例如在 {x:.5f}, {y:.5f} 处），"
            "管线等线状部件必须整体位于本区县内",
            f"the component's geometry leaves county {county_code} (e.g. at {x:.5f}, {y:.5f});"
            " a pipeline or other line component must lie wholly inside the county",
            code="outside_county", field="geometry",
        )  # fmt: skip


def require_all_in_county(
    session: Session, county_code: str, geoms: Sequence[BaseGeometry | None]
) -> None:
    """Refuse a batch (bulk_load) in which any line or polygon leaves the county; name the row."""
    shapes = session.scalars(
        select(Division.geom).where(
            or_(Division.code == county_code, Division.county_code == county_code),
            Division.geom.is_not(None),
        )
    ).all()
    if not shapes or not len(geoms):
        return
    county = shapely.union_all(list(shapes))
    shapely.prepare(county)
    inside = shapely.covers(county, [g if g is not None else shapely.Point() for g in geoms])
    for row, (ok, geom) in enumerate(zip(inside.tolist(), geoms, strict=True), start=1):
        if ok or geom is None or geom.is_empty:
            continue
        x, y = geom.difference(county).representative_point().coords[0]
        raise ValidationFailed(
            f"第 {row} 行的线状部件超出区县 {county_code} 的范围（例如在 {x:.5f}, {y:.5f} 处），"
            "管线等线状部件必须整体位于本区县内；本批数据均未写入",
            f"row {row}: the line leaves county {county_code} (e.g. at {x:.5f}, {y:.5f}); a"
            " pipeline must lie wholly inside the county; nothing of this batch was written",
            code="outside_county", field="geometry", details={"row": row},
        )  # fmt: skip


def _crossed(geom: BaseGeometry, grids: Sequence[tuple[int, BaseGeometry | None]]) -> list[int]:
    """Return the ids of the grids a geometry crosses; a line along a border counts both."""
    hits = [gid for gid, g in grids if g is not None and geom.intersects(g)]
    # A line that only touches a grid (ends on its edge) is not in it, unless it runs
    # wholly along borders and would otherwise be in no grid at all.
    inside = [gid for gid, g in grids if g is not None and gid in hits and not geom.touches(g)]
    return inside or hits


def refresh(session: Session, components: Iterable[Component]) -> int:
    """Rebuild the grid rows of components in the active versions; return the rows written."""
    comps = [c for c in components if c.id is not None]
    if not comps:
        return 0
    session.execute(
        delete(ComponentGrid).where(ComponentGrid.component_id.in_([c.id for c in comps]))
    )
    by_county: dict[str, list[Component]] = defaultdict(list)
    for comp in comps:
        if is_spread(comp.geom):
            by_county[comp.county_code].append(comp)
    rows: list[dict[str, Any]] = []
    for county, spread in by_county.items():
        bounds = shapely.bounds([c.geom for c in spread])
        minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
        maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
        for layer in LAYERS:
            # Pre-filter by the grids' bbox columns, then test the exact geometry.
            grids = session.execute(
                select(Grid.id, Grid.geom)
                .join(GridVersion, Grid.version_id == GridVersion.id)
                .where(
                    GridVersion.county_code == county, GridVersion.layer == layer,
                    GridVersion.status == "active", Grid.kind.in_(TILING_KINDS[layer]),
                    Grid.minx <= maxx, Grid.maxx >= minx, Grid.miny <= maxy, Grid.maxy >= miny,
                )
            ).all()  # fmt: skip
            if not grids:
                continue
            # STRtree skips a missing geometry (None); the stubs accept geometries only.
            tree = shapely.STRtree([g for _i, g in grids])  # type: ignore[arg-type]
            for comp in spread:
                geom = comp.geom
                assert geom is not None  # spread components have a geometry (is_spread)
                near = [grids[int(i)] for i in tree.query(geom)]
                rows.extend(
                    {"component_id": comp.id, "grid_id": gid, "layer": layer}
                    for gid in _crossed(geom, [(int(i), g) for i, g in near])
                )
    if rows:
        session.execute(insert(ComponentGrid), rows)
    return len(rows)


def refresh_ids(session: Session, component_ids: Sequence[int]) -> int:
    """Rebuild the grid rows of the spread components among `component_ids`."""
    total = 0
    ids = list(component_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        comps = session.scalars(
            select(Component).where(
                Component.id.in_(chunk),
                # bbox wider than a point: a line or polygon
                or_(Component.minx < Component.maxx, Component.miny < Component.maxy),
            )
        ).all()
        total += refresh(session, comps)
    return total


def components_moved(session: Session, component_ids: list[int]) -> None:
    """After a re-division: re-locate every line and polygon of the counties concerned."""
    counties = session.scalars(
        select(Component.county_code).where(Component.id.in_(component_ids[:1000])).distinct()
    ).all()
    for county in counties:
        ids = session.scalars(
            select(Component.id).where(
                Component.county_code == county,
                or_(Component.minx < Component.maxx, Component.miny < Component.maxy),
            )
        ).all()
        refresh_ids(session, ids)


def grid_codes(session: Session, comp: Component) -> dict[str, list[str]]:
    """Return the codes of every grid a component lies in, per layer (a point: its one grid)."""
    return grid_codes_of(session, [comp])[comp.id]


def grid_codes_of(session: Session, comps: Sequence[Component]) -> dict[int, dict[str, list[str]]]:
    """`grid_codes` of many components in two queries (a list page, not one per row)."""
    found: dict[int, dict[str, list[str]]] = {c.id: {layer: [] for layer in LAYERS} for c in comps}
    if not found:
        return found
    for cid, layer, code in session.execute(
        select(ComponentGrid.component_id, ComponentGrid.layer, Grid.code)
        .join(Grid, Grid.id == ComponentGrid.grid_id)
        .where(ComponentGrid.component_id.in_(list(found)))
        .order_by(Grid.code)
    ):
        found[cid][layer].append(code)
    anchors = {
        (c.id, layer): gid
        for c in comps
        for layer, gid in (("social", c.grid_id), ("unit", c.unit_grid_id))
        if not found[c.id][layer] and gid is not None
    }
    codes = locating.grid_codes(session, anchors.values())
    for (cid, layer), gid in anchors.items():
        found[cid][layer] = [codes[gid]] if gid in codes else []
    return found


def in_grid(column: Any, grid_id: int) -> ColumnElement[bool]:
    """Return the filter "lies in grid `grid_id`": its anchor grid or any grid it crosses."""
    crossing = select(ComponentGrid.component_id).where(ComponentGrid.grid_id == grid_id)
    return or_(column == grid_id, Component.id.in_(crossing))


def visible_component(principal: Principal) -> ColumnElement[bool]:
    """Components in the principal's area: by their anchor, or crossing one of its grids.

    A grid worker sees the pipeline under his grid even when its midpoint lies elsewhere;
    writing to it still needs its anchor in his area (access.check_area).
    """
    base = visible(Component, principal)
    if principal.scope_prefixes is None:
        return base
    divisions = [p for p in principal.scope_prefixes if len(p) <= 12]
    unit = [*divisions, *principal.unit_grid_scopes]
    crossed = [and_(ComponentGrid.layer == "social", scope_clause(Grid.code, principal))]
    crossed += [
        and_(ComponentGrid.layer == "unit", Grid.code.startswith(p, autoescape=True))
        for p in sorted(unit)
    ]
    ids = (
        select(ComponentGrid.component_id)
        .join(Grid, Grid.id == ComponentGrid.grid_id)
        .where(or_(*crossed))
    )
    return or_(base, Component.id.in_(ids))


def require_anchored_here(session: Session, principal: Principal, comp: Component) -> None:
    """Refuse to remove a component seen only because it crosses the principal's grids."""
    mine = select(Component.id).where(Component.id == comp.id, visible(Component, principal))
    if session.scalar(mine) is None:
        raise Forbidden(
            f"部件 {comp.code} 只是穿过您的网格，其所在社区 {comp.community_code} 不在您的管辖范围内",
            f"component {comp.code} only crosses your grids; its community "
            f"{comp.community_code} is outside your area",
            code="out_of_scope",
        )
