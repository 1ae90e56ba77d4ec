"""Lines and areas of the district the basemap draws, kept in the located-point layers.

Named roads live in the layer `道路` (`wangge.places.roads`); water (`水系`) and parks (`绿地`)
follow the same convention (`wangge.places.layers`), with `key` = name#n.
"""

from __future__ import annotations

from collections.abc import Iterable

from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from wangge.places.layers import load_layer, replace_layer

ROAD_LAYER = "道路"  # written by wangge.places.roads
WATER_LAYER = "水系"
GREEN_LAYER = "绿地"


def save_features(
    session: Session, county: str, layer: str, features: Iterable[tuple[str, BaseGeometry]]
) -> int:
    """Replace a county's features of one layer (EPSG:4490 geometries); return how many."""
    rows = [(name, geom) for name, geom in features if not geom.is_empty]
    keyed = [(f"{name}#{i}", name, g, g.representative_point()) for i, (name, g) in enumerate(rows)]
    return replace_layer(session, county, layer, keyed)


def load_features(session: Session, county: str, layer: str) -> list[tuple[str, BaseGeometry]]:
    """Return a county's features of one layer as (name, EPSG:4490 geometry)."""
    return load_layer(session, layer, county)
