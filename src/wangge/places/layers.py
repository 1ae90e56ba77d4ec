"""Named lines and areas kept in the located-point layers (roads, water, parks): no table of
their own.

One `located_points` row per feature: `key` unique in (county, layer), `lon/lat` = a point on
it (so the row is re-located into its grids like any point), `properties` = {"名称": name,
"geometry": GeoJSON}. No migration is needed; a feature table with a geometry column is the
clean next step once they are edited in the platform.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from wangge.common.models import utcnow
from wangge.grids.locating import locate_many
from wangge.grids.models import LocatedPoint

# (key, name, geometry, anchor point) of one feature
Feature = tuple[str, str, BaseGeometry, Point]


def replace_layer(session: Session, county: str, layer: str, rows: Sequence[Feature]) -> int:
    """Replace a county's features of one layer (EPSG:4490); return how many were stored."""
    lon = np.array([anchor.x for *_, anchor in rows], dtype=float)
    lat = np.array([anchor.y for *_, anchor in rows], dtype=float)
    found = locate_many(session, lon, lat, county_codes=[county])
    session.execute(
        delete(LocatedPoint).where(LocatedPoint.county_code == county, LocatedPoint.layer == layer)
    )
    now = utcnow()
    values = [
        {
            "county_code": county,
            "layer": layer,
            "key": key[:100],
            "lon": float(lon[i]),
            "lat": float(lat[i]),
            "grid_id": int(found["social"][i]) if found["social"][i] >= 0 else None,
            "unit_grid_id": int(found["unit"][i]) if found["unit"][i] >= 0 else None,
            "properties": {"名称": name, "geometry": mapping(geom)},
            "created_at": now,
            "updated_at": now,
        }
        for i, (key, name, geom, _anchor) in enumerate(rows)
    ]
    if values:
        session.execute(insert(LocatedPoint), values)
    return len(values)


def load_layer(
    session: Session, layer: str, county: str | None = None
) -> list[tuple[str, BaseGeometry]]:
    """Return the features of one layer (of a county, or all) as (name, EPSG:4490 geometry)."""
    query = select(LocatedPoint.key, LocatedPoint.properties).where(LocatedPoint.layer == layer)
    if county is not None:
        query = query.where(LocatedPoint.county_code == county)
    out = []
    for key, props in session.execute(query):
        props = props or {}
        try:
            geom = shape(props["geometry"])
        except (KeyError, TypeError, ValueError, shapely.errors.GEOSException):
            continue  # a bare point imported into the layer by hand: no line or area
        out.append((str(props.get("名称") or key), geom))
    return out
