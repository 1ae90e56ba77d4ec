"""HTTP routes for grids, versions and point lookup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.audit.service import record_for
from wangge.common.geo import parse_crs
from wangge.common.geojson import collection, feature
from wangge.errors import NotFound
from wangge.grids import service, versions
from wangge.grids.locating import active_versions, locate_point
from wangge.grids.models import GridVersion
from wangge.grids.schemas import (
    ActivateIn,
    ActivationRead,
    GridRead,
    LocateRead,
    ProblemRead,
    VersionDetail,
    VersionRead,
)
from wangge.grids.service import LAYER_OF_KIND

router = APIRouter(tags=["grids 网格"])


def _version_in_scope(session: SessionDep, principal: PrincipalDep, version_id: int) -> GridVersion:
    principal.require("grids.read")
    version = service.get_version(session, version_id)
    if not principal.covers(version.county_code):
        raise NotFound(f"网格版本 {version_id} 不存在", f"grid version {version_id} does not exist")
    return version


@router.get("/grids", response_model=list[GridRead], summary="列出网格 List grids")
def list_grids(
    session: SessionDep,
    principal: PrincipalDep,
    division: str | None = Query(
        None, description="division code prefix (county/street/community)"
    ),
    kind: str | None = None,
    version_id: int | None = Query(None, description="default: the active versions"),
    limit: int = Query(1000, ge=1, le=20000),
    offset: int = Query(0, ge=0),
) -> list[Any]:
    principal.require("grids.read")
    if kind:
        service.check_kind(kind)
    if version_id is not None:
        ids = [_version_in_scope(session, principal, version_id).id]
    else:
        ids = [v.id for v in active_versions(session, principal.county_codes())]
    rows = []
    for vid in ids:
        rows.extend(
            service.version_grids(
                session, vid, kinds=[kind] if kind else None, prefix=division, principal=principal
            )
        )
    return rows[offset : offset + limit]


@router.get(
    "/grids/locate", response_model=LocateRead, summary="点位所在网格 Which grid is this point in?"
)
def locate(
    session: SessionDep,
    principal: PrincipalDep,
    lon: float = Query(..., ge=-180, le=180, description="longitude / 经度"),
    lat: float = Query(..., ge=-90, le=90, description="latitude / 纬度"),
    crs: str = Query(
        "EPSG:4490", description="EPSG:4490 (default), EPSG:4326, GCJ02, BD09, EPSG:45xx"
    ),
) -> dict[str, Any]:
    # Which grid a place belongs to is public (上岗公示), so anyone may ask; staff get
    # answers within their scope only.
    staff = principal.can("grids.read")
    counties = principal.county_codes() if staff else None
    found = locate_point(session, lon, lat, crs=crs, county_codes=counties, micro=True)

    def visible(g: Any) -> Any:
        seen = g is not None and (not staff or principal.contains(g.code, LAYER_OF_KIND[g.kind]))
        return g if seen else None

    return {
        "lon": lon,
        "lat": lat,
        "crs": parse_crs(crs).name,
        "grid": visible(found["social"]),
        "unit_grid": visible(found["unit"]),
        "micro_grid": visible(found["micro"]),
    }


@router.get("/grids/{grid_id}", response_model=GridRead, summary="网格详情 Get a grid")
def get_grid(grid_id: int, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("grids.read")
    grid = service.get_grid(session, grid_id)
    if not principal.contains(grid.code, LAYER_OF_KIND[grid.kind]):
        raise NotFound(f"网格 {grid_id} 不存在", f"grid {grid_id} does not exist")
    return grid


@router.get("/grids/{grid_id}/geojson", summary="网格 GeoJSON / GeoJSON of a grid")
def grid_geojson(
    grid_id: int, session: SessionDep, principal: PrincipalDep, crs: str = "EPSG:4490"
) -> dict[str, Any]:
    grid = get_grid(grid_id, session, principal)
    return feature(grid.geom, GridRead.model_validate(grid).model_dump(mode="json"), parse_crs(crs))


@router.get(
    "/grid-versions", response_model=list[VersionRead], summary="网格划分版本 List versions"
)
def list_versions(
    session: SessionDep, principal: PrincipalDep, county: str | None = None
) -> list[Any]:
    from sqlalchemy import select

    q = select(GridVersion).order_by(GridVersion.county_code, GridVersion.layer, GridVersion.number)
    if county:
        q = q.where(GridVersion.county_code == county)
    principal.require("grids.read")
    counties = principal.county_codes()
    if counties is not None:
        q = q.where(GridVersion.county_code.in_(sorted(counties)))
    return list(session.scalars(q))


@router.get(
    "/grid-versions/{version_id}", response_model=VersionDetail, summary="版本详情 Get a version"
)
def get_version(version_id: int, session: SessionDep, principal: PrincipalDep) -> Any:
    version = _version_in_scope(session, principal, version_id)
    out = VersionRead.model_validate(version).model_dump()
    # The reports name grids all over the county, so only users whose area holds the whole
    # county get them (a county administrator does: he imports and activates its versions).
    whole = principal.contains(version.county_code)
    out["report"] = version.report if whole else None
    out["activation_report"] = version.activation_report if whole else None
    return out


@router.get("/grid-versions/{version_id}/geojson", summary="版本全部网格 GeoJSON")
def version_geojson(
    version_id: int, session: SessionDep, principal: PrincipalDep, crs: str = "EPSG:4490"
) -> dict[str, Any]:
    version = _version_in_scope(session, principal, version_id)
    target = parse_crs(crs)
    return collection(
        feature(g.geom, {"id": g.id, "code": g.code, "name": g.name, "kind": g.kind}, target)
        for g in service.version_grids(session, version.id, principal=principal)
    )


@router.get(
    "/grid-versions/{version_id}/validation",
    response_model=list[ProblemRead],
    summary="校验报告 Validation report (gaps, overlaps, slivers, invalid, crossing, codes)",
)
def validate(
    version_id: int, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> list[Any]:
    _version_in_scope(session, principal, version_id)
    return versions.problem_dicts(
        versions.validate_version(session, version_id, width=settings.grid_sequence_width)
    )


@router.post(
    "/grid-versions/{version_id}/actions/activate",
    response_model=ActivationRead,
    summary="启用版本（迁移落点并给出差异报告）Activate a version",
)
def activate(
    version_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    body: ActivateIn | None = None,
) -> dict[str, Any]:
    """A version with validation problems needs `override_reason` (else 409 listing them)."""
    principal.require("grids.manage")
    _version_in_scope(session, principal, version_id)
    report = versions.activate_version(
        session,
        version_id,
        width=settings.grid_sequence_width,
        override_reason=body.override_reason if body else None,
    )
    record_for(
        session,
        principal,
        "grid_version.activate",
        object_type="grid_version",
        object_id=version_id,
        reason=(report.get("override") or {}).get("reason"),
        detail={k: v for k, v in report.items() if k != "diff"},
    )
    return {"version": service.get_version(session, version_id), "report": report}


@router.get("/grid-versions/{old_id}/diff/{new_id}", summary="比较两个版本 Compare two versions")
def compare(
    old_id: int, new_id: int, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    old = _version_in_scope(session, principal, old_id)
    new = _version_in_scope(session, principal, new_id)
    return versions.compare_versions(session, old, new)
