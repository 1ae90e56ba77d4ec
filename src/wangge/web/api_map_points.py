"""The console map's 部件 (components) and 房屋 (buildings) layers: clusters or points per view."""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.clustering import cell_count
from wangge.common.geo import from_canonical_xy, parse_crs, to_canonical_xy
from wangge.errors import ValidationFailed
from wangge.registry.map_layer import CELL_PX, View, map_layer
from wangge.web.api_response import json_response
from wangge.web.i18n import EN

router = APIRouter(prefix="/web/api", include_in_schema=False)

# The cap on clusters per response: a 4K screen at 64-px cells spans ~60 × 34 = 2,000 cells
# (a padded view a little more); far beyond that the client is wrong. Points are capped by
# `limit`.
MAX_VIEW_CELLS = 10_000
MAX_ZOOM = 22
BBOX_HELP_ZH = "范围参数 bbox 应为“最小经度,最小纬度,最大经度,最大纬度”"
BBOX_HELP_EN = "bbox must be 'min lon,min lat,max lon,max lat'"


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse and check 'x0,y0,x1,y1' (west, south, east, north)."""
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise ValidationFailed(BBOX_HELP_ZH, BBOX_HELP_EN, code="bad_bbox", field="bbox") from None
    finite = all(math.isfinite(v) for v in (x0, y0, x1, y1))
    if not finite or not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ValidationFailed(
            BBOX_HELP_ZH + "，且最小值小于最大值、经度在 ±180 内、纬度在 ±90 内",
            BBOX_HELP_EN + ", with min < max, longitudes within ±180 and latitudes within ±90",
            code="bad_bbox",
            field="bbox",
        )
    return x0, y0, x1, y1


def _canonical_bbox(bbox: tuple[float, float, float, float], crs: str) -> tuple[float, ...]:
    if parse_crs(crs).name in ("EPSG:4490", "EPSG:4326"):
        return bbox
    x0, y0, x1, y1 = bbox
    xs, ys = to_canonical_xy([x0, x1, x0, x1], [y0, y0, y1, y1], crs)
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def _view(bbox: str, zoom: float, classes: str | None, limit: int, crs: str) -> View:
    box = _canonical_bbox(parse_bbox(bbox), crs)
    z = math.floor(zoom)
    if cell_count(box, z, CELL_PX) > MAX_VIEW_CELLS:  # type: ignore[arg-type]
        raise ValidationFailed(
            f"范围过大：第 {z} 级最多显示 {MAX_VIEW_CELLS} 个聚合格，请缩小范围或级别",
            f"the bbox is too large for zoom {z} (more than {MAX_VIEW_CELLS} cells)",
            code="bbox_too_large",
            field="bbox",
        )
    wanted = tuple(c.strip() for c in (classes or "").split(",") if c.strip())
    if len(wanted) > 50 or any(len(c) > 20 for c in wanted):
        raise ValidationFailed("类别筛选参数有误", "invalid class filter", field="classes")
    return View(bbox=box, zoom=z, classes=wanted, limit=limit)  # type: ignore[arg-type]


def _to_crs(body: dict[str, Any], crs: str) -> dict[str, Any]:
    """Move the positions into the base map's CRS (clusters were binned in canonical lon/lat)."""
    if parse_crs(crs).name in ("EPSG:4490", "EPSG:4326"):
        return body
    items = body.get("points") or body.get("clusters") or []
    if items:
        xs, ys = from_canonical_xy([i["lon"] for i in items], [i["lat"] for i in items], crs)
        for i, x, y in zip(items, xs, ys, strict=True):
            i["lon"], i["lat"] = round(float(x), 6), round(float(y), 6)
    return body


def _layer(
    kind: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bbox: str,
    zoom: float,
    classes: str | None,
    limit: int,
    crs: str,
) -> Response:
    body = map_layer(session, principal, kind, _view(bbox, zoom, classes, limit, crs))
    for g in body.get("groups", ()):
        g["name_en"] = EN.get(g["name"], g["name"])
    data = orjson.dumps(_to_crs(body, crs))
    return json_response(data, request, cache="no-store")


Zoom = Annotated[float, Query(ge=0, le=MAX_ZOOM, description="Web Mercator zoom (Leaflet)")]
Limit = Annotated[int, Query(ge=1, le=5000, description="most points returned")]


@router.get("/map/components")
def map_components(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bbox: str,
    zoom: Zoom,
    classes: str | None = None,
    limit: Limit = 2000,
    crs: str = "EPSG:4490",
) -> Response:
    """Return the components in a view: clusters (count, mean position, major classes) or points.

    `classes` filters by class-code prefixes (`01,0203`): a major or a minor class.
    """
    return _layer("components", request, session, principal, bbox, zoom, classes, limit, crs)


@router.get("/map/buildings")
def map_buildings(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bbox: str,
    zoom: Zoom,
    classes: str | None = None,
    limit: Limit = 2000,
    crs: str = "EPSG:4490",
) -> Response:
    """Return the buildings in a view: clusters (by purpose) or points; `classes` = purposes."""
    return _layer("buildings", request, session, principal, bbox, zoom, classes, limit, crs)
