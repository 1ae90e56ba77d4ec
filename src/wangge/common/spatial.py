"""The geometry column seam: PostGIS geometry on PostgreSQL, WKB bytes on SQLite.

Values are shapely geometries in CGCS2000 lon/lat (EPSG:4490) on both backends.
On PostgreSQL the column is a real `geometry(Geometry, 4490)` so QGIS opens the
layers directly; on SQLite it is a BLOB, and rows carry bounding-box columns
so everyday spatial filters are plain comparisons (no SpatiaLite needed).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

SRID = 4490


class _PostGISGeometry(UserDefinedType[Any]):
    cache_ok = True

    def __init__(self, geometry_type: str = "Geometry", srid: int = SRID) -> None:
        self.geometry_type = geometry_type
        self.srid = srid

    def get_col_spec(self, **_kw: Any) -> str:
        return f"geometry({self.geometry_type},{self.srid})"


class Geometry(TypeDecorator[BaseGeometry]):
    """A shapely geometry stored as PostGIS geometry or as WKB."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "Geometry", srid: int = SRID) -> None:
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry(self.geometry_type, self.srid))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # Hex EWKB is accepted by PostGIS' geometry input function, so no
            # ST_GeomFromWKB wrapper (and no bind_expression) is needed.
            return shapely.to_wkb(shapely.set_srid(value, self.srid), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if isinstance(value, memoryview):
            value = bytes(value)
        geom: BaseGeometry = shapely.from_wkb(value)
        return geom


def bbox_columns(geom: BaseGeometry | None) -> dict[str, float | None]:
    """Return the minx/miny/maxx/maxy column values of a geometry."""
    if geom is None or geom.is_empty:
        return {"minx": None, "miny": None, "maxx": None, "maxy": None}
    minx, miny, maxx, maxy = geom.bounds
    return {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
