"""Read and write the vector files GIS staff exchange (QGIS/ArcGIS), all-or-nothing.

Formats: GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV and XLSX (WKT or lon/lat
columns). Every geometry that comes in is converted to canonical CGCS2000 lon/lat
(EPSG:4490) and checked — present, non-empty, numeric, inside China, valid — and any problem
raises `ImportFailed` naming the file, the 1-based feature and the field. Invalid geometries
are refused, never repaired silently: the caller decides whether to fix the source data.

The package is split by seam: `model` (Feature, FeatureSet, extensions, error builders),
`encodings` (.cpg, DBF sniffing, CSV decoding), `ogr` (GDAL formats), `tables` (CSV/XLSX
and plain attribute tables), `checks` (validation and conversion), `reading`
(`read_features`) and `writing` (every output format). Import from here, not the modules.
"""

from wangge.common.gisio.encodings import (
    CPG_ALIASES,
    DBF_SNIFF_BYTES,
    detect_dbf_encoding,
    normalize_encoding,
)
from wangge.common.gisio.model import (
    OGR_EXTENSIONS,
    READ_EXTENSIONS,
    TABLE_EXTENSIONS,
    WRITE_EXTENSIONS,
    Feature,
    FeatureSet,
    PathLike,
)
from wangge.common.gisio.reading import read_features
from wangge.common.gisio.tables import LAT_COLUMNS, LON_COLUMNS, WKT_COLUMNS, read_table
from wangge.common.gisio.writing import (
    SHAPEFILE_FIELD_NAME_BYTES,
    SHAPEFILE_STRING_BYTES,
    WKT_OUTPUT_COLUMN,
    XLSX_CELL_CHARS,
    shapefile_field_names,
    write_features,
    write_table,
)

__all__ = [
    "CPG_ALIASES",
    "DBF_SNIFF_BYTES",
    "LAT_COLUMNS",
    "LON_COLUMNS",
    "OGR_EXTENSIONS",
    "READ_EXTENSIONS",
    "SHAPEFILE_FIELD_NAME_BYTES",
    "SHAPEFILE_STRING_BYTES",
    "TABLE_EXTENSIONS",
    "WKT_COLUMNS",
    "WKT_OUTPUT_COLUMN",
    "WRITE_EXTENSIONS",
    "XLSX_CELL_CHARS",
    "Feature",
    "FeatureSet",
    "PathLike",
    "detect_dbf_encoding",
    "normalize_encoding",
    "read_features",
    "read_table",
    "shapefile_field_names",
    "write_features",
    "write_table",
]
