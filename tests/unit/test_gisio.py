"""GIS file import/export with real files in tmp_path: formats, encodings, CRSs, refusals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pyproj
import pytest
import shapely
from pyogrio import raw as ogr_raw

from wangge.common import geo, gisio
from wangge.common.gisio import Feature, FeatureSet, read_features, write_features
from wangge.errors import ImportFailed, ValidationFailed

ZHONGGUANCUN = shapely.box(116.300, 39.970, 116.320, 39.990)
HAIDIAN = shapely.box(116.330, 39.970, 116.345, 39.985)


def _features() -> list[Feature]:
    """Two streets with Chinese names, an integer, a float and a null."""
    return [
        Feature(
            1, ZHONGGUANCUN, {"名称": "中关村街道", "代码": "110108012", "人口": 12345, "面积": 1.5}
        ),
        Feature(2, HAIDIAN, {"名称": "海淀街道", "代码": "110108013", "人口": None, "面积": 2.25}),
    ]


def _assert_same_streets(fs: FeatureSet, *, tol: float = 1e-9) -> None:
    """Geometry (up to ring orientation/multi-ness) and Chinese attributes survived."""
    assert [f.number for f in fs.features] == [1, 2]
    for got, want in zip(fs.features, (ZHONGGUANCUN, HAIDIAN), strict=True):
        # Shapefiles reverse ring order and drop multi-ness; compare shapes, not encodings.
        assert shapely.normalize(got.geometry).equals_exact(shapely.normalize(want), tol)
    first, second = (f.properties for f in fs.features)
    assert first["名称"] == "中关村街道" and second["名称"] == "海淀街道"
    assert first["代码"] == "110108012"
    assert first["人口"] == 12345 and second["人口"] is None
    assert second["面积"] == 2.25


def _xy(fs: FeatureSet, index: int) -> tuple[float, float]:
    """(lon, lat) of a point feature."""
    point = fs.features[index].geometry
    assert isinstance(point, shapely.Point)
    return point.x, point.y


def _write_geojson(
    path: Path, geometries: list[dict | None], props: list[dict] | None = None
) -> Path:
    """Hand-written GeoJSON so refusal tests do not depend on write_features."""
    props = props or [{"名称": f"网格{i + 1}"} for i in range(len(geometries))]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": p}
            for g, p in zip(geometries, props, strict=True)
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _square(lon: float, lat: float, d: float = 0.01) -> dict:
    return shapely.geometry.mapping(shapely.box(lon, lat, lon + d, lat + d))


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["streets.geojson", "streets.gpkg", "streets.csv", "streets.xlsx"])
def test_round_trip_keeps_geometry_and_chinese_attributes(tmp_path: Path, name: str) -> None:
    path = write_features(tmp_path / name, _features())
    fs = read_features(path)
    if name.endswith((".csv", ".xlsx")):
        # Tables carry no types: numbers come back as text (CSV) or cell values (XLSX).
        assert fs.features[0].properties["名称"] == "中关村街道"
        assert shapely.equals_exact(fs.features[0].geometry, ZHONGGUANCUN, 1e-12)
        assert fs.fields == ["名称", "代码", "人口", "面积"]
    else:
        _assert_same_streets(fs)
    assert fs.source_crs.name == "EPSG:4490"


@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
def test_zipped_shapefile_round_trips_in_utf8_and_gbk(tmp_path: Path, encoding: str) -> None:
    path = write_features(tmp_path / "街道.zip", _features(), encoding=encoding)
    with zipfile.ZipFile(path) as zf:
        parts = sorted(Path(n).suffix for n in zf.namelist())
        assert parts == [".cpg", ".dbf", ".prj", ".shp", ".shx"]
        assert zf.read("街道.cpg").decode("ascii").strip() == encoding
        dbf = zf.read("街道.dbf")
    assert "中关村街道".encode(encoding) in dbf  # the DBF really uses the requested encoding
    fs = read_features(path)
    assert fs.encoding == encoding
    _assert_same_streets(fs)


def test_gbk_shapefile_keeps_four_character_chinese_field_names(tmp_path: Path) -> None:
    feats = [Feature(1, ZHONGGUANCUN, {"街道名称": "中关村街道", "社区网格编号": "A01"})]
    write_features(tmp_path / "g.zip", feats, encoding="GBK")
    fs = read_features(tmp_path / "g.zip")
    # 4 Chinese chars = 8 GBK bytes fit in DBF's 10; 6 chars are cut to 5 (not mid-character).
    assert fs.fields == ["街道名称", "社区网格编"]
    assert fs.features[0].properties["街道名称"] == "中关村街道"


def test_shapefile_field_names_are_cut_at_characters_and_made_unique() -> None:
    names = gisio.shapefile_field_names(
        ["街道名称", "街道名称甲", "街道名称乙", "population"], "UTF-8"
    )
    assert names == ["街道名", "街道_1", "街道_2", "population"]
    assert all(len(n.encode("utf-8")) <= 10 for n in names)
    assert gisio.shapefile_field_names(["街道名称"], "GBK") == ["街道名称"]


def test_gbk_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = write_features(tmp_path / "streets.shp", _features(), encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    fs = read_features(shp)
    assert fs.encoding == "GBK"
    _assert_same_streets(fs)


def test_gbk_zipped_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    write_features(tmp_path / "src.zip", _features(), encoding="GBK")
    stripped = tmp_path / "no_cpg.zip"
    with zipfile.ZipFile(tmp_path / "src.zip") as src, zipfile.ZipFile(stripped, "w") as dst:
        for name in src.namelist():
            if not name.endswith(".cpg"):
                dst.writestr(name, src.read(name))
    fs = read_features(stripped)
    assert fs.encoding == "GBK"
    assert fs.features[0].properties["名称"] == "中关村街道"


def test_utf8_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = write_features(tmp_path / "streets.shp", _features(), encoding="UTF-8")
    shp.with_suffix(".cpg").unlink()
    fs = read_features(shp)
    assert fs.encoding == "UTF-8"
    assert fs.features[1].properties["名称"] == "海淀街道"


def test_cpg_saying_utf8_is_respected(tmp_path: Path) -> None:
    shp = write_features(tmp_path / "streets.shp", _features(), encoding="UTF-8")
    shp.with_suffix(".cpg").write_text("UTF-8")
    assert read_features(shp).encoding == "UTF-8"
    # Proof the .cpg wins over sniffing: GBK bytes under a UTF-8 .cpg are refused, whereas
    # sniffing alone would have read them as GBK.
    gbk = write_features(tmp_path / "gbk.shp", _features(), encoding="GBK")
    gbk.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(ImportFailed) as info:
        read_features(gbk)
    assert "UTF-8" in info.value.message_en and info.value.file == "gbk.shp"


def test_cpg_code_page_numbers_are_understood(tmp_path: Path) -> None:
    shp = write_features(tmp_path / "streets.shp", _features(), encoding="GBK")
    shp.with_suffix(".cpg").write_text("936")
    fs = read_features(shp)
    assert fs.encoding == "GBK"
    assert fs.features[0].properties["名称"] == "中关村街道"


def test_explicit_encoding_overrides_a_wrong_cpg(tmp_path: Path) -> None:
    shp = write_features(tmp_path / "streets.shp", _features(), encoding="GBK")
    shp.with_suffix(".cpg").write_text("UTF-8")
    fs = read_features(shp, encoding="GBK")
    assert fs.encoding == "GBK"
    assert fs.features[0].properties["名称"] == "中关村街道"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("UTF-8", "UTF-8"),
        ("utf8", "UTF-8"),
        ("65001", "UTF-8"),
        ("936", "GBK"),
        ("CP936", "GBK"),
        ("GB2312", "GBK"),
        ("ANSI 936", "GBK"),
        ("GB18030", "GB18030"),
        ("1252", "cp1252"),
        ("nonsense", None),
    ],
)
def test_cpg_labels_are_normalised(label: str, codec: str | None) -> None:
    assert gisio.normalize_encoding(label) == codec


def test_dbf_sniffer_tells_utf8_from_gbk() -> None:
    header = bytearray(32 + 32 + 1)
    header[8:10] = (65).to_bytes(2, "little")
    header[10:12] = (21).to_bytes(2, "little")
    header[32:36] = b"NAME"
    assert (
        gisio.detect_dbf_encoding(bytes(header) + b" " + "中关村街道".encode() + b"     ")
        == "UTF-8"
    )
    assert (
        gisio.detect_dbf_encoding(bytes(header) + b" " + "中关村街道".encode("gbk") + b"          ")
        == "GBK"
    )


# ---------------------------------------------------------------- coordinate systems


def test_gcj02_in_and_out_round_trips_within_1e_7_degrees(tmp_path: Path) -> None:
    path = write_features(tmp_path / "amap.geojson", _features(), crs="GCJ-02")
    # The file really holds GCJ-02 numbers: they equal the forward formula, not the input.
    _, _, wkb, _ = ogr_raw.read(str(path))
    in_file = shapely.get_coordinates(shapely.from_wkb(wkb[0]))
    expected = np.column_stack(geo.wgs84_to_gcj02(*shapely.get_coordinates(ZHONGGUANCUN).T))
    assert np.allclose(in_file, expected, atol=1e-12)
    fs = read_features(path, crs="GCJ02")
    assert fs.source_crs.name == "GCJ02"
    got = shapely.get_coordinates(fs.features[0].geometry)
    assert np.max(np.abs(got - shapely.get_coordinates(ZHONGGUANCUN))) < 1e-7
    out = write_features(tmp_path / "again.geojson", fs, crs="GCJ02")
    _, _, wkb2, _ = ogr_raw.read(str(out))
    assert np.max(np.abs(shapely.get_coordinates(shapely.from_wkb(wkb2[0])) - in_file)) < 1e-7


def test_bd09_csv_points_come_in_at_the_right_place(tmp_path: Path) -> None:
    bd_lon, bd_lat = geo.wgs84_to_bd09(116.404, 39.915)
    path = tmp_path / "baidu.csv"
    path.write_text(f"名称,lng,lat\n天安门,{bd_lon!r},{bd_lat!r}\n", encoding="utf-8")
    fs = read_features(path, crs="BD09")
    assert _xy(fs, 0) == pytest.approx((116.404, 39.915), abs=1e-8)


def test_gauss_kruger_4548_file_comes_in_at_the_right_lon_lat(tmp_path: Path) -> None:
    lonlat = [(114.30, 30.60), (114.32, 30.60), (114.32, 30.62), (114.30, 30.62)]
    to_gk = pyproj.Transformer.from_crs(4490, 4548, always_xy=True)
    ring = [to_gk.transform(x, y) for x, y in lonlat]
    path = tmp_path / "wuhan.gpkg"
    ogr_raw.write(
        str(path),
        shapely.to_wkb(np.array([shapely.Polygon(ring)])),
        [np.array(["武昌"], dtype=object)],
        ["名称"],
        crs="EPSG:4548",
        geometry_type="Polygon",
        driver="GPKG",
    )
    fs = read_features(path)
    assert fs.source_crs.epsg == 4548
    got = shapely.get_coordinates(fs.features[0].geometry)[:4]
    assert np.allclose(got, lonlat, atol=1e-9)
    assert fs.features[0].properties["名称"] == "武昌"


def test_writing_in_gauss_kruger_declares_the_projection(tmp_path: Path) -> None:
    path = write_features(tmp_path / "gk.zip", _features(), crs=4548)
    meta, _, wkb, _ = ogr_raw.read(f"/vsizip/{path}/gk.shp")
    assert meta["crs"] == "EPSG:4548"
    x, y = shapely.get_coordinates(shapely.from_wkb(wkb[0]))[0]
    assert 300_000 < x < 700_000 and 4_000_000 < y < 5_000_000
    _assert_same_streets(read_features(path), tol=1e-8)


def test_crs_argument_overrides_the_file(tmp_path: Path) -> None:
    path = write_features(tmp_path / "a.geojson", _features())
    fs = read_features(path, crs="GCJ02")
    expected = np.column_stack(geo.gcj02_to_wgs84(*shapely.get_coordinates(ZHONGGUANCUN).T))
    assert np.allclose(shapely.get_coordinates(fs.features[0].geometry), expected, atol=1e-9)


def test_bad_crs_argument_is_an_import_failure(tmp_path: Path) -> None:
    path = write_features(tmp_path / "a.geojson", _features())
    with pytest.raises(ImportFailed) as info:
        read_features(path, crs="Flatland-1884")
    assert info.value.field == "crs"


def test_geojson_with_heights_comes_in_as_2d(tmp_path: Path) -> None:
    ring = [[116.3, 39.9, 50.0], [116.4, 39.9, 50.0], [116.4, 40.0, 50.0], [116.3, 39.9, 50.0]]
    path = _write_geojson(tmp_path / "z.geojson", [{"type": "Polygon", "coordinates": [ring]}])
    geometry = read_features(path).features[0].geometry
    assert geometry is not None and not geometry.has_z
    assert shapely.get_coordinates(geometry).tolist()[:3] == [r[:2] for r in ring[:3]]


# ---------------------------------------------------------------- CSV / XLSX details


def test_gbk_csv_with_chinese_lon_lat_headers_is_read(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_bytes("名称,经度,纬度\n中关村,116.31,39.98\n".encode("gbk"))
    fs = read_features(path)
    assert fs.encoding == "GBK"
    assert fs.fields == ["名称"]
    assert fs.features[0].properties == {"名称": "中关村"}
    assert _xy(fs, 0) == (116.31, 39.98)


def test_utf8_csv_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_bytes("\ufeffname,lon,lat\n海淀,116.3,39.96\n".encode())
    fs = read_features(path)
    assert fs.encoding == "UTF-8" and fs.fields == ["name"]
    assert fs.features[0].properties["name"] == "海淀"


def test_xlsx_lon_lat_sheet_is_read(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "X", "Y", "人口"])
    ws.append(["中关村", 116.31, 39.98, 100])
    ws.append([None, None, None, None])  # blank rows are skipped, numbering is kept
    ws.append(["海淀", "116.32", "39.97", None])
    wb.save(tmp_path / "p.xlsx")
    fs = read_features(tmp_path / "p.xlsx")
    assert [f.number for f in fs.features] == [1, 3]
    assert fs.features[0].properties == {"名称": "中关村", "人口": 100}
    assert _xy(fs, 1) == (116.32, 39.97)


def test_table_without_geometry_is_allowed_when_not_required(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("code,name\n1,a\n", encoding="utf-8")
    fs = read_features(path, require_geometry=False)
    assert fs.features[0].geometry is None and fs.features[0].properties == {
        "code": "1",
        "name": "a",
    }
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert "no geometry column" in info.value.message_en


@pytest.mark.parametrize("name", ["t.csv", "t.xlsx"])
def test_attribute_tables_round_trip(tmp_path: Path, name: str) -> None:
    rows: list[dict[str, Any]] = [
        {"编号": "0101", "名称": "中关村街道", "备注": None},
        {"编号": "0102", "名称": "海淀街道"},
    ]
    gisio.write_table(tmp_path / name, rows, ["编号", "名称", "备注"])
    back = gisio.read_table(tmp_path / name)
    assert back == [
        {"编号": "0101", "名称": "中关村街道", "备注": None},
        {"编号": "0102", "名称": "海淀街道", "备注": None},
    ]


def test_read_table_falls_back_to_gbk(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("网格,负责人\nA01,张三\n".encode("gbk"))
    assert gisio.read_table(tmp_path / "t.csv") == [{"网格": "A01", "负责人": "张三"}]


# ---------------------------------------------------------------- refusals


def test_bowtie_polygon_is_refused_with_the_self_intersection_location(tmp_path: Path) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[116.3, 39.9], [116.4, 40.0], [116.4, 39.9], [116.3, 40.0], [116.3, 39.9]]
        ],
    }
    path = _write_geojson(tmp_path / "grids.geojson", [_square(116.1, 39.8), bowtie])
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    err = info.value
    assert err.file == "grids.geojson" and err.feature == 2
    assert "Self-intersection[116.35 39.95]" in err.message_en
    assert "Self-intersection[116.35 39.95]" in err.message_zh


def test_zip_without_shp_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.file == "data.zip" and "no .shp" in info.value.message_en


def test_swapped_lat_lon_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("name,lon,lat\nok,116.3,39.9\nswapped,39.9,116.3\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 2
    assert "swapped" in info.value.message_en and "颠倒" in info.value.message_zh


def test_swapped_geojson_polygon_is_refused(tmp_path: Path) -> None:
    swapped = {
        "type": "Polygon",
        "coordinates": [[[39.9, 116.3], [39.9, 116.4], [40.0, 116.4], [39.9, 116.3]]],
    }
    path = _write_geojson(tmp_path / "s.geojson", [swapped])
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 1 and "swapped" in info.value.message_en


def test_undeclared_projected_coordinates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "gk.csv"
    path.write_text("name,x,y\na,500123.5,4420456.25\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 1
    assert "500124" in info.value.message_en and "EPSG:4490" in info.value.message_en


def test_points_outside_china_are_refused(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "london.geojson", [{"type": "Point", "coordinates": [-0.12, 51.5]}]
    )
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert "outside China" in info.value.message_en


def test_non_numeric_coordinate_in_csv_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text(
        "name,经度,纬度\na,116.3,39.9\nb,116.31,39.91\nc,116.4x,39.9\n", encoding="utf-8"
    )
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    err = info.value
    assert (err.file, err.feature, err.field) == ("points.csv", 3, "经度")
    assert "116.4x" in err.message_en and "sheet row 4" in err.message_en
    assert err.to_dict()["details"] == {"file": "points.csv", "feature": 3, "field": "经度"}


def test_unreadable_wkt_names_the_feature(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        'name,wkt\na,"POINT (116.3 39.9)"\nb,"POLYGON ((116.3 39.9, 116.4"\n', encoding="utf-8"
    )
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert (info.value.feature, info.value.field) == (2, "wkt")


def test_missing_and_empty_geometries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text('name,wkt\na,"POINT (116.3 39.9)"\nb,\n', encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 2 and "missing" in info.value.message_en
    path.write_text('name,wkt\na,"POLYGON EMPTY"\n', encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 1 and "empty" in info.value.message_en


def test_null_geometry_in_geojson_is_refused(tmp_path: Path) -> None:
    path = _write_geojson(tmp_path / "n.geojson", [_square(116.1, 39.8), None])
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.feature == 2


@pytest.mark.parametrize("name", ["data.kml", "data.dwg", "data"])
def test_unsupported_extension_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.file == name and "unsupported" in info.value.message_en


def test_corrupt_file_is_an_import_failure(tmp_path: Path) -> None:
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"not a geopackage")
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert info.value.file == "broken.gpkg"


def test_geopackage_with_several_layers_needs_a_layer_name(tmp_path: Path) -> None:
    path = tmp_path / "multi.gpkg"
    write_features(path, _features(), layer="streets")
    ogr_raw.write(
        str(path),
        shapely.to_wkb(np.array([shapely.Point(116.3, 39.9)])),
        [],
        [],
        layer="points",
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:4490",
        append=True,
    )
    with pytest.raises(ImportFailed) as info:
        read_features(path)
    assert "streets" in info.value.message_en and "points" in info.value.message_en
    assert len(read_features(path, layer="points")) == 1


# ---------------------------------------------------------------- writing refusals


def test_text_too_long_for_a_dbf_is_refused_instead_of_truncated(tmp_path: Path) -> None:
    feats = [Feature(1, ZHONGGUANCUN, {"备注": "长" * 200})]  # 400 GBK bytes > 254
    with pytest.raises(ValidationFailed) as info:
        write_features(tmp_path / "long.zip", feats, encoding="GBK")
    assert info.value.code == "export_failed"
    assert not (tmp_path / "long.zip").exists()  # nothing half-written
    write_features(tmp_path / "long.gpkg", feats)  # GeoPackage has no such limit
    assert read_features(tmp_path / "long.gpkg").features[0].properties["备注"] == "长" * 200


def test_unsupported_output_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        write_features(tmp_path / "out.kml", _features())
