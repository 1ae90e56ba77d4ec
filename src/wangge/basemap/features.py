"""Lines and areas of the district kept in the located-point layers (no table of their own).

Named roads live in the layer `道路` (`wangge.places.roads`); water (`水系`) and parks (`绿地`)
follow the same convention: one `located_points` row per feature, `key` = its name, `lon/lat`
= a point on it, `properties` = {"名称": name, "geometry": GeoJSON}. No migration is needed;
a feature table with a geometry column is the clean next step once they are edited in the
platform.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from wangge.common.models import utcnow
from wangge.grids.locating import locate_many
from wangge.grids.models import LocatedPoint

ROAD_LAYER = "道路"  # written by wangge.places.roads
WATER_LAYER = "水系"
GREEN_LAYER = "绿地"


def save_features(
    session: Session, county: str, layer: str, features: Iterable[tuple[str, BaseGeometry]]
) -> int:
    """Replace a county's features of one layer (EPSG:4490 geometries); return how many."""
    rows = [(name, geom) for name, geom in features if not geom.is_empty]
    anchors = [geom.representative_point() for _, geom in rows]
    lon = np.array([p.x for p in anchors], dtype=float)
    lat = np.array([p.y for p in anchors], dtype=float)
    found = locate_many(session, lon, lat, county_codes=[county])
    session.execute(
        delete(LocatedPoint).where(LocatedPoint.county_code == county, LocatedPoint.layer == layer)
    )
    now = utcnow()
    values = [
        {
            "county_code": county,
            "layer": layer,
            "key": f"{name}#{i}"[:100],
            "lon": float(lon[i]),
            "lat": float(lat[i]),
            "grid_id": int(found["social"][i]) if found["social"][i] >= 0 else None,
            "unit_grid_id": int(found["unit"][i]) if found["unit"][i] >= 0 else None,
            "properties": {"名称": name, "geometry": mapping(geom)},
            "created_at": now,
            "updated_at": now,
        }
        for i, (name, geom) in enumerate(rows)
    ]
    if values:
        session.execute(insert(LocatedPoint), values)
    return len(values)


def load_features(session: Session, county: str, layer: str) -> list[tuple[str, BaseGeometry]]:
    """Return a county's features of one layer as (name, EPSG:4490 geometry)."""
    out = []
    for key, props in session.execute(
        select(LocatedPoint.key, LocatedPoint.properties).where(
            LocatedPoint.county_code == county, LocatedPoint.layer == layer
        )
    ):
        props = props or {}
        try:
            geom = shape(props["geometry"])
        except (KeyError, TypeError, ValueError, shapely.errors.GEOSException):
            continue  # a bare point imported into the layer by hand: nothing to draw
        out.append((str(props.get("名称") or key), geom))
    return out
