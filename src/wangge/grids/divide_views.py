"""HTTP routes for automatic division, rebalance, split and merge (each makes a draft version)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.audit.service import record_for
from wangge.common.schemas import InputModel
from wangge.grids import dividing
from wangge.grids.line_roles import ClassedLines, classify
from wangge.grids.schemas import VersionRead

router = APIRouter(tags=["grids 网格"])

LineRoles = Annotated[
    str | dict[str, str] | None,
    Field(
        description='roles of line classes the table lacks: {"巷道": "crossable"} or '
        '"主干道=barrier,巷道=crossable"; roles barrier | boundary | crossable, "*" any class',
    ),
]


class DivideIn(InputModel):
    county: str
    communities: list[str] | None = None
    buildings: dict[str, Any] = Field(
        description="GeoJSON FeatureCollection of buildings (户数, 人口, 权重, 专属)"
    )
    lines: dict[str, Any] | None = Field(
        None,
        description="GeoJSON lines to follow (roads, rivers); a class property (等级, class, "
        "highway …) makes main roads and rivers barriers and alleys crossable",
    )
    line_roles: LineRoles = None
    sites: dict[str, Any] | None = Field(None, description="GeoJSON polygons of exclusive sites")
    crs: str | None = Field(None, description="CRS of the inline GeoJSON (default EPSG:4490)")
    target: float = Field(300, gt=0)
    measure: Literal["households", "residents", "weight"] = "households"
    tolerance: float = Field(0.10, gt=0, lt=1)
    allow_crossing: bool = True


class EditIn(InputModel):
    op: Literal["split", "merge", "rebalance"]
    codes: list[str] = Field(default_factory=list)
    parts: int = Field(2, ge=2, le=20)
    buildings: dict[str, Any]
    lines: dict[str, Any] | None = None
    line_roles: LineRoles = None
    crs: str | None = None
    target: float = Field(300, gt=0)
    measure: Literal["households", "residents", "weight"] = "households"
    tolerance: float = Field(0.10, gt=0, lt=1)


class DivideOut(BaseModel):
    version: VersionRead
    report: dict[str, Any]


class _EditArgs(TypedDict):
    """Keyword arguments shared by `rebalance_version` and `edit_version`."""

    buildings: list[dividing.BuildingIn]
    lines: ClassedLines
    target: float
    measure: str
    tolerance: float
    width: int


def _inputs(
    body: DivideIn | EditIn,
) -> tuple[list[dividing.BuildingIn], ClassedLines, list[Any]]:
    b = dividing.buildings_from_features(
        "buildings", dividing.features_from_geojson("buildings", body.buildings, body.crs)
    )
    lines = classify(
        "lines", dividing.features_from_geojson("lines", body.lines, body.crs), body.line_roles
    )
    sites = [
        f.geometry
        for f in dividing.features_from_geojson("sites", getattr(body, "sites", None), body.crs)
    ]
    return b, lines, sites


@router.post(
    "/grid-versions/divide",
    response_model=DivideOut,
    status_code=201,
    summary="自动划分网格 Divide communities into balanced grids (new draft version)",
)
def divide(
    body: DivideIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    principal.require("grids.manage")
    from wangge.grids.manage_views import require_area

    require_area(principal, body.county, body.communities)
    b, lines, sites = _inputs(body)
    version, _, _ = dividing.divide_county(
        session,
        body.county,
        buildings=b,
        lines=lines,
        sites=sites,
        target=body.target,
        measure=body.measure,
        tolerance=body.tolerance,
        allow_crossing=body.allow_crossing,
        communities=body.communities,
        width=settings.grid_sequence_width,
    )
    record_for(
        session,
        principal,
        "grid_version.divide",
        object_type="grid_version",
        object_id=version.id,
        county_code=body.county,
    )
    return {"version": version, "report": version.report or {}}


@router.post(
    "/grid-versions/{version_id}/actions/edit",
    response_model=DivideOut,
    status_code=201,
    summary="拆分、合并或调整均衡 Split, merge or rebalance (new draft version)",
)
def edit(
    version_id: int,
    body: EditIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    principal.require("grids.manage")
    b, lines, _ = _inputs(body)
    kw: _EditArgs = {
        "buildings": b,
        "lines": lines,
        "target": body.target,
        "measure": body.measure,
        "tolerance": body.tolerance,
        "width": settings.grid_sequence_width,
    }
    if body.op == "rebalance":
        version, _ = dividing.rebalance_version(session, version_id, **kw)
    else:
        version = dividing.edit_version(
            session, version_id, op=body.op, codes=body.codes, parts=body.parts, **kw
        )
    record_for(
        session,
        principal,
        f"grid_version.{body.op}",
        object_type="grid_version",
        object_id=version.id,
        detail={"from": version_id, "codes": body.codes},
    )
    return {"version": version, "report": version.report or {}}
