"""`read_features`: pick the reader by extension, then check and convert to canonical.

GeoJSON, GeoPackage and Shapefiles go through `ogr`, CSV and XLSX through `tables`; both
hand a raw layer to `checks`, so a file is read whole or refused with `ImportFailed`.
"""

from __future__ import annotations

from pathlib import Path

from wangge.common import geo
from wangge.common.geo import CGCS2000, Crs
from wangge.common.gisio.checks import finish
from wangge.common.gisio.model import (
    READ_EXTENSIONS,
    TABLE_EXTENSIONS,
    FeatureSet,
    PathLike,
    fail,
)
from wangge.common.gisio.ogr import read_ogr
from wangge.common.gisio.tables import read_tabular
from wangge.errors import ValidationFailed


def _parse_crs_argument(crs: str | int | Crs | None, file: str) -> Crs | None:
    """Parse the caller's CRS override, reporting a bad one as an import failure."""
    if crs is None:
        return None
    try:
        return geo.parse_crs(crs)
    except ValidationFailed as exc:
        raise fail(file, exc.message_zh, exc.message_en, field="crs") from exc


def read_features(
    path: PathLike,
    *,
    crs: str | int | Crs | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    require_geometry: bool = True,
) -> FeatureSet:
    """Read a GIS file into canonical features, or raise ImportFailed (never half-succeeds).

    `crs` overrides what the file declares (needed for GCJ-02/BD-09 data); without either,
    coordinates are taken as EPSG:4490. For CSV/XLSX, `layer` names the worksheet.
    """
    p = Path(path)
    file = p.name
    suffix = p.suffix.lower()
    if suffix not in READ_EXTENSIONS:
        supported = ", ".join(sorted(READ_EXTENSIONS))
        raise fail(
            file, f"不支持的文件类型（支持 {supported}）", f"unsupported file type ({supported})"
        )
    if not p.is_file():
        raise fail(file, "文件不存在", "file not found")
    override = _parse_crs_argument(crs, file)
    if suffix in TABLE_EXTENSIONS:
        raw = read_tabular(p, encoding, layer, require_geometry)
    else:
        raw = read_ogr(p, layer, encoding)
    src = override or raw.crs or CGCS2000
    return finish(raw, src, file, require_geometry)
