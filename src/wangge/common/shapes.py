"""Small geometry helpers shared by the services (shapely only)."""

from __future__ import annotations

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.errors import ValidationFailed


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Return the areal part of a geometry as a MultiPolygon (the stored column type)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        raise ValidationFailed(
            f"几何类型 {geom.geom_type} 不是面",
            f"geometry type {geom.geom_type} is not areal",
            code="not_a_polygon",
            field="geometry",
        )
    return MultiPolygon(polys)


def invalid_reason(geom: BaseGeometry) -> str | None:
    """Return GEOS' reason (with location) when a geometry is invalid, else None."""
    if shapely.is_valid(geom):
        return None
    return str(shapely.is_valid_reason(geom))


def require_valid(geom: BaseGeometry, what_zh: str, what_en: str) -> None:
    """Refuse an invalid geometry with the location of the problem."""
    reason = invalid_reason(geom)
    if reason:
        raise ValidationFailed(
            f"{what_zh} 的几何无效：{reason}",
            f"{what_en} has an invalid geometry: {reason}",
            code="invalid_geometry",
            field="geometry",
        )
