"""What every synthetic layout family shares: the ``Layout`` it returns, the gaps buildings
keep from lines and sites, and the seeded generators the families draw from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.grids.partition import Building, DivisionInput

STREET_GAP_M = 6.0  # buildings keep this far from streets, main roads, rivers and railways
LANE_GAP_M = 2.5  # … and this far from lanes
SITE_GAP_M = 5.0  # … and from exclusive sites (apart from the site's own buildings)
Geom = BaseGeometry
PlacedBuilding = tuple[Point | Polygon, int]  # a generated building: geometry and households


@dataclass
class Layout:
    """A generated layout: the communities to divide plus flattened layers for scoring."""

    name: str
    inputs: list[DivisionInput]
    boundary: Polygon | MultiPolygon
    lines: list[LineString] = field(default_factory=list)  # preferred boundaries (streets)
    barriers: list[LineString] = field(default_factory=list)  # never crossed
    lanes: list[LineString] = field(default_factory=list)  # crossable alleys
    sites: list[Polygon] = field(default_factory=list)  # exclusive sites
    # What each barrier is: "main road", "river", "canal", "railway" or "administrative line".
    barrier_kinds: list[str] = field(default_factory=list)

    @property
    def buildings(self) -> list[Building]:
        """All buildings of all communities."""
        return [b for inp in self.inputs for b in inp.buildings]

    @property
    def households(self) -> int:
        """Households of all buildings."""
        return sum(b.households for inp in self.inputs for b in inp.buildings)


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per (seed, stream), so that parts can be redrawn alone."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    return np.random.default_rng([seed, stream])


def building_spot(g: Point | Polygon) -> tuple[float, float]:
    """The point a building is placed by (its representative point for a footprint)."""
    p = g if isinstance(g, Point) else g.representative_point()
    return (p.x, p.y)
