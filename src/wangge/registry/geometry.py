"""Geometry from API and spreadsheet input: lon/lat, WKT or GeoJSON, in any supported CRS."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from wangge.common.geo import parse_crs, to_canonical_xy
from wangge.errors import ValidationFailed


def parse_geometry(
    *,
    lon: Any = None,
    lat: Any = None,
    wkt: str | None = None,
    geojson: dict[str, Any] | None = None,
    crs: str | None = None,
    field: str = "geometry",
) -> BaseGeometry | None:
    """Return a canonical (EPSG:4490) geometry from lon/lat, WKT or GeoJSON, or None."""  # fmt: skip
    geom: BaseGeometry | None = None
    try:
        if geojson:
            geom = shape(geojson)
        elif wkt:
            geom = shapely.from_wkt(wkt)
        elif lon is not None and lat is not None:
            geom = shapely.Point(float(lon), float(lat))
    except Exception:
        raise ValidationFailed(
            "几何无法解析（应为经纬度、WKT 或 GeoJSON）",
            "the geometry cannot be parsed (lon/lat, WKT or GeoJSON expected)",
            code="bad_geometry", field=field,
        ) from None  # fmt: skip
    if geom is None or geom.is_empty:
        return None
    src = parse_crs(crs or "EPSG:4490")
    geom = shapely.transform(
        geom, lambda xy: np.column_stack(to_canonical_xy(xy[:, 0], xy[:, 1], src))
    )
    minx, miny, maxx, maxy = geom.bounds
    if not (73 <= minx <= maxx <= 136 and 3 <= miny <= maxy <= 54):
        raise ValidationFailed(
            f"坐标 ({minx:.5f}, {miny:.5f}) 不在中国境内，请检查经纬度是否写反",
            f"coordinates ({minx:.5f}, {miny:.5f}) are outside China; lon and lat swapped?",
            code="bad_geometry", field=field,
        )  # fmt: skip
    return geom


def anchor(geom: BaseGeometry) -> tuple[float, float]:
    """Return the point that places a geometry in a grid (a line's midpoint, a polygon's inside)."""
    if isinstance(geom, Point):
        return geom.x, geom.y
    line = geom.geom_type == "LineString"
    point = geom.interpolate(0.5, normalized=True) if line else geom.point_on_surface()
    return point.x, point.y
