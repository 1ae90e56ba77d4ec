"""Gather the district's own map from the database: outline, roads, water, parks, buildings."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.basemap.features import GREEN_LAYER, ROAD_LAYER, WATER_LAYER, load_features
from wangge.basemap.render import Scene
from wangge.divisions.models import Division
from wangge.grids.locating import active_versions
from wangge.grids.service import TILING_KINDS, version_grids
from wangge.registry.models import Building

# A building stored as a point (the demo's) is drawn as an apartment block of this size.
BLOCK_M = (46.0, 15.0)


def road_class(name: str) -> str:
    """Return the drawing class of a named road: 大街/大道 main roads, other named roads next."""
    return "primary" if name.endswith(("大街", "大道", "快速路", "环路")) else "secondary"


def load_scene(session: Session, county: str, *, grid_roads: bool = False) -> Scene:
    """Return the county's map features; `grid_roads` draws grid edges as minor roads.

    Grid edges are roads only where the grids were divided along roads (the demo's were);
    a real district's minor roads come from its road layer.
    """
    division = session.get(Division, county)
    land = division.geom if division is not None else None
    water = [g for _, g in load_features(session, county, WATER_LAYER)]
    green = [g for _, g in load_features(session, county, GREEN_LAYER)]
    roads: list[tuple[BaseGeometry, str, str]] = [
        (g, road_class(name), name) for name, g in load_features(session, county, ROAD_LAYER)
    ]
    if grid_roads:
        for version in active_versions(session, [county]):
            if version.layer != "social":
                continue
            grids = version_grids(session, version.id, kinds=list(TILING_KINDS["social"]))
            edges = shapely.boundary(np.asarray([g.geom for g in grids if g.geom], dtype=object))
            # Shared edges once: the union of the grids' boundaries, merged into long lines.
            net = shapely.line_merge(shapely.union_all(edges))
            roads.extend((line, "tertiary", "") for line in shapely.get_parts(net))
    return Scene(
        land=land, water=water, green=green, buildings=_buildings(session, county, water),
        roads=roads,
    )  # fmt: skip


def _buildings(session: Session, county: str, water: list[BaseGeometry]) -> list[BaseGeometry]:
    rows = session.execute(
        select(Building.id, Building.geom, Building.lon, Building.lat).where(
            Building.county_code == county
        )
    ).all()
    out: list[BaseGeometry] = []
    for bid, geom, lon, lat in rows:
        if geom is not None and geom.geom_type in ("Polygon", "MultiPolygon"):
            out.append(geom)
        elif lon is not None and lat is not None:
            out.append(_block(bid, float(lon), float(lat)))
    if water:  # a block standing in the river is a data error the map need not show
        wet = shapely.union_all(np.asarray(water, dtype=object))
        shapely.prepare(wet)
        out = [b for b in out if not wet.intersects(b)]
    return out


def _block(bid: int, lon: float, lat: float) -> BaseGeometry:
    """A rectangle footprint around a building point, turned by a fixed angle per building."""
    length, width = BLOCK_M
    angle = math.radians((bid * 37) % 60 - 30)
    kx = 111_320.0 * math.cos(math.radians(lat))
    ky = 110_574.0
    c, s = math.cos(angle), math.sin(angle)
    corners = []
    for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        mx, my = dx * length / 2, dy * width / 2
        corners.append((lon + (mx * c - my * s) / kx, lat + (mx * s + my * c) / ky))
    return shapely.Polygon(corners)
