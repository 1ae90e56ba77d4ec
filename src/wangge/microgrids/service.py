"""Micro grids (微网格): draw them from buildings, add them, publish their leaders.

Micro grids go into a draft version (activated like any re-division) or straight into the
version in force: they do not change its tiling, so adding them there only re-locates the
county's records into them (grids.micro_locate), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.assignments.models import GridAssignment
from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.divisions.codes import MICRO_WIDTH
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.grids.geometry import order_west_east_north_south
from wangge.grids.locating import clear_cache
from wangge.grids.micro_locate import relocate_micro
from wangge.grids.micro_shapes import MODES, micro_shapes
from wangge.grids.models import Grid, GridVersion
from wangge.grids.service import GridIn, active_version, add_grids, get_version
from wangge.grids.versions import LOCATED
from wangge.registry.models_houses import Building

MODE_ZH = {"building": "一楼一格", "group": "相邻楼栋成组"}


@dataclass(frozen=True)
class FromBuildings:
    """How to draw micro grids from the buildings of a parent grid."""

    parent_code: str
    mode: str = "building"
    margin_m: float = 5.0
    gap_m: float = 30.0
    version_id: int | None = None  # a draft version; None: the version in force


def _parent(session: Session, code: str, version: GridVersion) -> Grid:
    grid = session.scalars(
        select(Grid).where(Grid.version_id == version.id, Grid.code == code)
    ).first()
    if grid is None or grid.kind not in ("basic", "exclusive"):
        raise ValidationFailed(
            f"所属网格（parent_code）{code} 不是第 {version.number} 版中的基础网格或专属网格",
            f"field parent_code: {code} is not a basic or exclusive grid of version "
            f"{version.number}",
            code="unknown_parent_grid",
            field="parent_code",
        )
    return grid


def _target_version(session: Session, county: str, version_id: int | None) -> GridVersion:
    if version_id is not None:
        version = get_version(session, version_id)
        if version.layer != "social" or version.status != "draft":
            raise ValidationFailed(
                f"第 {version.number} 版不是社会治理网格的草稿版本，请选草稿或留空（现行版本）",
                f"version {version.number} is not a draft of the social layer; choose a draft "
                "or none (the version in force)",
                code="not_a_draft",
                field="version_id",
            )
        return version
    active = active_version(session, county, "social")
    if active is None:
        raise ValidationFailed(
            f"区县 {county} 没有现行的社会治理网格版本",
            f"county {county} has no active social grid version",
            code="no_active_version",
            field="parent_code",
        )
    return active


def _buildings_in(session: Session, parent: Grid) -> list[Building]:
    """The buildings in a grid; all located (the lon/lat bounds leave out NULL positions)."""
    assert parent.geom is not None
    minx, miny, maxx, maxy = parent.geom.bounds
    rows = session.scalars(
        select(Building)
        .where(
            Building.county_code == parent.county_code,
            Building.lon.between(minx, maxx),
            Building.lat.between(miny, maxy),
        )
        .order_by(Building.id)
    ).all()
    return [
        b
        for b in rows
        if b.lon is not None
        and b.lat is not None
        and parent.geom.covers(shapely.Point(b.lon, b.lat))
    ]


def micro_from_buildings(
    session: Session, principal: Principal, plan: FromBuildings, *, width: int
) -> dict[str, Any]:
    """Draw and add the micro grids of a parent grid's buildings; return what was made."""
    principal.require("grids.manage")
    _check_plan(plan)
    version = _target_version(session, plan.parent_code[:6], plan.version_id)
    parent, buildings = _parent_buildings(session, principal, plan.parent_code, version)
    assert parent.geom is not None  # as _buildings_in asserts
    shapes = micro_shapes(
        parent.geom,
        [_footprint(b) for b in buildings],
        mode=plan.mode,
        margin_m=plan.margin_m,
        gap_m=plan.gap_m,
    )
    rows = _rows(session, version, parent, shapes, buildings)
    grids = add_grids(session, version, rows, width=width, micro_in_force=True)
    moved: dict[str, Any] = {}
    if version.status == "active":
        clear_cache()  # this process: at once; the others see the new grid count within 1 s
        moved = relocate_micro(session, version, LOCATED)
    report = {
        "version": version.number,
        "version_status": version.status,
        "parent": parent.code,
        "mode": plan.mode,
        "created": [
            {"code": g.code, "name": g.name, "buildings": len(s.members), "area_m2": g.area_m2}
            for g, s in zip(grids, [shapes[i] for i in _order(shapes)], strict=True)
        ],
        "moved": moved,
    }
    record_for(
        session,
        principal,
        "grid.micro_from_buildings",
        object_type="grid",
        object_id=parent.id,
        county_code=parent.county_code,
        detail={k: v for k, v in report.items() if k != "created"} | {"count": len(grids)},
    )
    return report


def _check_plan(plan: FromBuildings) -> None:
    """Refuse an unknown mode and margins or gaps outside (0, 500] metres."""
    if plan.mode not in MODES:
        raise ValidationFailed(
            f"方式（mode）只能是 {'、'.join(f'{k} {v}' for k, v in MODE_ZH.items())}",
            f"field mode: must be one of {', '.join(MODES)}",
            code="bad_mode",
            field="mode",
        )
    for name, value in (("margin_m", plan.margin_m), ("gap_m", plan.gap_m)):
        if not 0 < value <= 500:
            raise ValidationFailed(
                f"{name} 应在 0 到 500 米之间", f"field {name}: must be in (0, 500] metres",
                field=name,
            )  # fmt: skip


def _parent_buildings(
    session: Session, principal: Principal, code: str, version: GridVersion
) -> tuple[Grid, list[Building]]:
    """The parent grid, within the principal's area, and the buildings in it (at least one)."""
    parent = _parent(session, code, version)
    if not principal.contains(parent.code):
        raise Forbidden(
            f"网格 {parent.code} 不在您的管辖范围内",
            f"grid {parent.code} is outside your area",
            code="out_of_scope",
            field="parent_code",
        )
    buildings = _buildings_in(session, parent)
    if not buildings:
        raise ValidationFailed(
            f"网格 {parent.code} 内没有楼栋，无法生成微网格",
            f"grid {parent.code} holds no buildings to draw micro grids from",
            code="no_buildings",
            field="parent_code",
        )
    return parent, buildings


def _footprint(b: Building) -> BaseGeometry:
    """A building's footprint, or its point when it has none."""
    if b.geom is not None:
        return b.geom
    assert b.lon is not None and b.lat is not None  # located: see _buildings_in
    return shapely.Point(b.lon, b.lat)


def _order(shapes: list[Any]) -> list[int]:
    return order_west_east_north_south([s.geom for s in shapes]) if shapes else []


def _rows(
    session: Session, version: GridVersion, parent: Grid, shapes: list[Any], buildings: list[Any]
) -> list[GridIn]:
    """Micro grids numbered after the parent's existing ones, west→east, north→south."""
    existing = session.scalar(
        select(func.count(Grid.id)).where(
            Grid.version_id == version.id, Grid.parent_id == parent.id
        )
    )
    last = max(
        [
            int(c[len(parent.code) :] or 0)
            for c in session.scalars(
                select(Grid.code).where(Grid.version_id == version.id, Grid.parent_id == parent.id)
            )
        ],
        default=0,
    )
    order = _order(shapes)
    if last + len(order) >= 10**MICRO_WIDTH:
        raise ValidationFailed(
            f"网格 {parent.code} 已有 {existing} 个微网格，再加 {len(order)} 个将超出 "
            f"{MICRO_WIDTH} 位微网格序号",
            f"grid {parent.code} has {existing} micro grids; {len(order)} more do not fit "
            f"{MICRO_WIDTH} digits",
            code="sequence_overflow",
            field="parent_code",
        )
    rows = []
    for n, i in enumerate(order, start=last + 1):
        names = [buildings[k].name for k in shapes[i].members]
        label = names[0] if len(names) == 1 else f"{names[0]}等{len(names)}栋"
        rows.append(
            GridIn(
                kind="micro",
                geom=shapes[i].geom,
                code=f"{parent.code}{n:0{MICRO_WIDTH}d}",
                name=f"{label}微网格",
                community_code=parent.community_code,
                parent_code=parent.code,
                responsible_party="微网格长",
            )
        )
    return rows


def set_published(
    session: Session, principal: Principal, assignment_id: int, published: bool
) -> GridAssignment:
    """Show (or hide) a micro-grid leader on "我的网格员" (上岗公示 of the micro grid)."""
    from wangge.assignments.service import get_assignment

    principal.require("users.manage")
    row = get_assignment(session, principal, assignment_id)
    if row.kind != "micro_leader":
        raise ValidationFailed(
            "只有微网格长的配置需要选择是否公示；网格员和网格长总是公示",
            "only micro-grid leaders are published by choice; grid workers and leaders always are",
            code="not_micro_leader",
            field="published",
        )
    if not principal.contains(row.grid_code):
        raise Forbidden(
            f"网格 {row.grid_code} 不在您的管辖范围内",
            f"grid {row.grid_code} is outside your area",
            code="out_of_scope",
        )
    row.published = published
    session.flush()
    record_for(
        session,
        principal,
        "assignment.publish" if published else "assignment.unpublish",
        object_type="grid_assignment",
        object_id=row.id,
        county_code=row.county_code,
        detail={"grid": row.grid_code},
    )
    return row


def get_micro_grid(session: Session, code: str) -> Grid:
    """Return the active micro grid with this code, or NotFound."""
    grid = session.scalars(
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(Grid.code == code, Grid.kind == "micro", GridVersion.status == "active")
    ).first()
    if grid is None:
        raise NotFound(f"微网格 {code} 不存在", f"micro grid {code} does not exist")
    return grid
