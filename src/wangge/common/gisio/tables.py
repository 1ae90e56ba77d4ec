"""Reading CSV and XLSX: spreadsheet rows, geometry from WKT or lon/lat columns, plain tables.

`read_tabular` gives `read_features` a `RawLayer`; `read_table` returns attribute rows only
(no geometry), e.g. the grid-to-staff sheets. Row numbers are 1-based data rows; messages
also name the sheet row (one more, for the header).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from wangge.common.gisio.encodings import decode_text
from wangge.common.gisio.model import TABLE_EXTENSIONS, PathLike, RawLayer, fail
from wangge.common.spreadsheet import restore_cell

# Column names (compared case-insensitively) that carry geometry in CSV/XLSX.
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "几何")
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")

GeometryReader = Callable[[int, dict[str, Any]], BaseGeometry | None]


def _clean_header(value: Any, index: int) -> str:
    """Header text; unnamed columns get a positional name so no data is dropped."""
    text = "" if value is None else str(value).strip().lstrip("\ufeff")
    return text or f"column{index + 1}"


def _rows_from_csv(path: Path, encoding: str | None) -> tuple[list[list[Any]], str]:
    """All CSV rows (header first) as lists of strings, and the encoding used."""
    text, used = decode_text(path.read_bytes(), path.name, encoding)
    try:
        return list(csv.reader(io.StringIO(text, newline=""))), used
    except csv.Error as exc:
        raise fail(path.name, f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from exc


def _rows_from_xlsx(path: Path, sheet: str | None) -> list[list[Any]]:
    """All rows (header first) of the first or the named worksheet."""
    import openpyxl  # only for workbooks: a tenth of a second off every other command

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for bad files
        raise fail(
            path.name, f"无法读取 Excel 文件：{exc}", f"cannot read the workbook: {exc}"
        ) from exc
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise fail(path.name, f"没有名为 {sheet} 的工作表", f"no worksheet named {sheet}")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        return [list(row) for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _is_blank(value: Any) -> bool:
    """True for None and whitespace-only strings."""
    return value is None or (isinstance(value, str) and not value.strip())


def _header(rows: list[list[Any]]) -> list[str]:
    """Column names from the first row, without trailing unnamed all-blank columns."""
    width = max(len(r) for r in rows)
    header = [_clean_header(v, i) for i, v in enumerate(rows[0] + [None] * (width - len(rows[0])))]
    # Trailing unnamed columns with no data at all are spreadsheet noise, not fields.
    while (
        header
        and header[-1] == f"column{len(header)}"
        and all(len(r) < len(header) or _is_blank(r[len(header) - 1]) for r in rows[1:])
    ):
        header.pop()
    return header


def _table_records(
    rows: list[list[Any]], file: str
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header names and (1-based data row number, record) pairs; blank rows are skipped."""
    if not rows:
        return [], []
    header = _header(rows)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise fail(file, "列名重复", "duplicate column names", field=", ".join(duplicates))
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
        raise fail(
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
        raise fail(
            file,
            f"WKT 无法解析：{exc}{zh}",
            f"unreadable WKT: {exc}{en}",
            feature=number,
            field=column,
        ) from exc


def _point_reader(lon_col: str, lat_col: str, file: str) -> GeometryReader:
    """Row → Point from two coordinate columns; both blank means no geometry."""

    def point(n: int, rec: dict[str, Any]) -> BaseGeometry | None:
        if _is_blank(rec[lon_col]) and _is_blank(rec[lat_col]):
            return None
        x = _number_cell(rec[lon_col], file, n, lon_col)
        y = _number_cell(rec[lat_col], file, n, lat_col)
        return shapely.Point(x, y)

    return point


def _table_geometry_reader(
    header: list[str], file: str, require_geometry: bool
) -> tuple[GeometryReader, set[str]]:
    """Pick the geometry columns and return (row → geometry function, geometry columns)."""
    wkt_col = _find_column(header, WKT_COLUMNS)
    if wkt_col is not None:
        return (lambda n, rec: _wkt_cell(rec[wkt_col], file, n, wkt_col)), {wkt_col}
    lon_col, lat_col = _find_column(header, LON_COLUMNS), _find_column(header, LAT_COLUMNS)
    if lon_col is not None and lat_col is not None:
        return _point_reader(lon_col, lat_col, file), {lon_col, lat_col}
    if require_geometry:
        raise fail(
            file,
            "找不到几何列（wkt/geometry 或 经度/纬度、lon/lat、x/y）",
            "no geometry column (wkt/geometry, or lon/lat, lng/lat, x/y, 经度/纬度)",
        )
    return (lambda n, rec: None), set()


def _table_value(value: Any) -> Any:
    """Attribute cell value: blank strings become None; our own formula guard comes off."""
    return None if _is_blank(value) else restore_cell(value)


def read_tabular(
    path: Path, encoding: str | None, sheet: str | None, require_geometry: bool
) -> RawLayer:
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
    return RawLayer(geometries, properties, numbers, fields, None, used)


def read_table(
    path: PathLike, *, sheet: str | None = None, encoding: str | None = None
) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 with/without BOM, else GBK) or XLSX sheet as dicts keyed by header."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_EXTENSIONS:
        raise fail(
            p.name, "不支持的表格类型（支持 .csv、.xlsx）", "unsupported table type (.csv, .xlsx)"
        )
    if not p.is_file():
        raise fail(p.name, "文件不存在", "file not found")
    rows = _rows_from_csv(p, encoding)[0] if suffix == ".csv" else _rows_from_xlsx(p, sheet)
    _, records = _table_records(rows, p.name)
    return [{k: _table_value(v) for k, v in rec.items()} for _, rec in records]
