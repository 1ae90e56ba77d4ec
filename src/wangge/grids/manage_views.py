"""HTTP routes that make draft versions from an uploaded file or by generating unit grids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.api.files import saved_upload
from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.common.schemas import InputModel
from wangge.divisions.models import Division
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids import dividing
from wangge.grids.generate import generate_unit_version
from wangge.grids.importing import grid_count, import_grid_file
from wangge.grids.models import Grid
from wangge.grids.schemas import VersionRead

router = APIRouter(tags=["grids 网格"])

# Generation runs inside the request: beyond this many cells use `wangge grid generate`.
MAX_GENERATED_CELLS = 20_000


class MadeOut(BaseModel):
    version: VersionRead
    grids: int
    report: dict[str, Any]


class GenerateIn(InputModel):
    county: str = Field(pattern=r"^\d{6}$", description="county code")
    street: str | None = Field(None, pattern=r"^\d{9}$", description="all communities of a street")
    communities: list[str] | None = Field(None, max_length=500, description="community codes")
    cell_area_m2: float = Field(10_000, ge=1_000, le=1_000_000, description="cell area in m²")
    name: str | None = Field(None, max_length=200)
    lines: dict[str, Any] | None = Field(
        None, description="GeoJSON lines to cut along (roads, rivers)"
    )
    crs: str | None = Field(None, description="CRS of the inline GeoJSON (default EPSG:4490)")


def require_area(
    principal: Principal, county: str, communities: Sequence[str] | None = None
) -> None:
    """Refuse to make grids outside the caller's area (a scoped manager names communities)."""
    outside = [c for c in communities or [] if not principal.contains(c)]
    if (
        not principal.covers(county)
        or outside
        or (not communities and not principal.contains(county))
    ):
        raise out_of_scope(outside or [county])


def out_of_scope(codes: Sequence[str]) -> Forbidden:
    """403 `out_of_scope` naming the first few codes outside the caller's area."""
    where = ", ".join(codes[:5])
    return Forbidden(
        f"{where} 不在您的管辖范围内", f"{where} is outside your area", code="out_of_scope"
    )


@router.post(
    "/grid-versions/import",
    response_model=MadeOut,
    status_code=201,
    summary="上传文件导入网格为草稿版本 Import a grid file (GeoJSON/GPKG/zipped SHP/CSV/XLSX)",
)
def import_version(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    file: UploadFile = File(..., description="GeoJSON, GeoPackage, zipped Shapefile, CSV, XLSX"),
    county: str = Form(..., pattern=r"^\d{6}$"),
    kind: str = Form("basic", description="basic|exclusive|micro|unit|duty (or a 类型 column)"),
    name: str = Form("导入版本", max_length=200),
    crs: str | None = Form(None, description="override the file's CRS, e.g. GCJ02"),
    encoding: str | None = Form(None, description="DBF/CSV encoding, e.g. GBK"),
) -> dict[str, Any]:
    """All or nothing: on any bad feature the reply lists them all and nothing is stored."""
    principal.require("grids.manage")
    if not principal.covers(county):
        require_area(principal, county)
    with saved_upload(file, prefix="wangge-grid-") as path:
        version = import_grid_file(
            session,
            path,
            county=county,
            kind=kind,
            version_name=name or "导入版本",
            width=settings.grid_sequence_width,
            crs=crs or None,
            encoding=encoding or None,
        )
    outside = grids_outside(session, principal, version.id)
    if outside:  # raising rolls the whole import back
        require_area(principal, county, outside)
    record_for(
        session,
        principal,
        "grid_version.import",
        object_type="grid_version",
        object_id=version.id,
        county_code=county,
        detail={"file": path.name, "kind": kind},
    )
    return {
        "version": version,
        "grids": grid_count(session, version.id),
        "report": version.report or {},
    }


def _street_communities(session: SessionDep, street: str) -> list[str]:
    codes = list(
        session.scalars(
            select(Division.code)
            .where(Division.level == "community", Division.code.startswith(street))
            .order_by(Division.code)
        )
    )
    if not codes:
        raise ValidationFailed(
            f"街道 {street} 下没有社区", f"street {street} has no communities", field="street"
        )
    return codes


@router.post(
    "/grid-versions/generate",
    response_model=MadeOut,
    status_code=201,
    summary="生成万米单元网格（新草稿版本）Generate unit grids for communities or a street",
)
def generate(
    body: GenerateIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    principal.require("grids.manage")
    communities = list(body.communities or [])
    if body.street:
        if not body.street.startswith(body.county):
            raise ValidationFailed(
                f"街道 {body.street} 不属于区县 {body.county}",
                f"street {body.street} is not in county {body.county}",
                field="street",
            )
        communities += _street_communities(session, body.street)
    require_area(principal, body.county, communities or None)
    lines = [f.geometry for f in dividing.features_from_geojson("lines", body.lines, body.crs)]
    if any(g is None or "LineString" not in g.geom_type for g in lines):
        raise ValidationFailed("切割图层必须是线", "the lines must be lines", field="lines")
    version = generate_unit_version(
        session,
        body.county,
        width=settings.grid_sequence_width,
        cell_area_m2=body.cell_area_m2,
        lines=lines,
        communities=sorted(set(communities)) or None,
        name=body.name,
        max_cells=MAX_GENERATED_CELLS,
    )
    record_for(
        session,
        principal,
        "grid_version.generate",
        object_type="grid_version",
        object_id=version.id,
        county_code=body.county,
        detail={"cell_area_m2": body.cell_area_m2, "communities": len(communities)},
    )
    return {
        "version": version,
        "grids": grid_count(session, version.id),
        "report": version.report or {},
    }


def grids_outside(session: SessionDep, principal: Principal, version_id: int) -> list[str]:
    """Return the communities of a version that lie outside the principal's area."""
    codes = session.scalars(
        select(Grid.community_code).where(Grid.version_id == version_id).distinct()
    )
    return [c for c in codes if not principal.contains(c)]
