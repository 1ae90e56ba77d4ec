"""Named roads, kept in the located-point layer `道路` (no table of their own yet).

Each road is one `located_points` row: `key` = its name, `lon/lat` = its middle (so the row is
re-located into its grids like any point), `properties` = {"名称": name, "geometry": GeoJSON
line}. This needs no migration; a road table with a geometry column is the clean next step
once roads are edited in the platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from wangge.common.models import utcnow
from wangge.grids.locating import locate_many
from wangge.grids.models import LocatedPoint

ROAD_LAYER = "道路"
CAMERA_LAYER = "视频监控"


def save_roads(session: Session, county: str, roads: Iterable[tuple[str, BaseGeometry]]) -> int:
    """Replace the county's named roads (EPSG:4490 lines); return how many were stored."""
    import numpy as np

    rows = [(name.strip(), geom) for name, geom in roads if name and name.strip()]
    mids = [geom.interpolate(0.5, normalized=True) for _, geom in rows]
    lon = np.array([m.x for m in mids], dtype=float)
    lat = np.array([m.y for m in mids], dtype=float)
    found = locate_many(session, lon, lat, county_codes=[county])
    session.execute(
        delete(LocatedPoint).where(
            LocatedPoint.county_code == county, LocatedPoint.layer == ROAD_LAYER
        )
    )
    now = utcnow()
    values, seen = [], set()
    for i, (name, geom) in enumerate(rows):
        key = name if name not in seen else f"{name}#{i}"  # (county, layer, key) is unique
        seen.add(key)
        values.append(
            {
                "county_code": county,
                "layer": ROAD_LAYER,
                "key": key[:100],
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "grid_id": int(found["social"][i]) if found["social"][i] >= 0 else None,
                "unit_grid_id": int(found["unit"][i]) if found["unit"][i] >= 0 else None,
                "properties": {"名称": name, "geometry": mapping(geom)},
                "created_at": now,
                "updated_at": now,
            }
        )
    if values:
        session.execute(insert(LocatedPoint), values)
    from wangge.places.service import clear_cache  # this process sees its own write at once

    clear_cache()
    return len(values)


def load_roads(session: Session) -> list[tuple[str, BaseGeometry]]:
    """Return every stored named road (name, EPSG:4490 line)."""
    out = []
    for key, props in session.execute(
        select(LocatedPoint.key, LocatedPoint.properties).where(LocatedPoint.layer == ROAD_LAYER)
    ):
        props = props or {}
        try:
            geom = shape(props["geometry"])
        except (KeyError, TypeError, ValueError, shapely.errors.GEOSException):
            continue  # a point imported into the layer by hand has no line: not a road
        out.append((str(props.get("名称") or key), geom))
    return out


NAME_FIELDS = ("名称", "道路名称", "路名", "name", "NAME", "Name")


def import_roads(
    session: Session,
    path: Path,
    *,
    county: str,
    name_field: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
) -> tuple[int, int]:
    """Replace the county's roads by the named lines of a GIS file; return (roads, skipped).

    Segments of one name become one road (a street is often cut at every crossing); features
    without a name or without a line are skipped (counted), since an address needs a name.
    """
    from wangge.common.gisio import read_features
    from wangge.errors import ImportFailed

    features = read_features(path, crs=crs, encoding=encoding).features
    fields = [name_field] if name_field else list(NAME_FIELDS)
    by_name: dict[str, list[BaseGeometry]] = {}
    skipped = 0
    for f in features:
        name = next((str(f.properties[k]).strip() for k in fields if f.properties.get(k)), "")
        geom = f.geometry
        if not name or geom is None or geom.geom_type not in ("LineString", "MultiLineString"):
            skipped += 1
            continue
        by_name.setdefault(name, []).append(geom)
    if not by_name:
        raise ImportFailed(
            file=path.name,
            field=name_field or "名称",
            reason_zh=f"文件中没有带名称的线要素（名称字段：{'、'.join(fields)}）",
            reason_en=f"the file holds no named line features (name field: {', '.join(fields)})",
        )
    roads = [(n, shapely.line_merge(shapely.union_all(g))) for n, g in by_name.items()]
    return save_roads(session, county, roads), skipped
