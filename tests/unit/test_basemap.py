"""Tile arithmetic, the MBTiles file, the tile renderer and the basemap settings (no database)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
import shapely
from PIL import Image

from wangge.basemap import render
from wangge.basemap.csp import merged
from wangge.basemap.mbtiles import MBTiles
from wangge.basemap.render import Scene, render_tile
from wangge.basemap.sources import page_basemap, tile_hosts
from wangge.basemap.tiles import (
    count_tiles,
    parse_zooms,
    px_lonlat,
    tile_bounds,
    tiles_covering,
    tms_row,
    valid_tile,
    world_px,
)
from wangge.config import Settings

# A small district near Beijing: land, a river across it, a park, one main road, one block.
W, S, E, N = 116.30, 39.95, 116.33, 39.97
LAND = shapely.box(W, S, E, N)
RIVER = shapely.box(W - 0.01, 39.955, E + 0.01, 39.9565)
PARK = shapely.box(116.305, 39.962, 116.309, 39.965)
ROAD = shapely.LineString([(116.315, S - 0.01), (116.315, N + 0.01)])
BLOCK = shapely.box(116.3200, 39.9600, 116.3206, 39.9602)


def scene() -> Scene:
    return Scene(land=LAND, water=[RIVER], green=[PARK], buildings=[BLOCK],
                 roads=[(ROAD, "primary", "幸福大街")])  # fmt: skip


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.size == (256, 256)
    return image.convert("RGB")


def pixel_at(z: int, lon: float, lat: float) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Return (tile, pixel) of a lon/lat at zoom z."""
    gx, gy = world_px(lon, lat, z)
    return (z, int(gx // 256), int(gy // 256)), (int(gx % 256), int(gy % 256))


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def near(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# ---- tile arithmetic -------------------------------------------------------------------


def test_lon_lat_and_pixels_round_trip_and_tiles_bound_the_world():
    for z in (0, 5, 12, 18):
        x, y = world_px(116.3, 39.96, z)
        lon, lat = px_lonlat(x, y, z)
        assert lon == pytest.approx(116.3, abs=1e-9) and lat == pytest.approx(39.96, abs=1e-9)
    west, south, east, north = tile_bounds(0, 0, 0)
    assert (west, east) == (-180.0, 180.0) and north == pytest.approx(85.0511, abs=1e-4)
    assert south == pytest.approx(-north)
    # Beijing is in the north-east quarter at z1: x 1, y 0 (rows count from the north).
    assert list(tiles_covering((116.3, 39.9, 116.31, 39.91), 1)) == [(1, 1, 0)]


def test_the_tiles_covering_a_district_grow_fourfold_per_zoom():
    box = (W, S, E, N)
    counts = [count_tiles(box, range(z, z + 1)) for z in (12, 14, 16)]
    assert counts[0] >= 1 and counts[1] >= 4 and counts[2] > 10 * counts[1] / 4
    for z, x, y in tiles_covering(box, 16):  # every tile meets the box
        w, s, e, n = tile_bounds(z, x, y)
        assert w < E and e > W and s < N and n > S


def test_tms_rows_count_from_the_south_and_tiles_outside_the_pyramid_are_invalid():
    assert tms_row(0, 0) == 0 and tms_row(3, 0) == 7 and tms_row(3, 7) == 0
    assert valid_tile(3, 7, 7) and not valid_tile(3, 8, 0) and not valid_tile(23, 0, 0)
    assert not valid_tile(3, -1, 0)


def test_zoom_ranges_are_read_and_bad_ones_named():
    assert parse_zooms("11-16") == range(11, 17) and parse_zooms("14") == range(14, 15)
    for bad in ("16-11", "a-b", "0-23", ""):
        with pytest.raises(ValueError, match="zoom"):
            parse_zooms(bad)


# ---- the MBTiles file ------------------------------------------------------------------


def test_mbtiles_stores_xyz_tiles_in_tms_rows(tmp_path: Path):
    path = tmp_path / "t.mbtiles"
    store = MBTiles(path, writable=True)
    store.put(2, 1, 0, b"north")
    store.put_many([(2, 1, 3, b"south"), (5, 10, 12, b"deep")])
    store.set_metadata({"format": "png", "name": "测试"})
    rows = dict(
        ((z, x, r), bytes(d))
        for z, x, r, d in sqlite3.connect(path).execute("SELECT * FROM tiles").fetchall()
    )
    assert rows[(2, 1, 3)] == b"north" and rows[(2, 1, 0)] == b"south"  # flipped on disk
    reader = MBTiles(path)
    assert reader.get(2, 1, 0) == b"north" and reader.get(2, 1, 3) == b"south"
    assert reader.get(5, 10, 12) == b"deep" and reader.get(2, 0, 0) is None
    assert reader.count() == 3 and reader.metadata()["name"] == "测试"
    assert reader.media_type() == "image/png"


def test_a_read_only_store_never_creates_a_file(tmp_path: Path):
    with pytest.raises(sqlite3.OperationalError):
        MBTiles(tmp_path / "missing.mbtiles").get(0, 0, 0)
    assert not (tmp_path / "missing.mbtiles").exists()


# ---- the renderer ----------------------------------------------------------------------


@pytest.mark.parametrize("z", [12, 14, 16])
def test_a_tile_looks_like_a_map_at_several_zooms(z: int):
    (tz, tx, ty), (px, py) = pixel_at(z, 116.312, 39.9558)  # in the river, west of the road
    image = decode(render_tile(scene(), tz, tx, ty))
    assert len(image.getcolors(4096) or []) > 3  # land, water, road, … not one grey
    assert near(image.getpixel((px, py)), rgb(render.WATER), 20)


def test_roads_are_wider_when_zoomed_in_and_blocks_appear_from_z14():
    def road_width(z: int) -> int:
        (tz, tx, ty), (_, py) = pixel_at(z, 116.315, 39.965)
        image = decode(render_tile(scene(), tz, tx, ty))
        fill = rgb(render.ROAD_CLASSES["primary"].fill)
        return sum(near(image.getpixel((x, py)), fill, 25) for x in range(256))

    assert 0 < road_width(13) < road_width(16) < road_width(18)
    block_lon, block_lat = 116.3203, 39.9601
    for z, shown in ((13, False), (17, True)):
        (tz, tx, ty), (px, py) = pixel_at(z, block_lon, block_lat)
        colour = decode(render_tile(scene(), tz, tx, ty)).getpixel((px, py))
        assert near(colour, rgb(render.BUILDING), 14) is shown, (z, colour)


def test_an_empty_area_is_one_plain_colour():
    (tz, tx, ty), _ = pixel_at(15, 117.5, 40.5)  # far outside the district
    image = decode(render_tile(scene(), tz, tx, ty))
    assert image.getcolors() == [(256 * 256, rgb(render.OUTSIDE))]
    assert decode(render_tile(Scene(), tz, tx, ty)).getcolors() == image.getcolors()


def test_a_road_runs_on_across_the_edge_between_two_tiles():
    (z, x, y), _ = pixel_at(16, 116.315, 39.965)
    fill = rgb(render.ROAD_CLASSES["primary"].fill)

    def road_columns(image: Image.Image, row: int) -> list[int]:
        return [c for c in range(256) if near(image.getpixel((c, row)), fill, 25)]

    above = road_columns(decode(render_tile(scene(), z, x, y)), 255)
    below = road_columns(decode(render_tile(scene(), z, x, y + 1)), 0)
    assert len(above) > 3 and abs(len(above) - len(below)) <= 1
    assert abs(above[0] - below[0]) <= 1  # same place on both sides of the edge


# ---- settings → pages ------------------------------------------------------------------


def test_wmts_gets_a_kvp_gettile_template_and_its_host_is_allowed(tmp_path: Path):
    settings = Settings(
        upload_dir=tmp_path / "u",
        basemap="wmts",
        basemap_url="https://gis.example.cn/arcgis/rest/services/city/MapServer/WMTS?token=t",
        basemap_wmts_layer="city",
        basemap_wmts_format="image/jpeg",
    )
    (layer,) = page_basemap(settings, logged_in=False)["layers"]  # type: ignore[index]
    url = layer["url"]
    assert url.startswith(
        "https://gis.example.cn/arcgis/rest/services/city/MapServer/WMTS?token=t&"
    )
    for part in ("SERVICE=WMTS", "REQUEST=GetTile", "LAYER=city", "FORMAT=image%2Fjpeg",
                 "TILEMATRIXSET=GoogleMapsCompatible", "TILEMATRIX={z}", "TILEROW={y}",
                 "TILECOL={x}"):  # fmt: skip
        assert part in url
    assert tile_hosts(settings) == ["https://gis.example.cn"]


def test_no_basemap_and_the_local_file_need_no_external_host(tmp_path: Path):
    assert page_basemap(Settings(upload_dir=tmp_path / "u"), logged_in=True) is None
    assert tile_hosts(Settings(upload_dir=tmp_path / "u")) == []


def test_an_existing_policy_keeps_its_directives_and_gains_the_tile_hosts():
    directive = "img-src 'self' data: blob: https://*.tianditu.gov.cn"
    assert merged("default-src 'self'", directive) == f"default-src 'self'; {directive}"
    assert merged("img-src 'self'; script-src 'self'", directive) == (
        "img-src 'self' data: blob: https://*.tianditu.gov.cn; script-src 'self'"
    )
