"""Draw a raster tile of the district's own map with Pillow: land, parks, water, buildings, roads.

A `Scene` holds the district's features in lon/lat (CGCS2000); `render_tile` projects the ones
in a tile to Web Mercator pixels and draws them at twice the size, then scales down (Pillow's
lines have no anti-aliasing; the down-scaling gives it). Road widths follow their class in
metres, with a least width in pixels so roads stay visible when zoomed out.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import shapely
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.basemap.tiles import TILE, tile_bounds

SS = 2  # supersampling factor
OUTSIDE = "#e6e2da"  # beyond the district
LAND = "#f5f2ec"
GREEN = "#cfe6b8"
WATER = "#a9d3e3"
WATER_EDGE = "#86b9cf"
BUILDING = "#d8cfc6"
BUILDING_EDGE = "#bdb1a5"
LABEL = "#3d3d3d"


@dataclass(frozen=True)
class RoadClass:
    """How one class of road is drawn."""

    width_m: float  # carriageway width
    min_px: float  # least width on screen
    fill: str
    casing: str
    min_zoom: int


ROAD_CLASSES: dict[str, RoadClass] = {
    "primary": RoadClass(26.0, 2.6, "#fbd3a0", "#d09a5c", 10),
    "secondary": RoadClass(18.0, 1.8, "#fbf7c9", "#bdb68a", 11),
    "tertiary": RoadClass(10.0, 1.0, "#ffffff", "#c6beb4", 13),
    "service": RoadClass(5.0, 0.8, "#ffffff", "#d3ccc3", 15),
}
LABEL_MIN_ZOOM = 15
BUILDING_MIN_ZOOM = 14


@dataclass
class Scene:
    """The district's features in lon/lat, indexed for tile queries."""

    land: BaseGeometry | None = None
    water: list[BaseGeometry] = field(default_factory=list)
    green: list[BaseGeometry] = field(default_factory=list)
    buildings: list[BaseGeometry] = field(default_factory=list)
    roads: list[tuple[BaseGeometry, str, str]] = field(default_factory=list)  # geom, class, name

    def __post_init__(self) -> None:
        self._trees = {
            "water": STRtree(self.water),
            "green": STRtree(self.green),
            "buildings": STRtree(self.buildings),
            "roads": STRtree([r[0] for r in self.roads]),
        }
        if self.land is not None:
            shapely.prepare(self.land)

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Return the lon/lat box of everything in the scene (None when empty)."""
        geoms = [g for g in [self.land, *self.water, *self.green] if g is not None]
        geoms += self.buildings + [r[0] for r in self.roads]
        if not geoms:
            return None
        b = shapely.total_bounds(np.asarray(geoms, dtype=object))
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def query(self, layer: str, box: BaseGeometry) -> list[int]:
        """Return the indexes of a layer's features that meet a box."""
        return [int(i) for i in self._trees[layer].query(box, predicate="intersects")]


def metres_per_px(z: int, lat: float) -> float:
    """Return ground metres per screen pixel at a zoom and latitude."""
    return 156_543.033_928 * math.cos(math.radians(lat)) / (1 << z)


class _Canvas:
    """Projects lon/lat to the supersampled pixels of one tile."""

    def __init__(self, z: int, x: int, y: int) -> None:
        self.n = TILE * (1 << z)
        self.ox, self.oy = x * TILE, y * TILE

    def px(self, coords: np.ndarray) -> list[tuple[float, float]]:
        lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.05112878, 85.05112878)
        gx = (lon + 180.0) / 360.0 * self.n
        gy = (0.5 - np.arctanh(np.sin(np.radians(lat))) / (2 * math.pi)) * self.n
        return list(
            zip(((gx - self.ox) * SS).tolist(), ((gy - self.oy) * SS).tolist(), strict=True)
        )


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]


def _lines(geom: BaseGeometry) -> list[BaseGeometry]:
    out = []
    for g in shapely.get_parts(geom):
        if g.geom_type == "LineString":
            out.append(g)
        elif g.geom_type in ("Polygon", "LinearRing"):
            out.extend(shapely.get_parts(shapely.boundary(g)))
    return out


def _fill(draw: ImageDraw.ImageDraw, c: _Canvas, geom: BaseGeometry, colour: str, hole: str,
          outline: str | None = None) -> None:  # fmt: skip
    for poly in _polygons(geom):
        pts = c.px(shapely.get_coordinates(poly.exterior))
        if len(pts) >= 3:
            draw.polygon(pts, fill=colour, outline=outline, width=SS if outline else 0)
        for ring in poly.interiors:  # Pillow has no holes: paint them back
            inner = c.px(shapely.get_coordinates(ring))
            if len(inner) >= 3:
                draw.polygon(inner, fill=hole)


@lru_cache(maxsize=1)
def _font_path() -> str | None:
    """Return a font file with Chinese glyphs (labels are left out without one)."""
    try:
        from matplotlib import font_manager
    except ImportError:  # pragma: no cover
        return None
    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("Noto Sans CJK", "Noto Serif CJK", "WenQuanYi", "SimHei")):
            return str(f.fname)
    return None


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | None:
    path = _font_path()
    return ImageFont.truetype(path, size) if path else None


def render_tile(scene: Scene, z: int, x: int, y: int, *, fmt: str = "png") -> bytes:
    """Return the encoded image of XYZ tile (z, x, y) of the scene."""
    west, south, east, north = tile_bounds(z, x, y)
    lat = (south + north) / 2
    mpp = metres_per_px(z, lat)
    # Look a little beyond the tile: wide roads and labels near its edge reach into it.
    pad = (east - west) * 0.25
    box = shapely.box(west - pad, south - pad, east + pad, north + pad)
    c = _Canvas(z, x, y)
    size = TILE * SS
    im = Image.new("RGB", (size, size), OUTSIDE)
    draw = ImageDraw.Draw(im)
    if scene.land is not None and scene.land.intersects(box):
        _fill(draw, c, scene.land.intersection(box), LAND, OUTSIDE)
    for i in scene.query("green", box):
        _fill(draw, c, scene.green[i], GREEN, LAND)
    for i in scene.query("water", box):
        _fill(draw, c, scene.water[i], WATER, LAND, WATER_EDGE)
    if z >= BUILDING_MIN_ZOOM:
        for i in scene.query("buildings", box):
            _fill(draw, c, scene.buildings[i], BUILDING, BUILDING, BUILDING_EDGE)
    roads = [(i, scene.roads[i]) for i in scene.query("roads", box)]
    order = list(ROAD_CLASSES)[::-1]  # minor roads first, main roads on top
    roads.sort(key=lambda r: order.index(r[1][1]) if r[1][1] in order else -1)
    drawn = [(geom, ROAD_CLASSES[cls], name) for _, (geom, cls, name) in roads
             if cls in ROAD_CLASSES and z >= ROAD_CLASSES[cls].min_zoom]  # fmt: skip
    for casing in (True, False):
        for geom, rc, _ in drawn:
            w = max(rc.width_m / mpp, rc.min_px)
            width = round((w + (1.6 if casing else 0)) * SS)
            colour = rc.casing if casing else rc.fill
            for line in _lines(geom.intersection(box)):
                pts = c.px(shapely.get_coordinates(line))
                if len(pts) >= 2:
                    draw.line(pts, fill=colour, width=max(1, width), joint="curve")
    if z >= LABEL_MIN_ZOOM:
        _labels(draw, c, [(g, n) for g, rc, n in drawn if n and rc.width_m >= 10], z)
    out = im.resize((TILE, TILE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if fmt in ("jpg", "jpeg"):
        out.save(buf, "JPEG", quality=85)
    elif fmt == "webp":
        out.save(buf, "WEBP", quality=85)
    else:  # a palette of 96 colours: tiles a third of the size, no visible change
        out.quantize(96, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=False)
    return buf.getvalue()


def _labels(draw: ImageDraw.ImageDraw, c: _Canvas, named: Sequence[tuple[BaseGeometry, str]],
            z: int) -> None:  # fmt: skip
    """Write road names at fixed points along each road, so neighbour tiles agree."""
    font = _font(13 * SS)
    if font is None:
        return
    spacing_deg = 360.0 / (1 << z) * 2.5  # one name every ~2.5 tiles of road
    for geom, name in named:
        for line in _lines(geom):
            k = max(1, int(line.length / spacing_deg))
            for t in np.linspace(0.5 / k, 1 - 0.5 / k, k):
                p = line.interpolate(float(t), normalized=True)
                (px, py), = c.px(np.array([[p.x, p.y]]))  # fmt: skip
                if -200 * SS < px < (TILE + 200) * SS and -40 * SS < py < (TILE + 40) * SS:
                    draw.text((px, py), name, font=font, fill=LABEL, anchor="mm",
                              stroke_width=2 * SS, stroke_fill="#ffffff")  # fmt: skip
