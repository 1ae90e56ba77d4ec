"""Read and write the vector files GIS staff exchange (QGIS/ArcGIS), all-or-nothing.

Formats: GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV and XLSX (WKT or lon/lat
columns). Every geometry that comes in is converted to canonical CGCS2000 lon/lat
(EPSG:4490) and checked — present, non-empty, numeric, inside China, valid — and any problem
raises `ImportFailed` naming the file, the 1-based feature and the field. Invalid geometries
are refused, never repaired silently: the caller decides whether to fix the source data.

GDAL access goes through pyogrio's raw (numpy) API; geopandas is deliberately not used.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import math
import os
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from numpy.typing import NDArray
from pyogrio import raw as ogr_raw
from shapely.geometry.base import BaseGeometry

from wangge.common import geo
from wangge.common.geo import CGCS2000, Crs
from wangge.common.spreadsheet import restore_cell, safe_cell
from wangge.errors import DomainError, ImportFailed, ValidationFailed

PathLike = str | os.PathLike[str]

OGR_EXTENSIONS = frozenset({".geojson", ".json", ".gpkg", ".shp", ".zip"})
TABLE_EXTENSIONS = frozenset({".csv", ".xlsx"})
READ_EXTENSIONS = OGR_EXTENSIONS | TABLE_EXTENSIONS

# Column names (compared case-insensitively) that carry geometry in CSV/XLSX.
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "几何")
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")
WKT_OUTPUT_COLUMN = "wkt"

SHAPEFILE_FIELD_NAME_BYTES = 10  # dBASE III limit
SHAPEFILE_STRING_BYTES = 254  # longest DBF character field
XLSX_CELL_CHARS = 32767  # Excel refuses longer cells
# Enough DBF records to tell UTF-8 from GBK without reading a huge file into memory.
DBF_SNIFF_BYTES = 4 * 1024 * 1024
CPG_ALIASES = {
    "UTF8": "UTF-8",
    "65001": "UTF-8",
    "GBK": "GBK",
    "936": "GBK",
    "CP936": "GBK",
    "GB2312": "GBK",  # ArcGIS labels GBK data "GB2312"; GBK is a strict superset
    "GB18030": "GB18030",
    "54936": "GB18030",
}


@dataclass
class Feature:
    """One imported feature: 1-based `number` as the user sees it, canonical geometry."""

    number: int
    geometry: BaseGeometry | None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeatureSet:
    """All features of one file, plus where they came from."""

    features: list[Feature]
    source_crs: Crs
    encoding: str | None
    fields: list[str]

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)


@dataclass
class _RawLayer:
    """Geometries (still in the source CRS) and attributes as read, before checking."""

    geometries: list[BaseGeometry | None]
    properties: list[dict[str, Any]]
    numbers: list[int]
    fields: list[str]
    crs: Crs | None
    encoding: str | None


def _fail(
    file: str,
    reason_zh: str,
    reason_en: str,
    *,
    feature: int | None = None,
    field: str | None = None,
) -> ImportFailed:
    """Build an ImportFailed for `file` (a basename)."""
    return ImportFailed(
        file=file, feature=feature, field=field, reason_zh=reason_zh, reason_en=reason_en
    )


def _export_failed(reason_zh: str, reason_en: str, *, field: str | None = None) -> ValidationFailed:
    """Build the error raised when data cannot be written faithfully."""
    return ValidationFailed(reason_zh, reason_en, code="export_failed", field=field)


# ======================================================================================
# Encodings
# ======================================================================================


def normalize_encoding(label: str) -> str | None:
    """Map a .cpg/user label ("UTF-8", "936", "65001", "GB2312"…) to a codec name, or None."""
    key = label.strip().upper().replace("-", "").replace("_", "").replace(" ", "")
    if key.startswith("ANSI") and key[4:].isdigit():  # some tools write "ANSI 936"
        key = key[4:]
    if key in CPG_ALIASES:
        return CPG_ALIASES[key]
    candidate = f"cp{key}" if key.isdigit() else label.strip()
    try:
        return codecs.lookup(candidate).name
    except LookupError:
        return None


def detect_dbf_encoding(dbf: bytes) -> str:
    """Guess a DBF's encoding: "UTF-8" if names and records are strictly UTF-8, else "GBK".

    GBK text is almost never valid UTF-8 (its lead bytes 0x81–0xFE rarely form UTF-8
    sequences), while pure ASCII is valid in both, so strict UTF-8 is a safe first test.
    """
    if len(dbf) < 32:
        return "UTF-8"
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    field_area = dbf[32 : max(32, header_len - 1)]
    # Field names are the first 11 bytes of each 32-byte descriptor.
    names = b"".join(field_area[i : i + 11].rstrip(b"\x00") for i in range(0, len(field_area), 32))
    records = dbf[header_len:]
    if record_len > 0:  # cut at a record boundary so no character is split
        records = records[: len(records) - len(records) % record_len]
    try:
        (names + b"\n" + records).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return "GBK"
    return "UTF-8"


def _decode_text(data: bytes, file: str, encoding: str | None) -> tuple[str, str]:
    """Decode CSV bytes: explicit encoding, else UTF-8 (BOM or not), else GBK."""
    candidates = [encoding] if encoding else ["utf-8-sig", "gbk"]
    for enc in candidates:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        return text, "UTF-8" if enc == "utf-8-sig" else enc.upper()
    tried = " / ".join(candidates)
    raise _fail(file, f"无法按 {tried} 编码读取文本", f"text is not valid {tried}")


# ======================================================================================
# OGR sources (GeoJSON, GeoPackage, Shapefile, zipped Shapefile)
# ======================================================================================


def _sibling(path: Path, suffix: str) -> Path | None:
    """The sidecar with `suffix` next to a .shp, matching the extension case-insensitively."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            if entry.stem == path.stem and entry.suffix.lower() == suffix:
                return entry
    return None


def _read_limited(opener: Callable[[], io.BufferedIOBase | Any]) -> bytes:
    """Read the first DBF_SNIFF_BYTES bytes from a freshly opened binary stream."""
    with opener() as stream:
        return stream.read(DBF_SNIFF_BYTES)


def _resolve_shapefile_encoding(
    explicit: str | None, cpg: bytes | None, dbf: Callable[[], bytes] | None
) -> str:
    """Explicit encoding wins, then the .cpg, then sniffing the DBF bytes."""
    if explicit:
        return normalize_encoding(explicit) or explicit
    if cpg is not None:
        declared = normalize_encoding(cpg.decode("ascii", errors="ignore"))
        if declared:
            return declared
    return detect_dbf_encoding(dbf()) if dbf is not None else "UTF-8"


def _zip_member(names: list[str], stem: str, suffix: str) -> str | None:
    """Find `stem` + `suffix` among zip member names, case-insensitively for the suffix."""
    for name in names:
        if name[: -len(suffix)] == stem and name[-len(suffix) :].lower() == suffix:
            return name
    return None


def _open_zipped_shapefile(
    path: Path, layer: str | None, encoding: str | None
) -> tuple[str, str, str]:
    """Locate the Shapefile in a zip: returns (/vsizip/ path, layer name, DBF encoding)."""
    file = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            shps = [
                n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX/")
            ]
            if layer is not None:
                shps = [n for n in shps if Path(n).stem == layer]
            if not shps:
                raise _fail(file, "压缩包中没有 .shp 文件", "the zip contains no .shp file")
            if len(shps) > 1:
                listed = ", ".join(Path(n).stem for n in shps)
                raise _fail(
                    file,
                    f"压缩包中有多个 Shapefile（{listed}），请指定图层",
                    f"the zip holds several shapefiles ({listed}); choose one with layer=",
                )
            shp = shps[0]
            stem = shp[:-4]
            cpg_name = _zip_member(names, stem, ".cpg")
            dbf_name = _zip_member(names, stem, ".dbf")
            cpg = zf.read(cpg_name) if cpg_name else None

            def sniff() -> bytes:
                return _read_limited(lambda: zf.open(dbf_name))  # type: ignore[arg-type]

            enc = _resolve_shapefile_encoding(encoding, cpg, sniff if dbf_name else None)
    except zipfile.BadZipFile as exc:
        raise _fail(file, "不是有效的 zip 文件", "not a valid zip file") from exc
    return f"/vsizip/{path.resolve()}/{shp}", Path(shp).stem, enc


def _plain_shapefile_encoding(path: Path, encoding: str | None) -> str:
    """DBF encoding of an unzipped Shapefile from argument, .cpg or the DBF bytes."""
    cpg_path = _sibling(path, ".cpg")
    dbf_path = _sibling(path, ".dbf")
    cpg = cpg_path.read_bytes() if cpg_path else None
    sniff = (lambda: _read_limited(lambda: dbf_path.open("rb"))) if dbf_path else None
    return _resolve_shapefile_encoding(encoding, cpg, sniff)


def _choose_layer(path: str, file: str, layer: str | None) -> str | None:
    """Pick the layer to read; a multi-layer file needs an explicit choice."""
    if layer is not None:
        return layer
    layers = pyogrio.list_layers(path)
    if len(layers) > 1:
        listed = ", ".join(str(row[0]) for row in layers)
        raise _fail(
            file,
            f"文件包含多个图层（{listed}），请指定图层",
            f"the file has several layers ({listed}); choose one with layer=",
        )
    return None


def _ogr_value(value: Any, ogr_type: str) -> Any:
    """Convert one numpy attribute value to a plain Python value (NaN/NaT → None)."""
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else value.item()
    if isinstance(value, np.floating):
        if math.isnan(value):
            return None
        # pyogrio returns integer columns containing nulls as float64.
        return int(value) if ogr_type.startswith("OFTInteger") else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _parse_wkb(wkb: NDArray[np.object_], file: str) -> list[BaseGeometry | None]:
    """Parse GDAL's WKB, naming the first feature whose geometry cannot be parsed."""
    try:
        return list(shapely.from_wkb(wkb, on_invalid="raise"))
    except shapely.errors.GEOSException:
        pass
    for i, item in enumerate(wkb):
        try:
            shapely.from_wkb(item, on_invalid="raise")
        except shapely.errors.GEOSException as exc:
            raise _fail(
                file, f"几何无法解析：{exc}", f"unreadable geometry: {exc}", feature=i + 1
            ) from exc
    raise AssertionError("unreachable: bulk WKB parse failed but every item parsed")


def _read_ogr(path: Path, layer: str | None, encoding: str | None) -> _RawLayer:
    """Read GeoJSON, GeoPackage or (zipped) Shapefile through GDAL."""
    file = path.name
    suffix = path.suffix.lower()
    source, enc = str(path), "UTF-8"
    options: dict[str, Any] = {}
    if suffix == ".zip":
        source, zip_layer, enc = _open_zipped_shapefile(path, layer, encoding)
        layer = layer or zip_layer
    elif suffix == ".shp":
        enc = _plain_shapefile_encoding(path, encoding)
    elif encoding:
        enc = encoding
    if suffix in (".geojson", ".json"):
        options["DATE_AS_STRING"] = "YES"  # keep "2024-05-01" exactly as written
    try:
        layer = _choose_layer(source, file, layer)
        meta, _fids, wkb, columns = ogr_raw.read(source, layer=layer, encoding=enc, **options)
    except ImportFailed:
        raise
    except UnicodeDecodeError as exc:
        raise _fail(
            file,
            f"属性无法按 {enc} 编码解码，请指定正确的编码",
            f"attributes cannot be decoded as {enc}; pass the right encoding",
        ) from exc
    except Exception as exc:  # GDAL reports failures through several exception types
        raise _fail(file, f"无法读取文件：{exc}", f"cannot read the file: {exc}") from exc
    fields = [str(name) for name in meta["fields"]]
    ogr_types = list(meta.get("ogr_types") or ["OFTString"] * len(fields))
    count = len(wkb) if wkb is not None else (len(columns[0]) if columns else 0)
    geometries = _parse_wkb(wkb, file) if wkb is not None else [None] * count
    properties = [
        {
            name: _ogr_value(col[i], t)
            for name, col, t in zip(fields, columns, ogr_types, strict=True)
        }
        for i in range(count)
    ]
    crs = _file_crs(meta.get("crs"), file)
    return _RawLayer(geometries, properties, list(range(1, count + 1)), fields, crs, enc)


def _file_crs(text: str | None, file: str) -> Crs | None:
    """The CRS a file declares, or None when it declares none."""
    if not text:
        return None
    try:
        return geo.parse_crs(text)
    except ValidationFailed as exc:
        raise _fail(
            file, "文件声明的坐标系无法识别", f"the file's coordinate system is unknown: {exc}"
        ) from exc


# ======================================================================================
# Tables (CSV, XLSX)
# ======================================================================================


def _clean_header(value: Any, index: int) -> str:
    """Header text; unnamed columns get a positional name so no data is dropped."""
    text = "" if value is None else str(value).strip().lstrip("\ufeff")
    return text or f"column{index + 1}"


def _rows_from_csv(path: Path, encoding: str | None) -> tuple[list[list[Any]], str]:
    """All CSV rows (header first) as lists of strings, and the encoding used."""
    text, used = _decode_text(path.read_bytes(), path.name, encoding)
    try:
        return list(csv.reader(io.StringIO(text, newline=""))), used
    except csv.Error as exc:
        raise _fail(path.name, f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from exc


def _rows_from_xlsx(path: Path, sheet: str | None) -> list[list[Any]]:
    """All rows (header first) of the first or the named worksheet."""
    import openpyxl  # only for workbooks: a tenth of a second off every other command

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for bad files
        raise _fail(
            path.name, f"无法读取 Excel 文件：{exc}", f"cannot read the workbook: {exc}"
        ) from exc
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise _fail(path.name, f"没有名为 {sheet} 的工作表", f"no worksheet named {sheet}")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        return [list(row) for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _is_blank(value: Any) -> bool:
    """True for None and whitespace-only strings."""
    return value is None or (isinstance(value, str) and not value.strip())


def _table_records(
    rows: list[list[Any]], file: str
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header names and (1-based data row number, record) pairs; blank rows are skipped."""
    if not rows:
        return [], []
    width = max(len(r) for r in rows)
    header = [_clean_header(v, i) for i, v in enumerate(rows[0] + [None] * (width - len(rows[0])))]
    # Trailing unnamed columns with no data at all are spreadsheet noise, not fields.
    while (
        header
        and header[-1] == f"column{len(header)}"
        and all(len(r) < len(header) or _is_blank(r[len(header) - 1]) for r in rows[1:])
    ):
        header.pop()
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise _fail(file, "列名重复", "duplicate column names", field=", ".join(duplicates))
    records = []
    for number, row in enumerate(rows[1:], start=1):
        if all(_is_blank(v) for v in row):
            continue
        padded = list(row) + [None] * (len(header) - len(row))
        records.append((number, dict(zip(header, padded[: len(header)], strict=True))))
    return header, records


def _find_column(header: list[str], candidates: Sequence[str]) -> str | None:
    """First header matching one of `candidates`, case-insensitively."""
    lowered = {h.strip().lower(): h for h in header}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _row_note(number: int) -> tuple[str, str]:
    """Spreadsheet row hint: data row N is sheet row N+1 because of the header."""
    return f"（表格第 {number + 1} 行）", f" (sheet row {number + 1})"


def _number_cell(value: Any, file: str, number: int, column: str) -> float:
    """Parse a coordinate cell, refusing text, NaN and infinity."""
    if isinstance(value, bool):
        value = str(value)
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        result = math.nan
    if not math.isfinite(result):
        zh, en = _row_note(number)
        raise _fail(
            file,
            f"坐标“{value}”不是数字{zh}",
            f"coordinate {value!r} is not a number{en}",
            feature=number,
            field=column,
        )
    return result


def _wkt_cell(value: Any, file: str, number: int, column: str) -> BaseGeometry | None:
    """Parse a WKT cell; blank means no geometry."""
    if _is_blank(value):
        return None
    try:
        return shapely.from_wkt(str(value).strip(), on_invalid="raise")
    except shapely.errors.GEOSException as exc:
        zh, en = _row_note(number)
        raise _fail(
            file,
            f"WKT 无法解析：{exc}{zh}",
            f"unreadable WKT: {exc}{en}",
            feature=number,
            field=column,
        ) from exc


def _table_geometry_reader(
    header: list[str], file: str, require_geometry: bool
) -> tuple[Callable[[int, dict[str, Any]], BaseGeometry | None], set[str]]:
    """Pick the geometry columns and return (row → geometry function, geometry columns)."""
    wkt_col = _find_column(header, WKT_COLUMNS)
    if wkt_col is not None:
        return (lambda n, rec: _wkt_cell(rec[wkt_col], file, n, wkt_col)), {wkt_col}
    lon_col, lat_col = _find_column(header, LON_COLUMNS), _find_column(header, LAT_COLUMNS)
    if lon_col is not None and lat_col is not None:

        def point(n: int, rec: dict[str, Any]) -> BaseGeometry | None:
            if _is_blank(rec[lon_col]) and _is_blank(rec[lat_col]):
                return None
            x = _number_cell(rec[lon_col], file, n, lon_col)
            y = _number_cell(rec[lat_col], file, n, lat_col)
            return shapely.Point(x, y)

        return point, {lon_col, lat_col}
    if require_geometry:
        raise _fail(
            file,
            "找不到几何列（wkt/geometry 或 经度/纬度、lon/lat、x/y）",
            "no geometry column (wkt/geometry, or lon/lat, lng/lat, x/y, 经度/纬度)",
        )
    return (lambda n, rec: None), set()


def _table_value(value: Any) -> Any:
    """Attribute cell value: blank strings become None; our own formula guard comes off."""
    return None if _is_blank(value) else restore_cell(value)


def _read_tabular(
    path: Path, encoding: str | None, sheet: str | None, require_geometry: bool
) -> _RawLayer:
    """Read CSV/XLSX rows with geometry from WKT or lon/lat columns."""
    file = path.name
    if path.suffix.lower() == ".csv":
        rows, used = _rows_from_csv(path, encoding)
    else:
        rows, used = _rows_from_xlsx(path, sheet), None
    header, records = _table_records(rows, file)
    read_geometry, geometry_cols = _table_geometry_reader(header, file, require_geometry)
    fields = [h for h in header if h not in geometry_cols]
    geometries = [read_geometry(n, rec) for n, rec in records]
    properties = [{f: _table_value(rec[f]) for f in fields} for _, rec in records]
    numbers = [n for n, _ in records]
    return _RawLayer(geometries, properties, numbers, fields, None, used)


# ======================================================================================
# Checking and conversion to canonical
# ======================================================================================


def _in_china(x: float, y: float) -> bool:
    """True when (x, y) as lon/lat lies in the China box used for the offset formulas."""
    return not bool(geo.out_of_china(x, y))


def _check_present(raw: _RawLayer, file: str, require: bool) -> None:
    """Refuse missing (when required) and empty geometries."""
    for number, g in zip(raw.numbers, raw.geometries, strict=True):
        if g is None:
            if require:
                raise _fail(file, "缺少几何", "the geometry is missing", feature=number)
        elif g.is_empty:
            raise _fail(file, "几何为空", "the geometry is empty", feature=number)


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
        raise _fail(file, "坐标不是数字", "a coordinate is not a number", feature=numbers[hit[0]])


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
    raise _fail(file, zh, en, feature=numbers[feature_index])


def _check_valid(canonical: NDArray[np.object_], numbers: list[int], file: str) -> None:
    """Refuse invalid geometries, quoting GEOS's reason and location (no silent repair)."""
    valid = shapely.is_valid(canonical) | shapely.is_missing(canonical)
    bad = np.flatnonzero(~valid)
    if len(bad) == 0:
        return
    i = int(bad[0])
    reason = shapely.is_valid_reason(canonical[i])
    raise _fail(
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


def _object_array(items: Sequence[Any]) -> NDArray[np.object_]:
    """A 1-D object array (np.array would try to iterate multi-part geometries)."""
    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    return arr


def _finish(raw: _RawLayer, src: Crs, file: str, require_geometry: bool) -> FeatureSet:
    """Check, convert and package the raw layer; raise on the first problem."""
    _check_present(raw, file, require_geometry)
    source = shapely.force_2d(_object_array(raw.geometries))
    _check_numeric(source, raw.numbers, file)
    try:
        canonical = _to_canonical_array(source, src)
    except DomainError:
        raise
    except Exception as exc:  # PROJ errors for coordinates far outside the projection
        raise _fail(file, f"坐标转换失败：{exc}", f"coordinate conversion failed: {exc}") from exc
    _check_plausible(source, canonical, raw.numbers, src, file)
    _check_valid(canonical, raw.numbers, file)
    features = [
        Feature(number=n, geometry=g, properties=p)
        for n, g, p in zip(raw.numbers, canonical, raw.properties, strict=True)
    ]
    return FeatureSet(features, src, raw.encoding, raw.fields)


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
        raise _fail(
            file, f"不支持的文件类型（支持 {supported}）", f"unsupported file type ({supported})"
        )
    if not p.is_file():
        raise _fail(file, "文件不存在", "file not found")
    override = _parse_crs_argument(crs, file)
    if suffix in TABLE_EXTENSIONS:
        raw = _read_tabular(p, encoding, layer, require_geometry)
    else:
        raw = _read_ogr(p, layer, encoding)
    src = override or raw.crs or CGCS2000
    return _finish(raw, src, file, require_geometry)


def _parse_crs_argument(crs: str | int | Crs | None, file: str) -> Crs | None:
    """Parse the caller's CRS override, reporting a bad one as an import failure."""
    if crs is None:
        return None
    try:
        return geo.parse_crs(crs)
    except ValidationFailed as exc:
        raise _fail(file, exc.message_zh, exc.message_en, field="crs") from exc


# ======================================================================================
# Writing
# ======================================================================================


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
        data = _object_array([None if v is None else _text(v) for v in values])
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
            raise _export_failed(
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
            raise _export_failed(
                f"第 {i + 1} 个要素字段 {name} 的值无法用 {encoding} 编码",
                f"feature {i + 1}, field {name}: value cannot be encoded as {encoding}",
                field=name,
            ) from exc
        if size > SHAPEFILE_STRING_BYTES:
            raise _export_failed(
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
    geoms = _object_array([f.geometry for f in features])
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


def _write_ogr(
    target: Path,
    driver: str,
    geoms: NDArray[np.object_],
    features: Sequence[Feature],
    names: list[str],
    dst: Crs,
    encoding: str,
    layer: str,
) -> None:
    """Write geometries and attributes through GDAL."""
    columns = [_column([f.properties.get(n) for f in features]) for n in names]
    out_names = names
    if driver == "ESRI Shapefile":
        out_names = shapefile_field_names(names, encoding)
        for name, (data, _) in zip(out_names, columns, strict=True):
            _check_dbf_text(name, data, encoding)
    geometry_type, promote = _layer_geometry_type(geoms)
    if driver == "GeoJSON" and promote:  # GeoJSON mixes types freely: keep them as they are
        geometry_type, promote = "Unknown", False
    try:
        ogr_raw.write(
            str(target),
            shapely.to_wkb(geoms),
            [c[0] for c in columns],
            out_names,
            field_mask=[c[1] for c in columns],
            layer=layer,
            driver=driver,
            geometry_type=geometry_type,
            promote_to_multi=promote,
            crs=_file_crs_text(dst),
            encoding=encoding if driver == "ESRI Shapefile" else None,
        )
    except Exception as exc:  # GDAL reports failures through several exception types
        raise _export_failed(f"写入失败：{exc}", f"writing failed: {exc}") from exc


def _write_zipped_shapefile(
    target: Path,
    geoms: NDArray[np.object_],
    features: Sequence[Feature],
    names: list[str],
    dst: Crs,
    encoding: str,
    layer: str,
) -> None:
    """Write a Shapefile into a scratch directory and zip its parts (with a .cpg)."""
    with tempfile.TemporaryDirectory() as scratch:
        shp = Path(scratch) / f"{layer}.shp"
        _write_ogr(shp, "ESRI Shapefile", geoms, features, names, dst, encoding, layer)
        cpg = shp.with_suffix(".cpg")
        if not cpg.exists():  # ArcGIS needs it to read non-ASCII text correctly
            cpg.write_text(encoding, encoding="ascii")
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(scratch).iterdir()):
                zf.write(part, arcname=part.name)


def _wkt_rows(
    geoms: NDArray[np.object_], features: Sequence[Feature], names: list[str]
) -> list[list[Any]]:
    """Rows of [wkt, field values…] at full coordinate precision."""
    wkts = shapely.to_wkt(geoms, rounding_precision=-1)
    return [[w, *[f.properties.get(n) for n in names]] for w, f in zip(wkts, features, strict=True)]


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
        raise _export_failed(
            f"数据无法用 {encoding} 编码", f"data cannot be encoded as {encoding}"
        ) from exc


def _xlsx_cell(value: Any) -> Any:
    """Cell value openpyxl accepts: numbers, text, dates; containers as JSON text."""
    if value is None or isinstance(value, int | float | str | datetime | date | time):
        if isinstance(value, str) and len(value) > XLSX_CELL_CHARS:
            raise _export_failed(
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


WRITE_EXTENSIONS = frozenset({".geojson", ".json", ".gpkg", ".zip", ".shp", ".csv", ".xlsx"})


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
        raise _export_failed(
            f"不支持的文件类型（支持 {supported}）", f"unsupported file type ({supported})"
        )
    feature_list = list(features)
    preferred = features.fields if isinstance(features, FeatureSet) else []
    names = _field_names(feature_list, preferred)
    dst = geo.parse_crs(crs)
    geoms = _from_canonical_array(feature_list, dst)
    layer_name = layer or p.stem
    if suffix == ".shp":  # a Shapefile is several files: no single atomic rename
        _write_ogr(p, "ESRI Shapefile", geoms, feature_list, names, dst, encoding, layer_name)
        return p
    with _atomic_target(p) as target:
        if suffix == ".zip":
            _write_zipped_shapefile(target, geoms, feature_list, names, dst, encoding, layer_name)
        elif suffix == ".gpkg":
            _write_ogr(target, "GPKG", geoms, feature_list, names, dst, "UTF-8", layer_name)
        elif suffix in (".geojson", ".json"):
            _write_ogr(target, "GeoJSON", geoms, feature_list, names, dst, "UTF-8", layer_name)
        elif suffix == ".csv":
            _write_csv(
                target, [WKT_OUTPUT_COLUMN, *names], _wkt_rows(geoms, feature_list, names), encoding
            )
        else:
            _write_xlsx(target, [WKT_OUTPUT_COLUMN, *names], _wkt_rows(geoms, feature_list, names))
    return p


# ======================================================================================
# Plain attribute tables
# ======================================================================================


def read_table(
    path: PathLike, *, sheet: str | None = None, encoding: str | None = None
) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 with/without BOM, else GBK) or XLSX sheet as dicts keyed by header."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_EXTENSIONS:
        raise _fail(
            p.name, "不支持的表格类型（支持 .csv、.xlsx）", "unsupported table type (.csv, .xlsx)"
        )
    if not p.is_file():
        raise _fail(p.name, "文件不存在", "file not found")
    rows = _rows_from_csv(p, encoding)[0] if suffix == ".csv" else _rows_from_xlsx(p, sheet)
    _, records = _table_records(rows, p.name)
    return [{k: _table_value(v) for k, v in rec.items()} for _, rec in records]


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
        raise _export_failed(
            "不支持的表格类型（支持 .csv、.xlsx）", "unsupported table type (.csv, .xlsx)"
        )
    values = [[row.get(c) for c in columns] for row in rows]
    with _atomic_target(p) as target:
        if suffix == ".csv":
            _write_csv(target, list(columns), values, encoding)
        else:
            _write_xlsx(target, list(columns), values)
    return p
