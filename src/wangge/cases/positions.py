"""Positions sent by phones and pages: the CRS they are in, converted to stored CGCS2000.

A phone's own GPS gives WGS84 (EPSG:4326); the map SDKs of 高德/腾讯 give GCJ-02 and Baidu's
BD-09, offset by several hundred metres in Beijing. A report in the wrong system lands in
the neighbouring grid, so the sender names the system and the server converts with the one
implementation in `wangge.common.geo`.
"""

from __future__ import annotations

from wangge.common.geo import Crs, parse_crs, to_canonical_xy
from wangge.errors import ValidationFailed

DEFAULT_CRS = "EPSG:4490"
ACCEPTED = "EPSG:4490, EPSG:4326, GCJ-02, BD-09"


def position_crs(text: str | None, *, field: str = "crs") -> Crs:
    """Return the CRS of a lon/lat position; only lon/lat systems make sense for a point."""
    try:
        crs = parse_crs(DEFAULT_CRS if text is None else text)
    except ValidationFailed:
        crs = None
    # Projected systems (Gauss-Krüger metres) would pass parse_crs but not the lon/lat bounds.
    if crs is None or not (crs.is_canonical or crs.is_offset):
        raise ValidationFailed(
            f"字段 {field} 的坐标系无法识别：{text}（可用 {ACCEPTED}）",
            f"field {field}: unknown coordinate system {text!r} (use {ACCEPTED})",
            code="bad_crs",
            field=field,
        )
    return crs


def to_cgcs2000(
    lon: float, lat: float, crs: str | None, *, field: str = "crs"
) -> tuple[float, float]:
    """Convert a position in `crs` (EPSG:4490 when None) to CGCS2000 lon/lat."""
    src = position_crs(crs, field=field)
    if src.is_canonical:
        return float(lon), float(lat)
    x, y = to_canonical_xy(lon, lat, src)
    return float(x), float(y)
