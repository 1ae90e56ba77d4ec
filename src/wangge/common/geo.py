"""Coordinate systems: CGCS2000 storage, GCJ-02/BD-09 offsets, Gauss-Krüger metres, areas.

The canonical storage CRS is CGCS2000 lon/lat (EPSG:4490). At web-map precision it is
numerically the same as WGS84 (EPSG:4326) — centimetres apart — so the two are treated as
identical and no datum shift is applied between them (see standards notes §6).

GCJ-02 (高德/腾讯) and BD-09 (百度) are deliberately obfuscated offsets of WGS84 that no
EPSG code, PROJ pipeline or file format describes. No well-kept library implements them,
so the published formulas are hand-written below, vectorised with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from wangge.errors import ValidationFailed

FloatArray = NDArray[np.float64]
G = TypeVar("G", bound=BaseGeometry)

CANONICAL_EPSG = 4490
# 4326 and 4490 are both "lon/lat on (practically) the same ellipsoid": identity for us.
_LONLAT_IDENTICAL = frozenset({4326, 4490})

# --- GCJ-02 / BD-09 constants (Krasovsky ellipsoid as used by the GCJ-02 formula) ---------
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
# Outside this box the offset formulas are not applied (the de-facto convention).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)  # min lon, min lat, max lon, max lat
_INVERSE_TOL_DEG = 1e-12  # ~0.1 µm: far below the sub-millimetre requirement
_INVERSE_MAX_ITER = 30

# --- CGCS2000 3-degree Gauss-Krüger, truncated false easting (FE = 500 000 m) -----------
_GK3_FIRST_EPSG = 4534  # central meridian 75°E
_GK3_LAST_EPSG = 4554  # central meridian 135°E
_GK3_FIRST_CM = 75.0

# CGCS2000 ellipsoid (GRS80-like, differing only in 1/f's 9th digit).
GEOD = pyproj.Geod(a=6378137.0, rf=298.257222101)


# ======================================================================================
# Scalar/array plumbing
# ======================================================================================


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return float64 copies-or-views of lon and lat broadcast to a common shape."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x, y


def _out(x: FloatArray, y: FloatArray) -> tuple[Any, Any]:
    """Return Python floats for 0-d input so scalar callers get plain numbers back."""
    if np.ndim(x) == 0:
        return float(x), float(y)
    return x, y


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the point lies outside the box in which the GCJ-02 offset applies."""
    x, y = _as_arrays(lon, lat)
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX
    return (x < min_lon) | (x > max_lon) | (y < min_lat) | (y > max_lat)


# ======================================================================================
# GCJ-02 and BD-09 (hand-written: no maintained library covers these offsets)
# ======================================================================================


def _transform_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    """GCJ-02 latitude polynomial, centred at (lng-105, lat-35)."""
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: FloatArray, y: FloatArray) -> FloatArray:
    """GCJ-02 longitude polynomial, centred at (lng-105, lat-35)."""
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Offset in degrees that GCJ-02 adds to a WGS84 point (zero outside China)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlng = _transform_lng(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlng = (dlng * 180.0) / (_KRASOVSKY_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS84/CGCS2000 lon/lat to GCJ-02 (高德/腾讯)."""
    x, y = _as_arrays(lon, lat)
    dx, dy = _gcj_delta(x, y)
    return _out(x + dx, y + dy)


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[Any, Any]],
    tx: FloatArray,
    ty: FloatArray,
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve forward(x, y) = (tx, ty) by fixed-point iteration from the guess (x, y).

    The offsets vary slowly with position, so each step shrinks the error by orders of
    magnitude; a handful of steps reach ~1e-12° (sub-micrometre).
    """
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = np.asarray(fx) - tx, np.asarray(fy) - ty
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < _INVERSE_TOL_DEG) and np.all(np.abs(ey) < _INVERSE_TOL_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 to WGS84 by iteration (the offset has no closed-form inverse)."""
    gx, gy = _as_arrays(lon, lat)
    return _out(*_invert(wgs84_to_gcj02, gx, gy, gx.copy(), gy.copy()))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 to BD-09 (百度)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_approx(bx: FloatArray, by: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The published BD-09 inverse formula: only accurate to a few centimetres."""
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 (百度) to GCJ-02, refining the published formula to sub-millimetre."""
    bx, by = _as_arrays(lon, lat)
    x, y = _bd09_to_gcj02_approx(bx, by)
    return _out(*_invert(gcj02_to_bd09, bx, by, x, y))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS84/CGCS2000 lon/lat to BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 to WGS84/CGCS2000 lon/lat (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ======================================================================================
# CRS identification
# ======================================================================================


@dataclass(frozen=True)
class Crs:
    """A coordinate system the platform can convert from/to canonical EPSG:4490.

    `kind` is "epsg" (anything PROJ knows, optionally with a WKT definition when the file's
    CRS has no EPSG code), "gcj02" or "bd09" (offset systems no file format can declare).
    """

    kind: str
    epsg: int | None = None
    wkt: str | None = None

    @property
    def name(self) -> str:
        """Human-readable identifier such as "EPSG:4490", "GCJ02" or "BD09"."""
        if self.kind == "gcj02":
            return "GCJ02"
        if self.kind == "bd09":
            return "BD09"
        if self.epsg is not None:
            return f"EPSG:{self.epsg}"
        return "WKT"

    @property
    def is_canonical(self) -> bool:
        """True when coordinates need no conversion to be stored (4490 or 4326)."""
        return self.kind == "epsg" and self.epsg in _LONLAT_IDENTICAL

    @property
    def is_offset(self) -> bool:
        """True for the Chinese web-map offset systems GCJ-02 and BD-09."""
        return self.kind in ("gcj02", "bd09")

    @property
    def file_epsg(self) -> int | None:
        """EPSG code to declare in a file; offset systems are written as plain lon/lat."""
        return 4326 if self.is_offset else self.epsg

    def pyproj_crs(self) -> pyproj.CRS:
        """The pyproj CRS (offset systems map to WGS84, their underlying datum)."""
        if self.is_offset:
            return pyproj.CRS.from_epsg(4326)
        if self.wkt is not None:
            return pyproj.CRS.from_user_input(self.wkt)
        return pyproj.CRS.from_epsg(int(self.epsg or CANONICAL_EPSG))

    def __str__(self) -> str:
        return self.name


CGCS2000 = Crs("epsg", 4490)
WGS84 = Crs("epsg", 4326)
GCJ02 = Crs("gcj02")
BD09 = Crs("bd09")

_ALIASES: dict[str, Crs] = {
    "CGCS2000": CGCS2000,
    "CGCS2000LONLAT": CGCS2000,
    "CHINAGEODETICCOORDINATESYSTEM2000": CGCS2000,
    "WGS84": WGS84,
    "CRS84": WGS84,
    "OGCCRS84": WGS84,
    "GCJ02": GCJ02,
    "GCJ": GCJ02,
    "MARS": GCJ02,
    "AMAP": GCJ02,
    "BD09": BD09,
    "BD09LL": BD09,
    "BAIDU": BD09,
}


def _bad_crs(text: object, why_en: str = "unknown coordinate system") -> ValidationFailed:
    """Build the standard bad-CRS error."""
    return ValidationFailed(
        f"无法识别的坐标系：{text!s}",
        f"{why_en}: {text!s}",
        code="bad_crs",
        field="crs",
    )


@lru_cache(maxsize=512)
def _crs_from_epsg(code: int) -> Crs:
    """Validate an EPSG code against PROJ's database (horizontal CRSs only)."""
    if code in _LONLAT_IDENTICAL:
        return Crs("epsg", code)
    try:
        crs = pyproj.CRS.from_epsg(code)
    except CRSError as exc:
        raise _bad_crs(f"EPSG:{code}") from exc
    if not (crs.is_geographic or crs.is_projected) or len(crs.axis_info) not in (2, 3):
        raise _bad_crs(f"EPSG:{code}", "not a geographic or projected coordinate system")
    if len(crs.axis_info) == 3:
        # GDAL labels GeoJSON with heights EPSG:4979; heights are dropped, so use the 2D CRS.
        flat = crs.to_2d()
        flat_code = flat.to_epsg()
        return _crs_from_epsg(flat_code) if flat_code else Crs("epsg", None, flat.to_wkt())
    return Crs("epsg", code)


def _crs_from_definition(text: str) -> Crs:
    """Parse WKT/PROJ text, preferring its EPSG code when PROJ can identify one."""
    try:
        crs = pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise _bad_crs(text[:80]) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise _bad_crs(text[:80], "not a geographic or projected coordinate system")
    # PROJ also knows other planets ("Mars-2000"); only terrestrial systems make sense here.
    if crs.ellipsoid is None or not 6.35e6 < crs.ellipsoid.semi_major_metre < 6.4e6:
        raise _bad_crs(text[:80], "not a coordinate system on Earth")
    try:
        epsg = crs.to_epsg(min_confidence=70)
    except ValueError as exc:  # PROJ accepts "EPSG:4490.0", then its code is not an int
        raise _bad_crs(text[:80]) from exc
    if epsg is not None:
        return _crs_from_epsg(epsg)
    if len(crs.axis_info) == 3:
        crs = crs.to_2d()
    return Crs("epsg", None, crs.to_wkt())


def parse_crs(text: str | int | Crs | None) -> Crs:
    """Parse "EPSG:4490", "4490", 4326, "CGCS2000", "WGS84", "GCJ-02", "BD09", WKT… into a Crs."""
    if isinstance(text, Crs):
        return text
    if text is None:
        raise _bad_crs(text, "no coordinate system given")
    if isinstance(text, bool):  # bool is an int subclass; True is not EPSG:1
        raise _bad_crs(text)
    if isinstance(text, int):
        return _crs_from_epsg(text)
    raw = str(text).strip()
    key = "".join(ch for ch in raw.upper() if ch.isalnum())
    if key in _ALIASES:
        return _ALIASES[key]
    upper = raw.upper()
    if upper.isdigit():
        return _crs_from_epsg(int(upper))
    if upper.startswith("EPSG:") and upper[5:].strip().isdigit():
        return _crs_from_epsg(int(upper[5:]))
    if not raw:
        raise _bad_crs(text, "no coordinate system given")
    return _crs_from_definition(raw)


# ======================================================================================
# Conversions to/from canonical EPSG:4490
# ======================================================================================


@lru_cache(maxsize=256)
def _transformer(src: Crs, dst: Crs) -> pyproj.Transformer:
    """Cached lon/lat-ordered transformer between two PROJ-describable CRSs."""
    return pyproj.Transformer.from_crs(src.pyproj_crs(), dst.pyproj_crs(), always_xy=True)


def to_canonical_xy(x: ArrayLike, y: ArrayLike, crs: str | int | Crs) -> tuple[Any, Any]:
    """Convert coordinates in `crs` to canonical EPSG:4490 lon/lat."""
    src = parse_crs(crs)
    if src.kind == "gcj02":
        return gcj02_to_wgs84(x, y)
    if src.kind == "bd09":
        return bd09_to_wgs84(x, y)
    xa, ya = _as_arrays(x, y)
    if src.is_canonical:
        return _out(xa.copy(), ya.copy())
    lon, lat = _transformer(src, CGCS2000).transform(xa, ya)
    return _out(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))


def from_canonical_xy(lon: ArrayLike, lat: ArrayLike, crs: str | int | Crs) -> tuple[Any, Any]:
    """Convert canonical EPSG:4490 lon/lat to coordinates in `crs`."""
    dst = parse_crs(crs)
    if dst.kind == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if dst.kind == "bd09":
        return wgs84_to_bd09(lon, lat)
    xa, ya = _as_arrays(lon, lat)
    if dst.is_canonical:
        return _out(xa.copy(), ya.copy())
    x, y = _transformer(CGCS2000, dst).transform(xa, ya)
    return _out(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


XYFunc = Callable[[ArrayLike, ArrayLike], tuple[Any, Any]]


def _apply_xy(geom: G, func: XYFunc) -> G:
    """Run an (x, y) -> (x, y) function over every vertex; the result is 2D."""
    if geom is None or geom.is_empty:
        return geom

    def _coords(xy: FloatArray) -> FloatArray:
        nx, ny = func(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(nx, dtype=np.float64), np.asarray(ny, dtype=np.float64)])

    return shapely.transform(geom, _coords)


def to_canonical(geom: G, crs: str | int | Crs) -> G:
    """Return `geom` (in `crs`) converted to canonical EPSG:4490 lon/lat."""
    src = parse_crs(crs)
    if src.is_canonical:
        return geom
    return _apply_xy(geom, lambda x, y: to_canonical_xy(x, y, src))


def from_canonical(geom: G, crs: str | int | Crs) -> G:
    """Return canonical EPSG:4490 `geom` converted to `crs`."""
    dst = parse_crs(crs)
    if dst.is_canonical:
        return geom
    return _apply_xy(geom, lambda x, y: from_canonical_xy(x, y, dst))


# ======================================================================================
# Metres: Gauss-Krüger zones, geodesic area and length
# ======================================================================================


def metric_crs_for(lon: float) -> int:
    """EPSG code of the CGCS2000 3° Gauss-Krüger zone (4534–4554) nearest to `lon`."""
    if not math.isfinite(lon):
        raise _bad_crs(lon, "longitude is not a finite number")
    index = round((lon - _GK3_FIRST_CM) / 3.0)
    return _GK3_FIRST_EPSG + min(max(index, 0), _GK3_LAST_EPSG - _GK3_FIRST_EPSG)


def to_metric(geom: G, epsg: int | None = None) -> tuple[G, int]:
    """Project canonical `geom` to a Gauss-Krüger zone (chosen from its centre if not given)."""
    if epsg is None:
        if geom.is_empty:
            epsg = metric_crs_for(_GK3_FIRST_CM)
        else:
            min_x, _, max_x, _ = geom.bounds
            epsg = metric_crs_for((min_x + max_x) / 2.0)
    return from_canonical(geom, epsg), epsg


def from_metric(geom: G, epsg: int) -> G:
    """Convert a geometry in Gauss-Krüger metres (`epsg`) back to canonical lon/lat."""
    return to_canonical(geom, epsg)


def _ring_areas(rings: NDArray[np.object_]) -> FloatArray:
    """Unsigned geodesic area of each closed ring, in m²."""
    xy, index = shapely.get_coordinates(rings, return_index=True)
    starts = np.flatnonzero(np.diff(index)) + 1
    out = np.zeros(len(rings), dtype=np.float64)
    if len(index) == 0:
        return out
    owners = index[np.concatenate([[0], starts])]
    # One C call per ring: pyproj has no batched polygon-area API.
    for owner, xs, ys in zip(
        owners, np.split(xy[:, 0], starts), np.split(xy[:, 1], starts), strict=True
    ):
        area, _ = GEOD.polygon_area_perimeter(xs, ys)
        out[owner] = abs(area)
    return out


def areas_m2(geoms: Sequence[BaseGeometry | None] | NDArray[np.object_]) -> FloatArray:
    """Geodesic areas (m², CGCS2000 ellipsoid) of many canonical geometries; 0 for non-areal."""
    arr = np.asarray(geoms, dtype=object)
    result = np.zeros(len(arr), dtype=np.float64)
    if len(arr) == 0:
        return result
    # Explode multi-parts and collections so only simple polygons remain.
    parts, part_owner = shapely.get_parts(arr, return_index=True)
    is_polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    polys, owner = parts[is_polygon], part_owner[is_polygon]
    if len(polys) == 0:
        return result
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    # get_rings lists each polygon's exterior first, then its holes.
    is_exterior = np.ones(len(rings), dtype=bool)
    is_exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    signed = np.where(is_exterior, 1.0, -1.0) * _ring_areas(rings)
    np.add.at(result, owner[ring_poly], signed)
    return result


def area_m2(geom: BaseGeometry | None) -> float:
    """Geodesic area in m² of a canonical (EPSG:4490) geometry; 0 for points and lines."""
    if geom is None:
        return 0.0
    return float(areas_m2([geom])[0])


def length_m(geom: BaseGeometry | None) -> float:
    """Geodesic length in m of a canonical geometry (perimeter for polygons)."""
    if geom is None or geom.is_empty:
        return 0.0
    return float(GEOD.geometry_length(geom))
