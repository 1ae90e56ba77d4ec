"""The console map's pipelines: line components drawn as lines from street zoom on."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from shapely.geometry import mapping

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.geo import from_canonical_xy, parse_crs
from wangge.errors import ValidationFailed
from wangge.registry.map_lines import LINES_ZOOM, lines_in_view
from wangge.web.api_map_points import _canonical_bbox, parse_bbox
from wangge.web.api_response import json_response

router = APIRouter(prefix="/web/api", include_in_schema=False)
# A street view spans about 2 × 1.5 km; a much larger box at this zoom is a client error.
MAX_SPAN_DEG = 0.5


def _to_crs(geom: Any, crs: str) -> Any:
    """Move a canonical geometry into the base map's CRS (GCJ-02 / BD-09 tiles)."""
    if parse_crs(crs).name in ("EPSG:4490", "EPSG:4326"):
        return geom

    def move(xy: np.ndarray) -> np.ndarray:
        xs, ys = from_canonical_xy(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)])

    return shapely.transform(geom, move)


@router.get("/map/lines")
def map_lines(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bbox: str,
    zoom: Annotated[float, Query(ge=0, le=22, description="Web Mercator zoom (Leaflet)")],
    classes: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    crs: str = "EPSG:4490",
) -> Response:
    """Return pipelines and other line components in the view as GeoJSON (zoom ≥ 16 only)."""
    box = _canonical_bbox(parse_bbox(bbox), crs)
    z = math.floor(zoom)
    if z < LINES_ZOOM:  # below street zoom the clustered 部件 layer stands for them
        body: dict[str, Any] = {"type": "FeatureCollection", "features": [], "min_zoom": LINES_ZOOM}
    else:
        if box[2] - box[0] > MAX_SPAN_DEG or box[3] - box[1] > MAX_SPAN_DEG:
            raise ValidationFailed(
                f"范围过大：第 {z} 级的范围不应超过 {MAX_SPAN_DEG} 度",
                f"the bbox is too large for zoom {z} (over {MAX_SPAN_DEG} degrees)",
                code="bbox_too_large", field="bbox",
            )  # fmt: skip
        wanted = tuple(c.strip() for c in (classes or "").split(",") if c.strip())
        if len(wanted) > 50 or any(len(c) > 20 for c in wanted):
            raise ValidationFailed("类别筛选参数有误", "invalid class filter", field="classes")
        body = lines_in_view(session, principal, box, classes=wanted, limit=limit)  # type: ignore[arg-type]
        for f in body["features"]:
            f["geometry"] = mapping(shapely.set_precision(_to_crs(f["geometry"], crs), 1e-7))
        body["min_zoom"] = LINES_ZOOM
    return json_response(body, request, cache="no-store")
