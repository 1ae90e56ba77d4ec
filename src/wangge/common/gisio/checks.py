"""Checking a raw layer and converting it to canonical CGCS2000 lon/lat (EPSG:4490).

Every geometry must be present (when required), non-empty, numeric, inside China after
conversion, and valid. The first problem raises `ImportFailed` naming the feature; invalid
geometries are refused, never repaired silently: the caller decides whether to fix the data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray

from wangge.common import geo
from wangge.common.geo import Crs
from wangge.common.gisio.model import Feature, FeatureSet, RawLayer, fail, object_array
from wangge.errors import DomainError


def _in_china(x: float, y: float) -> bool:
    """True when (x, y) as lon/lat lies in the China box used for the offset formulas."""
    return not bool(geo.out_of_china(x, y))


def _check_present(raw: RawLayer, file: str, require: bool) -> None:
    """Refuse missing (when required) and empty geometries."""
    for number, g in zip(raw.numbers, raw.geometries, strict=True):
        if g is None:
            if require:
                raise fail(file, "缺少几何", "the geometry is missing", feature=number)
        elif g.is_empty:
            raise fail(file, "几何为空", "the geometry is empty", feature=number)


def _first_bad_vertex(
    geoms: NDArray[np.object_], bad: Callable[[NDArray[np.float64]], NDArray[np.bool_]]
) -> tuple[int, int] | None:
    """(geometry index, vertex index) of the first vertex flagged by `bad`, or None."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    flagged = np.flatnonzero(bad(coords))
    if len(flagged) == 0:
        return None
    return int(owner[flagged[0]]), int(flagged[0])


def _check_numeric(geoms: NDArray[np.object_], numbers: list[int], file: str) -> None:
    """Refuse NaN/infinite coordinates (GDAL yields them for unparseable numbers)."""

    def bad(c: NDArray[np.float64]) -> NDArray[np.bool_]:
        return np.asarray(~np.isfinite(c).all(axis=1))

    hit = _first_bad_vertex(geoms, bad)
    if hit is not None:
        raise fail(file, "坐标不是数字", "a coordinate is not a number", feature=numbers[hit[0]])


def _range_reason(x: float, y: float, src: Crs) -> tuple[str, str]:
    """Explain why a converted coordinate is implausible, spotting swapped lat/lon."""
    if _in_china(y, x):
        return (
            f"坐标 ({x:g}, {y:g}) 的经纬度似乎颠倒了（应为 经度, 纬度）",
            f"coordinate ({x:g}, {y:g}) looks like latitude/longitude swapped (expected lon, lat)",
        )
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        return (
            f"坐标 ({x:g}, {y:g}) 超出经纬度范围；按 {src.name} 解读不对，请指定正确的坐标系",
            f"coordinate ({x:g}, {y:g}) is not a valid lon/lat when read as {src.name}; "
            "declare the right coordinate system",
        )
    return (
        f"坐标 ({x:g}, {y:g}) 不在中国境内；按 {src.name} 解读不对，请检查坐标系",
        f"coordinate ({x:g}, {y:g}) is outside China when read as {src.name}; "
        "check the coordinate system",
    )


def _check_plausible(
    source: NDArray[np.object_],
    canonical: NDArray[np.object_],
    numbers: list[int],
    src: Crs,
    file: str,
) -> None:
    """Refuse lon/lat out of range or outside China; quote the coordinate from the file."""
    min_lon, min_lat, max_lon, max_lat = geo.CHINA_BBOX

    def bad(c: NDArray[np.float64]) -> NDArray[np.bool_]:
        x, y = c[:, 0], c[:, 1]
        inside = (x >= min_lon) & (x <= max_lon) & (y >= min_lat) & (y <= max_lat)
        return ~(np.isfinite(c).all(axis=1) & inside)

    hit = _first_bad_vertex(canonical, bad)
    if hit is None:
        return
    feature_index, vertex = hit
    x, y = shapely.get_coordinates(source)[vertex]
    zh, en = _range_reason(float(x), float(y), src)
    raise fail(file, zh, en, feature=numbers[feature_index])


def _check_valid(canonical: NDArray[np.object_], numbers: list[int], file: str) -> None:
    """Refuse invalid geometries, quoting GEOS's reason and location (no silent repair)."""
    valid = shapely.is_valid(canonical) | shapely.is_missing(canonical)
    bad = np.flatnonzero(~valid)
    if len(bad) == 0:
        return
    i = int(bad[0])
    reason = shapely.is_valid_reason(canonical[i])
    raise fail(
        file,
        f"几何无效：{reason}（经纬度 EPSG:4490），请在 GIS 软件中修复后重新导入",
        f"invalid geometry: {reason} (lon/lat EPSG:4490); fix it in your GIS and re-import",
        feature=numbers[i],
    )


def _to_canonical_array(geoms: NDArray[np.object_], src: Crs) -> NDArray[np.object_]:
    """Convert every geometry to 2D canonical lon/lat in one vectorised pass."""
    flat = shapely.force_2d(geoms)
    if src.is_canonical:
        return flat

    def convert(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = geo.to_canonical_xy(xy[:, 0], xy[:, 1], src)
        return np.column_stack([lon, lat])

    return shapely.transform(flat, convert)


def _converted(source: NDArray[np.object_], src: Crs, file: str) -> NDArray[np.object_]:
    """`_to_canonical_array`, with projection failures reported against `file`."""
    try:
        return _to_canonical_array(source, src)
    except DomainError:
        raise
    except Exception as exc:  # PROJ errors for coordinates far outside the projection
        raise fail(file, f"坐标转换失败：{exc}", f"coordinate conversion failed: {exc}") from exc


def finish(raw: RawLayer, src: Crs, file: str, require_geometry: bool) -> FeatureSet:
    """Check, convert and package the raw layer; raise on the first problem."""
    _check_present(raw, file, require_geometry)
    source = shapely.force_2d(object_array(raw.geometries))
    _check_numeric(source, raw.numbers, file)
    canonical = _converted(source, src, file)
    _check_plausible(source, canonical, raw.numbers, src, file)
    _check_valid(canonical, raw.numbers, file)
    features = [
        Feature(number=n, geometry=g, properties=p)
        for n, g, p in zip(raw.numbers, canonical, raw.properties, strict=True)
    ]
    return FeatureSet(features, src, raw.encoding, raw.fields)
