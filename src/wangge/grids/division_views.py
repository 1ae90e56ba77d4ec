"""HTTP routes for divisions (行政区划). In `grids` because a division is shown and imported with
its grids: the administrative areas themselves (`wangge.divisions`) know nothing of grids."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.api.files import saved_upload
from wangge.audit.service import record_for
from wangge.common.geo import parse_crs
from wangge.common.geojson import collection, feature
from wangge.divisions import service
from wangge.divisions.schemas import DivisionRead
from wangge.errors import NotFound
from wangge.grids.importing import load_division_file, read_division_file
from wangge.grids.locating import active_versions
from wangge.grids.manage_views import out_of_scope
from wangge.grids.service import TILING_KINDS, version_grids

router = APIRouter(prefix="/divisions", tags=["divisions 行政区划"])
# An audit entry names at most this many codes (and always how many there were).
AUDITED_CODES = 500


class ImportedDivisions(BaseModel):
    imported: int
    codes: list[str]


def _visible(principal: PrincipalDep, code: str) -> None:
    principal.require("divisions.read")
    # Out-of-scope divisions look absent, so codes cannot be probed.
    if not principal.covers(code):
        raise NotFound(f"区划 {code} 不存在", f"division {code} does not exist")


@router.get("", response_model=list[DivisionRead], summary="列出区划 List divisions")
def list_divisions(
    session: SessionDep,
    principal: PrincipalDep,
    parent: str | None = None,
    level: str | None = Query(None, description="county | street | community"),
) -> list[Any]:
    principal.require("divisions.read")
    return service.list_divisions(session, parent=parent, level=level, principal=principal)


@router.post(
    "/import",
    response_model=ImportedDivisions,
    status_code=201,
    summary="上传文件导入区划（街道、社区边界）Import divisions (GeoJSON/GPKG/zipped SHP/CSV/XLSX)",
)
def import_divisions(
    session: SessionDep,
    principal: PrincipalDep,
    file: UploadFile = File(..., description="GeoJSON, GeoPackage, zipped Shapefile, CSV, XLSX"),
    crs: str | None = Form(None, description="override the file's CRS, e.g. GCJ02"),
    encoding: str | None = Form(None, description="DBF/CSV encoding, e.g. GBK"),
) -> dict[str, Any]:
    """Columns code/区划代码, name/名称[, parent/上级代码]; existing codes are updated.

    All or nothing: on any bad feature the reply lists them all (file, feature, field, reason)
    and nothing is stored; a scoped administrator may import only divisions inside his area.
    """
    principal.require("grids.manage")
    with saved_upload(file, prefix="wangge-division-") as path:
        read = read_division_file(path, crs=crs or None, encoding=encoding or None)
        outside = [code for code in read.codes if not principal.contains(code)]
        if outside:  # refused before anything is written
            raise out_of_scope(outside)
        codes = load_division_file(session, path, read)
    by_county: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        by_county[code[:6]].append(code)
    for county, mine in sorted(by_county.items()):
        record_for(
            session,
            principal,
            "division.import",
            object_type="division",
            object_id=county,
            county_code=county,
            detail={"file": path.name, "count": len(mine), "codes": mine[:AUDITED_CODES]},
        )
    return {"imported": len(codes), "codes": codes}


@router.get("/{code}", response_model=DivisionRead, summary="区划详情 Get a division")
def get_division(code: str, session: SessionDep, principal: PrincipalDep) -> Any:
    _visible(principal, code)
    return service.get_division(session, code)


@router.get("/{code}/geojson", summary="区划及其下级与网格的 GeoJSON / GeoJSON of a subtree")
def division_geojson(
    code: str,
    session: SessionDep,
    principal: PrincipalDep,
    grids: bool = True,
    layer: str | None = Query(None, description="social | unit; default both"),
    crs: str = Query("EPSG:4490", description="EPSG:4490, EPSG:4326, GCJ02, BD09 …"),
) -> dict[str, Any]:
    _visible(principal, code)
    target = parse_crs(crs)
    features = [
        feature(d.geom, {"type": "division", **DivisionRead.model_validate(d).model_dump()}, target)
        for d in service.subtree(session, code, principal)
    ]
    if grids:
        for version in active_versions(session, [code[:6]]):
            if layer and version.layer != layer:
                continue
            for g in version_grids(session, version.id, prefix=code, principal=principal):
                props = {
                    "type": "grid",
                    "id": g.id,
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind,
                    "layer": version.layer,
                    "tiling": g.kind in TILING_KINDS[version.layer],
                    "area_m2": g.area_m2,
                    "households": g.households,
                    "population": g.population,
                }
                features.append(feature(g.geom, props, target))
    return collection(features)
