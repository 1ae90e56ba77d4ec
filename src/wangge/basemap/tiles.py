"""Web Mercator (EPSG:3857) XYZ tile arithmetic: PURE, no I/O.

Leaflet's default CRS and every tile source we support (天地图 `_w`, XYZ, WMTS
GoogleMapsCompatible, MBTiles) use it. Lon/lat are CGCS2000 ≈ WGS84 (centimetres apart).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

TILE = 256
MAX_LAT = 85.0511287798066  # the square world of Web Mercator
MAX_ZOOM = 22


def world_px(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Return the global pixel (x right, y down) of a lon/lat at zoom z."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    n = TILE * (1 << z)
    x = (lon + 180.0) / 360.0 * n
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return x, y


def px_lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    """Return the lon/lat of a global pixel at zoom z (inverse of `world_px`)."""
    n = TILE * (1 << z)
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lon, lat


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) in degrees of an XYZ tile."""
    west, north = px_lonlat(x * TILE, y * TILE, z)
    east, south = px_lonlat((x + 1) * TILE, (y + 1) * TILE, z)
    return west, south, east, north


def valid_tile(z: int, x: int, y: int) -> bool:
    """Return True for a tile that exists in the XYZ pyramid (0 ≤ x, y < 2^z, z ≤ 22)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def tms_row(z: int, y: int) -> int:
    """Return the MBTiles (TMS) row of an XYZ row: TMS counts rows from the south."""
    return (1 << z) - 1 - y


def tiles_covering(
    bounds: tuple[float, float, float, float], z: int
) -> Iterator[tuple[int, int, int]]:
    """Yield the XYZ tiles (z, x, y) that cover a lon/lat box at zoom z, row by row."""
    west, south, east, north = bounds
    x0, y0 = world_px(west, north, z)
    x1, y1 = world_px(east, south, z)
    last = (1 << z) - 1
    for ty in range(max(0, int(y0 // TILE)), min(last, int(y1 // TILE)) + 1):
        for tx in range(max(0, int(x0 // TILE)), min(last, int(x1 // TILE)) + 1):
            yield z, tx, ty


def count_tiles(bounds: tuple[float, float, float, float], zooms: range) -> int:
    """Return how many tiles cover a box over a range of zooms."""
    return sum(1 for z in zooms for _ in tiles_covering(bounds, z))


def parse_zooms(text: str) -> range:
    """Read "11-16" or "14" as a range of zoom levels (both ends included)."""
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        a, b = -1, -1
    if not (0 <= a <= b <= MAX_ZOOM):
        raise ValueError(
            f'缩放级别应为 0–{MAX_ZOOM} 的 "起-止"，如 11-16：{text!r} / zoom levels must be '
            f'"from-to" within 0–{MAX_ZOOM}, e.g. 11-16: {text!r}'
        )
    return range(a, b + 1)
