"""HTTP routes for divisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.geo import parse_crs
from wangge.common.geojson import collection, feature
from wangge.divisions import service
from wangge.divisions.schemas import DivisionRead
from wangge.errors import NotFound
from wangge.grids.locating import active_versions
from wangge.grids.service import TILING_KINDS, version_grids

router = APIRouter(prefix="/divisions", tags=["divisions 行政区划"])


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
