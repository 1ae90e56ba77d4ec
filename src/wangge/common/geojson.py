"""GeoJSON output for any row with a geometry (coordinates converted to the asked CRS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from wangge.common.geo import Crs, from_canonical


def feature(
    geom: BaseGeometry | None, properties: dict[str, Any], crs: Crs | None = None
) -> dict[str, Any]:
    """Return one GeoJSON Feature; geometry converted from EPSG:4490 when `crs` is given."""
    if geom is not None and crs is not None:
        geom = from_canonical(geom, crs)
    return {
        "type": "Feature",
        "geometry": orjson.loads(shapely.to_geojson(geom)) if geom is not None else None,
        "properties": properties,
    }


def collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Wrap features in a FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(features)}
