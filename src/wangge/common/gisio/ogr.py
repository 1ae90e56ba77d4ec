"""Reading the formats GDAL opens: GeoJSON, GeoPackage, Shapefile and zipped Shapefile.

Access goes through pyogrio's raw (numpy) API; geopandas is deliberately not used. The
result is a `RawLayer` still in the file's CRS; `checks` converts and validates it.
"""

from __future__ import annotations

import contextlib
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from numpy.typing import NDArray
from pyogrio import raw as ogr_raw
from shapely.geometry.base import BaseGeometry

from wangge.common import geo
from wangge.common.geo import Crs
from wangge.common.gisio.encodings import read_limited, resolve_shapefile_encoding
from wangge.common.gisio.model import RawLayer, fail
from wangge.errors import ImportFailed, ValidationFailed


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


def _zip_member(names: list[str], stem: str, suffix: str) -> str | None:
    """Find `stem` + `suffix` among zip member names, case-insensitively for the suffix."""
    for name in names:
        if name[: -len(suffix)] == stem and name[-len(suffix) :].lower() == suffix:
            return name
    return None


def _zipped_shp(names: list[str], layer: str | None, file: str) -> str:
    """The one .shp member to read (named by `layer` when the zip holds several)."""
    shps = [n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX/")]
    if layer is not None:
        shps = [n for n in shps if Path(n).stem == layer]
    if not shps:
        raise fail(file, "压缩包中没有 .shp 文件", "the zip contains no .shp file")
    if len(shps) > 1:
        listed = ", ".join(Path(n).stem for n in shps)
        raise fail(
            file,
            f"压缩包中有多个 Shapefile（{listed}），请指定图层",
            f"the zip holds several shapefiles ({listed}); choose one with layer=",
        )
    return shps[0]


def _open_zipped_shapefile(
    path: Path, layer: str | None, encoding: str | None
) -> tuple[str, str, str]:
    """Locate the Shapefile in a zip: returns (/vsizip/ path, layer name, DBF encoding)."""
    file = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            shp = _zipped_shp(names, layer, file)
            stem = shp[:-4]
            cpg_name = _zip_member(names, stem, ".cpg")
            dbf_name = _zip_member(names, stem, ".dbf")
            cpg = zf.read(cpg_name) if cpg_name else None

            def sniff() -> bytes:
                return read_limited(lambda: zf.open(dbf_name))  # type: ignore[arg-type]

            enc = resolve_shapefile_encoding(encoding, cpg, sniff if dbf_name else None)
    except zipfile.BadZipFile as exc:
        raise fail(file, "不是有效的 zip 文件", "not a valid zip file") from exc
    return f"/vsizip/{path.resolve()}/{shp}", Path(shp).stem, enc


def _plain_shapefile_encoding(path: Path, encoding: str | None) -> str:
    """DBF encoding of an unzipped Shapefile from argument, .cpg or the DBF bytes."""
    cpg_path = _sibling(path, ".cpg")
    dbf_path = _sibling(path, ".dbf")
    cpg = cpg_path.read_bytes() if cpg_path else None
    sniff = (lambda: read_limited(lambda: dbf_path.open("rb"))) if dbf_path else None
    return resolve_shapefile_encoding(encoding, cpg, sniff)


def _choose_layer(path: str, file: str, layer: str | None) -> str | None:
    """Pick the layer to read; a multi-layer file needs an explicit choice."""
    if layer is not None:
        return layer
    layers = pyogrio.list_layers(path)
    if len(layers) > 1:
        listed = ", ".join(str(row[0]) for row in layers)
        raise fail(
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
            raise fail(
                file, f"几何无法解析：{exc}", f"unreadable geometry: {exc}", feature=i + 1
            ) from exc
    raise AssertionError("unreachable: bulk WKB parse failed but every item parsed")


def _file_crs(text: str | None, file: str) -> Crs | None:
    """The CRS a file declares, or None when it declares none."""
    if not text:
        return None
    try:
        return geo.parse_crs(text)
    except ValidationFailed as exc:
        raise fail(
            file, "文件声明的坐标系无法识别", f"the file's coordinate system is unknown: {exc}"
        ) from exc


def _ogr_source(
    path: Path, layer: str | None, encoding: str | None
) -> tuple[str, str | None, str, dict[str, Any]]:
    """What to hand GDAL: (source path, layer, attribute encoding, open options)."""
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
    return source, layer, enc, options


def _ogr_read(
    source: str, file: str, layer: str | None, enc: str, options: dict[str, Any]
) -> tuple[Any, ...]:
    """pyogrio's raw read, with GDAL and decoding failures reported against `file`."""
    try:
        layer = _choose_layer(source, file, layer)
        # (meta, fids, wkb geometries, field columns); pyogrio is untyped
        result: tuple[Any, ...] = ogr_raw.read(source, layer=layer, encoding=enc, **options)
        return result
    except ImportFailed:
        raise
    except UnicodeDecodeError as exc:
        raise fail(
            file,
            f"属性无法按 {enc} 编码解码，请指定正确的编码",
            f"attributes cannot be decoded as {enc}; pass the right encoding",
        ) from exc
    except Exception as exc:  # GDAL reports failures through several exception types
        raise fail(file, f"无法读取文件：{exc}", f"cannot read the file: {exc}") from exc


def read_ogr(path: Path, layer: str | None, encoding: str | None) -> RawLayer:
    """Read GeoJSON, GeoPackage or (zipped) Shapefile through GDAL."""
    file = path.name
    source, layer, enc, options = _ogr_source(path, layer, encoding)
    meta, _fids, wkb, columns = _ogr_read(source, file, layer, enc, options)
    fields = [str(name) for name in meta["fields"]]
    ogr_types = list(meta.get("ogr_types") or ["OFTString"] * len(fields))
    count = len(wkb) if wkb is not None else (len(columns[0]) if columns else 0)
    geometries: list[BaseGeometry | None] = (
        _parse_wkb(wkb, file) if wkb is not None else [None] * count
    )
    properties = [
        {
            name: _ogr_value(col[i], t)
            for name, col, t in zip(fields, columns, ogr_types, strict=True)
        }
        for i in range(count)
    ]
    crs = _file_crs(meta.get("crs"), file)
    return RawLayer(geometries, properties, list(range(1, count + 1)), fields, crs, enc)
