"""Coordinate systems: GCJ-02/BD-09 offsets, CRS parsing, canonical conversion, metres."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry.polygon import orient

from wangge.common import geo
from wangge.errors import ValidationFailed

TIANANMEN = (116.404, 39.915)


def test_wgs84_to_gcj02_matches_the_published_vector() -> None:
    lon, lat = geo.wgs84_to_gcj02(*TIANANMEN)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_to_bd09_matches_the_published_vector() -> None:
    lon, lat = geo.gcj02_to_bd09(*TIANANMEN)
    assert lon == pytest.approx(116.41036949371029, abs=1e-12)
    assert lat == pytest.approx(39.92133699351021, abs=1e-12)


def test_scalar_input_gives_plain_floats() -> None:
    lon, lat = geo.wgs84_to_gcj02(*TIANANMEN)
    assert type(lon) is float and type(lat) is float


def test_gcj02_inverse_is_sub_millimetre_across_china() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(74, 134, 500)
    lat = rng.uniform(18, 53, 500)
    back_lon, back_lat = geo.gcj02_to_wgs84(*geo.wgs84_to_gcj02(lon, lat))
    # 1e-8 degrees is about 1 mm.
    assert np.max(np.abs(back_lon - lon)) < 1e-8
    assert np.max(np.abs(back_lat - lat)) < 1e-8


def test_gcj02_inverse_beats_the_one_step_approximation() -> None:
    # The notes quote the simple 2p - f(p) inverse, which is ~1 m off; ours must do better.
    wgs = geo.gcj02_to_wgs84(*TIANANMEN)
    assert geo.wgs84_to_gcj02(*wgs) == pytest.approx(TIANANMEN, abs=1e-10)
    assert wgs[0] == pytest.approx(116.39775550083061, abs=1e-5)
    assert wgs[1] == pytest.approx(39.91359571849836, abs=1e-5)


def test_bd09_round_trip_is_sub_millimetre() -> None:
    lon = np.array([116.404, 121.4737, 113.2644, 104.0665])
    lat = np.array([39.915, 31.2304, 23.1291, 30.5723])
    back_lon, back_lat = geo.bd09_to_wgs84(*geo.wgs84_to_bd09(lon, lat))
    assert np.max(np.abs(back_lon - lon)) < 1e-8
    assert np.max(np.abs(back_lat - lat)) < 1e-8
    gcj_lon, gcj_lat = geo.bd09_to_gcj02(*geo.gcj02_to_bd09(lon, lat))
    assert np.max(np.abs(gcj_lon - lon)) < 1e-8
    assert np.max(np.abs(gcj_lat - lat)) < 1e-8


def test_points_outside_china_are_not_offset() -> None:
    lon = np.array([139.69, -0.1276, 116.404])  # Tokyo, London, Beijing
    lat = np.array([35.69, 51.5072, 39.915])
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    assert glon[:2] == pytest.approx(lon[:2], abs=0) and glat[:2] == pytest.approx(lat[:2], abs=0)
    assert abs(glon[2] - lon[2]) > 1e-3
    wlon, _ = geo.gcj02_to_wgs84(lon, lat)
    assert wlon[:2] == pytest.approx(lon[:2], abs=0)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("EPSG:4490", "EPSG:4490"),
        ("epsg:4490", "EPSG:4490"),
        ("4490", "EPSG:4490"),
        (4326, "EPSG:4326"),
        ("CGCS2000", "EPSG:4490"),
        ("WGS84", "EPSG:4326"),
        ("WGS 84", "EPSG:4326"),
        ("GCJ02", "GCJ02"),
        ("GCJ-02", "GCJ02"),
        ("gcj02", "GCJ02"),
        ("BD09", "BD09"),
        ("BD-09", "BD09"),
        ("EPSG:4548", "EPSG:4548"),
        (4491, "EPSG:4491"),
        ("4554", "EPSG:4554"),
        ("EPSG:3857", "EPSG:3857"),
    ],
)
def test_parse_crs_understands_common_spellings(text: str | int, name: str) -> None:
    assert geo.parse_crs(text).name == name


@pytest.mark.parametrize(("code", "flat"), [(4979, "EPSG:4326"), (4480, "EPSG:4490")])
def test_3d_geographic_crs_maps_to_its_2d_version(code: int, flat: str) -> None:
    # GDAL declares GeoJSON with heights as EPSG:4979; heights are dropped on import.
    assert geo.parse_crs(code).name == flat


def test_parse_crs_reads_wkt_and_finds_its_epsg_code() -> None:
    wkt = pyproj.CRS.from_epsg(4549).to_wkt()
    assert geo.parse_crs(wkt).epsg == 4549


@pytest.mark.parametrize("text", ["foo", "EPSG:999999", 999999, None, "", 4479, True, "Mars-2000"])
def test_parse_crs_refuses_unknown_systems_with_bad_crs(text: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        geo.parse_crs(text)  # type: ignore[arg-type]
    assert info.value.code == "bad_crs"
    assert info.value.message_zh and info.value.message_en


def test_to_canonical_converts_gauss_kruger_metres_to_lon_lat() -> None:
    expected = (114.3, 30.6)
    x, y = pyproj.Transformer.from_crs(4490, 4548, always_xy=True).transform(*expected)
    point = geo.to_canonical(shapely.Point(x, y), "EPSG:4548")
    assert (point.x, point.y) == pytest.approx(expected, abs=1e-9)


def test_geometry_round_trips_through_gcj02() -> None:
    poly = shapely.box(116.30, 39.90, 116.31, 39.91)
    gcj = geo.from_canonical(poly, "GCJ02")
    assert not gcj.equals_exact(poly, 1e-4)  # the offset (~600 m) was really applied
    back = geo.to_canonical(gcj, "GCJ-02")
    assert back.equals_exact(poly, 1e-9)


def test_canonical_and_wgs84_are_treated_as_identical() -> None:
    lon, lat = geo.to_canonical_xy(np.array([116.4]), np.array([39.9]), 4326)
    assert lon[0] == 116.4 and lat[0] == 39.9
    poly = shapely.box(116.3, 39.9, 116.31, 39.91)
    assert geo.from_canonical(poly, "EPSG:4326") is poly


def test_xy_helpers_are_inverse_of_each_other_for_projected_crs() -> None:
    lon = np.array([113.1, 113.9, 114.6])
    lat = np.array([22.5, 23.0, 23.4])
    x, y = geo.from_canonical_xy(lon, lat, 4547)
    assert np.all(x > 100_000) and np.all(y > 2_000_000)  # metres, not degrees
    back_lon, back_lat = geo.to_canonical_xy(x, y, 4547)
    assert np.allclose(back_lon, lon, atol=1e-9) and np.allclose(back_lat, lat, atol=1e-9)


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [
        (75.0, 4534),
        (116.4, 4548),
        (120.0, 4549),
        (121.47, 4549),
        (135.0, 4554),
        (60.0, 4534),
        (170.0, 4554),
    ],
)
def test_metric_crs_for_picks_the_nearest_3_degree_zone(lon: float, epsg: int) -> None:
    assert geo.metric_crs_for(lon) == epsg


def test_metric_crs_codes_have_the_expected_central_meridian() -> None:
    crs = pyproj.CRS.from_epsg(geo.metric_crs_for(116.4))
    assert crs.coordinate_operation is not None
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert params["Longitude of natural origin"] == 117.0
    assert params["False easting"] == 500000.0


def test_to_metric_and_back_round_trips() -> None:
    poly = shapely.box(116.30, 39.90, 116.32, 39.92)
    metric, epsg = geo.to_metric(poly)
    assert epsg == 4548
    assert 1_000_000 < metric.area < 10_000_000  # ≈ 1.7 km × 2.2 km
    assert geo.from_metric(metric, epsg).equals_exact(poly, 1e-9)


def test_area_of_a_square_kilometre_is_one_million_square_metres() -> None:
    square = shapely.box(499_500, 4_419_500, 500_500, 4_420_500)  # at the zone's central meridian
    lonlat = geo.from_metric(square, 4548)
    assert geo.area_m2(lonlat) == pytest.approx(1_000_000, rel=1e-3)


def test_area_subtracts_holes_and_adds_parts() -> None:
    outer = shapely.box(116.0, 39.0, 116.1, 39.1)
    hole = shapely.box(116.02, 39.02, 116.04, 39.04)
    other = shapely.box(117.0, 39.0, 117.05, 39.05)
    with_hole = outer.difference(hole)
    assert geo.area_m2(with_hole) == pytest.approx(geo.area_m2(outer) - geo.area_m2(hole), rel=1e-9)
    multi = shapely.MultiPolygon([with_hole, other])
    assert geo.area_m2(multi) == pytest.approx(
        geo.area_m2(with_hole) + geo.area_m2(other), rel=1e-9
    )
    # pyproj's own signed area, with rings oriented the way it expects, agrees.
    reference = sum(geo.GEOD.geometry_area_perimeter(orient(p))[0] for p in multi.geoms)
    assert geo.area_m2(multi) == pytest.approx(reference, rel=1e-9)


def test_areas_m2_is_vectorised_and_zero_for_points_lines_and_missing() -> None:
    polys = [shapely.Point(116 + i * 0.01, 39.9).buffer(0.005) for i in range(2000)]
    mixed = [*polys, shapely.Point(116, 39), shapely.LineString([(116, 39), (116.1, 39)]), None]
    areas = geo.areas_m2(mixed)
    assert areas.shape == (2003,)
    assert np.all(areas[:2000] > 100_000)
    assert list(areas[2000:]) == [0.0, 0.0, 0.0]
    assert areas[7] == pytest.approx(geo.area_m2(polys[7]), rel=1e-12)
    assert geo.areas_m2([]).shape == (0,)


def test_length_of_a_projected_kilometre_is_one_thousand_metres() -> None:
    line = geo.from_metric(shapely.LineString([(500_000, 4_420_000), (500_000, 4_421_000)]), 4548)
    assert geo.length_m(line) == pytest.approx(1000.0, rel=1e-4)
    assert geo.length_m(None) == 0.0
