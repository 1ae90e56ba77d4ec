"""Named roads, kept in the located-point layer `道路` (no table of their own yet).

Each road is one row of the layer (`wangge.places.layers`): `key` = its name, `lon/lat` = its
middle.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from wangge.places.layers import load_layer, replace_layer

ROAD_LAYER = "道路"
CAMERA_LAYER = "视频监控"


def save_roads(session: Session, county: str, roads: Iterable[tuple[str, BaseGeometry]]) -> int:
    """Replace the county's named roads (EPSG:4490 lines); return how many were stored."""
    rows = [(name.strip(), geom) for name, geom in roads if name and name.strip()]
    features, seen = [], set()
    for i, (name, geom) in enumerate(rows):
        key = name if name not in seen else f"{name}#{i}"  # (county, layer, key) is unique
        seen.add(key)
        # The middle of the road anchors it in its grids.
        features.append((key, name, geom, geom.interpolate(0.5, normalized=True)))
    stored = replace_layer(session, county, ROAD_LAYER, features)
    from wangge.places.service import clear_cache  # this process sees its own write at once

    clear_cache()
    return stored


def load_roads(session: Session, county: str | None = None) -> list[tuple[str, BaseGeometry]]:
    """Return the stored named roads (name, EPSG:4490 line) of a county, or all."""
    return load_layer(session, ROAD_LAYER, county)


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
