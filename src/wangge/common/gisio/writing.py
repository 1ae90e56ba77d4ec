"""Writing features and plain tables: GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV, XLSX.

Geometries leave canonical lon/lat for the requested CRS; every single-file format is
written to a scratch file beside the target and renamed into place, so a failed export
leaves nothing half-written. Shapefile limits (10-byte field names, 254-byte text) are
enforced here, and CSV/XLSX cells are guarded against running as formulas.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyogrio import raw as ogr_raw

from wangge.common import geo
from wangge.common.geo import Crs
from wangge.common.gisio.encodings import normalize_encoding
from wangge.common.gisio.model import (
    TABLE_EXTENSIONS,
    WRITE_EXTENSIONS,
    Feature,
    FeatureSet,
    PathLike,
    export_failed,
    object_array,
)
from wangge.common.spreadsheet import safe_cell

WKT_OUTPUT_COLUMN = "wkt"
SHAPEFILE_FIELD_NAME_BYTES = 10  # dBASE III limit
SHAPEFILE_STRING_BYTES = 254  # longest DBF character field
XLSX_CELL_CHARS = 32767  # Excel refuses longer cells


def _field_names(features: Sequence[Feature], preferred: Sequence[str]) -> list[str]:
    """Preferred field order first, then any other property keys in order of appearance."""
    names = list(dict.fromkeys(preferred))
    seen = set(names)
    for feature in features:
        for key in feature.properties:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return names


def _text(value: Any) -> str:
    """Render a non-null attribute as text (JSON for containers, ISO for dates)."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _column(values: list[Any]) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
    """Typed numpy column and null mask for pyogrio; dates and mixed types become text."""
    mask = np.array([v is None for v in values], dtype=bool)
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        data: NDArray[Any] = np.array([bool(v) if v is not None else False for v in values])
    elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        data = np.array([v if v is not None else 0 for v in values], dtype=np.int64)
    elif present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        data = np.array([v if v is not None else math.nan for v in values], dtype=np.float64)
    else:
        data = object_array([None if v is None else _text(v) for v in values])
        return data, None  # pyogrio writes None in object columns as null
    return data, (mask if mask.any() else None)


def _truncate_bytes(name: str, limit: int, encoding: str) -> str:
    """Longest prefix of `name` whose encoding fits in `limit` bytes (never splits a char)."""
    out = ""
    for ch in name:
        if len((out + ch).encode(encoding)) > limit:
            break
        out += ch
    return out


def shapefile_field_names(names: Sequence[str], encoding: str) -> list[str]:
    """DBF-safe field names: ≤10 bytes in `encoding`, cut at characters, made unique.

    With GBK a Chinese name keeps 5 characters ("街道名称" fits); with UTF-8 only 3. Longer
    names are truncated (and de-duplicated with a numeric suffix) — the DBF format allows
    no more, so write GeoPackage when full field names matter.
    """
    result: list[str] = []
    for name in names:
        try:
            base = _truncate_bytes(name, SHAPEFILE_FIELD_NAME_BYTES, encoding)
        except UnicodeEncodeError as exc:
            raise export_failed(
                f"字段名 {name} 无法用 {encoding} 编码",
                f"field name {name!r} cannot be encoded as {encoding}",
                field=name,
            ) from exc
        candidate, counter = base or "field", 1
        while candidate in result:
            suffix = f"_{counter}"
            trimmed = _truncate_bytes(base, SHAPEFILE_FIELD_NAME_BYTES - len(suffix), encoding)
            candidate, counter = trimmed + suffix, counter + 1
        result.append(candidate)
    return result


def _check_dbf_text(name: str, data: NDArray[Any], encoding: str) -> None:
    """Refuse text the DBF would silently truncate (>254 bytes) or cannot encode."""
    if data.dtype != object:
        return
    for i, value in enumerate(data):
        if value is None:
            continue
        try:
            size = len(value.encode(encoding))
        except UnicodeEncodeError as exc:
            raise export_failed(
                f"第 {i + 1} 个要素字段 {name} 的值无法用 {encoding} 编码",
                f"feature {i + 1}, field {name}: value cannot be encoded as {encoding}",
                field=name,
            ) from exc
        if size > SHAPEFILE_STRING_BYTES:
            raise export_failed(
                f"第 {i + 1} 个要素字段 {name} 超过 Shapefile 的 254 字节上限，请改用 GeoPackage",
                f"feature {i + 1}, field {name}: longer than the Shapefile limit of 254 bytes;"
                " use GeoPackage",
                field=name,
            )


def _layer_geometry_type(geoms: NDArray[np.object_]) -> tuple[str, bool]:
    """Declared layer type and whether to promote singles to multi (Polygon+MultiPolygon)."""
    types = {g.geom_type for g in geoms if g is not None}
    if len(types) == 1:
        return types.pop(), False
    for single in ("Point", "LineString", "Polygon"):
        if types and types <= {single, f"Multi{single}"}:
            return f"Multi{single}", True
    return ("Unknown" if types else "Polygon"), False


def _from_canonical_array(features: Sequence[Feature], dst: Crs) -> NDArray[np.object_]:
    """Geometries converted from canonical lon/lat to `dst`, as an object array."""
    geoms = object_array([f.geometry for f in features])
    if dst.is_canonical:
        return geoms

    def convert(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = geo.from_canonical_xy(xy[:, 0], xy[:, 1], dst)
        return np.column_stack([x, y])

    return shapely.transform(shapely.force_2d(geoms), convert)


def _file_crs_text(dst: Crs) -> str:
    """What to declare in the file: GCJ-02/BD-09 have no code, so plain WGS84 lon/lat."""
    if dst.wkt is not None and not dst.is_offset:
        return dst.wkt
    return f"EPSG:{dst.file_epsg}"


@dataclass(frozen=True)
class _OutLayer:
    """What every format writes: geometries already in `dst`, their features and fields."""

    geoms: NDArray[np.object_]
    features: Sequence[Feature]
    names: list[str]
    dst: Crs
    layer: str


def _write_ogr(target: Path, driver: str, out: _OutLayer, encoding: str) -> None:
    """Write geometries and attributes through GDAL."""
    columns = [_column([f.properties.get(n) for f in out.features]) for n in out.names]
    out_names = out.names
    if driver == "ESRI Shapefile":
        out_names = shapefile_field_names(out.names, encoding)
        for name, (data, _) in zip(out_names, columns, strict=True):
            _check_dbf_text(name, data, encoding)
    geometry_type, promote = _layer_geometry_type(out.geoms)
    if driver == "GeoJSON" and promote:  # GeoJSON mixes types freely: keep them as they are
        geometry_type, promote = "Unknown", False
    try:
        ogr_raw.write(
            str(target),
            shapely.to_wkb(out.geoms),
            [c[0] for c in columns],
            out_names,
            field_mask=[c[1] for c in columns],
            layer=out.layer,
            driver=driver,
            geometry_type=geometry_type,
            promote_to_multi=promote,
            crs=_file_crs_text(out.dst),
            encoding=encoding if driver == "ESRI Shapefile" else None,
        )
    except Exception as exc:  # GDAL reports failures through several exception types
        raise export_failed(f"写入失败：{exc}", f"writing failed: {exc}") from exc


def _write_zipped_shapefile(target: Path, out: _OutLayer, encoding: str) -> None:
    """Write a Shapefile into a scratch directory and zip its parts (with a .cpg)."""
    with tempfile.TemporaryDirectory() as scratch:
        shp = Path(scratch) / f"{out.layer}.shp"
        _write_ogr(shp, "ESRI Shapefile", out, encoding)
        cpg = shp.with_suffix(".cpg")
        if not cpg.exists():  # ArcGIS needs it to read non-ASCII text correctly
            cpg.write_text(encoding, encoding="ascii")
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(scratch).iterdir()):
                zf.write(part, arcname=part.name)


def _wkt_rows(out: _OutLayer) -> list[list[Any]]:
    """Rows of [wkt, field values…] at full coordinate precision."""
    wkts = shapely.to_wkt(out.geoms, rounding_precision=-1)
    return [
        [w, *[f.properties.get(n) for n in out.names]]
        for w, f in zip(wkts, out.features, strict=True)
    ]


def _write_csv(
    target: Path, header: list[str], rows: Iterable[Sequence[Any]], encoding: str
) -> None:
    """CSV with a BOM when UTF-8 so that Excel shows Chinese correctly."""
    enc = "utf-8-sig" if normalize_encoding(encoding) == "UTF-8" else encoding
    try:
        with target.open("w", encoding=enc, newline="") as fh:
            writer = csv.writer(fh)
            # Field names and values come from users' files: neither may run as a formula.
            writer.writerow([safe_cell(h) for h in header])
            for row in rows:
                writer.writerow(["" if v is None else _text(safe_cell(v)) for v in row])
    except UnicodeEncodeError as exc:
        raise export_failed(
            f"数据无法用 {encoding} 编码", f"data cannot be encoded as {encoding}"
        ) from exc


def _xlsx_cell(value: Any) -> Any:
    """Cell value openpyxl accepts: numbers, text, dates; containers as JSON text."""
    if value is None or isinstance(value, int | float | str | datetime | date | time):
        if isinstance(value, str) and len(value) > XLSX_CELL_CHARS:
            raise export_failed(
                "单元格内容超过 Excel 上限 32767 字符，请改用 GeoPackage",
                "a cell exceeds Excel's 32767-character limit; use GeoPackage",
            )
        return value
    return _text(value)


def _write_xlsx(target: Path, header: list[str], rows: Iterable[Sequence[Any]]) -> None:
    """One-sheet workbook with a header row."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append([safe_cell(h) for h in header])
    for row in rows:
        ws.append([_xlsx_cell(safe_cell(v)) for v in row])
    wb.save(target)


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a scratch path beside `path`; move it into place only if writing succeeded."""
    scratch = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        yield scratch
        os.replace(scratch, path)
    finally:
        if scratch.exists():
            scratch.unlink()


def _write_single_file(target: Path, suffix: str, out: _OutLayer, encoding: str) -> None:
    """Write one of the single-file formats (everything but a plain .shp) to `target`."""
    if suffix == ".zip":
        _write_zipped_shapefile(target, out, encoding)
    elif suffix == ".gpkg":
        _write_ogr(target, "GPKG", out, "UTF-8")
    elif suffix in (".geojson", ".json"):
        _write_ogr(target, "GeoJSON", out, "UTF-8")
    elif suffix == ".csv":
        _write_csv(target, [WKT_OUTPUT_COLUMN, *out.names], _wkt_rows(out), encoding)
    else:
        _write_xlsx(target, [WKT_OUTPUT_COLUMN, *out.names], _wkt_rows(out))


def write_features(
    path: PathLike,
    features: FeatureSet | Iterable[Feature],
    *,
    crs: str | int | Crs = "EPSG:4490",
    encoding: str = "UTF-8",
    layer: str | None = None,
) -> Path:
    """Write canonical features to .geojson/.gpkg/.zip (Shapefile)/.shp/.csv/.xlsx in `crs`.

    GCJ-02/BD-09 output is declared as EPSG:4326 (no format can name those offsets).
    `encoding` applies to Shapefile DBFs and CSV. Shapefile field names are cut to 10 bytes
    (see `shapefile_field_names`); a plain .shp also leaves its sidecars beside it.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITE_EXTENSIONS:
        supported = ", ".join(sorted(WRITE_EXTENSIONS))
        raise export_failed(
            f"不支持的文件类型（支持 {supported}）", f"unsupported file type ({supported})"
        )
    feature_list = list(features)
    preferred = features.fields if isinstance(features, FeatureSet) else []
    names = _field_names(feature_list, preferred)
    dst = geo.parse_crs(crs)
    geoms = _from_canonical_array(feature_list, dst)
    out = _OutLayer(geoms, feature_list, names, dst, layer or p.stem)
    if suffix == ".shp":  # a Shapefile is several files: no single atomic rename
        _write_ogr(p, "ESRI Shapefile", out, encoding)
        return p
    with _atomic_target(p) as target:
        _write_single_file(target, suffix, out, encoding)
    return p


def write_table(
    path: PathLike,
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    encoding: str = "UTF-8",
) -> Path:
    """Write dict rows to CSV (UTF-8 with BOM for Excel) or XLSX, in `columns` order."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_EXTENSIONS:
        raise export_failed(
            "不支持的表格类型（支持 .csv、.xlsx）", "unsupported table type (.csv, .xlsx)"
        )
    values = [[row.get(c) for c in columns] for row in rows]
    with _atomic_target(p) as target:
        if suffix == ".csv":
            _write_csv(target, list(columns), values, encoding)
        else:
            _write_xlsx(target, list(columns), values)
    return p
