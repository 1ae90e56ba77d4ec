"""The district's own basemap from the database (both backends), the demo's water, the CLI."""

from __future__ import annotations

import io

import numpy as np
import shapely
from PIL import Image
from sqlalchemy import insert
from typer.testing import CliRunner

from tests.case_factories import build_world
from tests.factories import COUNTY, DX, DY, X0, Y0
from wangge.basemap.features import WATER_LAYER, load_features, save_features
from wangge.basemap.mbtiles import MBTiles
from wangge.basemap.scene import load_scene
from wangge.basemap.tiles import count_tiles
from wangge.cli import app
from wangge.common.models import utcnow
from wangge.registry.models import Building
from wangge.synthetic import make_district, make_grids
from wangge.synthetic_water import make_water

RIVER = shapely.box(X0, Y0 + 0.4 * DY, X0 + 2 * DX, Y0 + 0.45 * DY)


def _building(session, lon: float, lat: float) -> None:
    now = utcnow()
    session.execute(
        insert(Building),
        [{"county_code": COUNTY, "community_code": "110108001001", "name": "1号楼", "lon": lon,
          "lat": lat, "geom": shapely.Point(lon, lat), "minx": lon, "miny": lat, "maxx": lon,
          "maxy": lat, "created_at": now, "updated_at": now}],
    )  # fmt: skip


def test_the_scene_holds_the_county_its_water_buildings_and_grid_edges(session):
    build_world(session)
    assert save_features(session, COUNTY, WATER_LAYER, [("清水河", RIVER)]) == 1
    _building(session, X0 + 0.3 * DX, Y0 + 0.8 * DY)  # on land
    _building(session, X0 + 0.3 * DX, Y0 + 0.425 * DY)  # in the river: a data error, not drawn
    [(name, river)] = load_features(session, COUNTY, WATER_LAYER)
    assert name == "清水河" and river.equals(RIVER)
    scene = load_scene(session, COUNTY, grid_roads=True)
    assert scene.land is not None and scene.land.covers(RIVER.intersection(scene.land))
    assert len(scene.water) == 1 and len(scene.buildings) == 1
    assert scene.buildings[0].contains(shapely.Point(X0 + 0.3 * DX, Y0 + 0.8 * DY))
    edges = [g for g, cls, _ in scene.roads if cls == "tertiary"]
    # 12 square grids: their shared edges, each drawn once, cover the inner grid lines.
    assert edges and shapely.union_all(edges).covers(
        shapely.LineString([(X0 + DX, Y0), (X0 + DX, Y0 + DY)])
    )
    assert not [r for r in load_scene(session, COUNTY).roads if r[1] == "tertiary"]


def test_the_demo_water_is_seeded_and_leaves_the_district_unchanged():
    args = {"seed": 7, "area_km2": 12.0, "n_streets": 2, "communities_per_street": 2}
    before = make_district(**args)
    grids_before = make_grids(before, n_grids=20, seed=7)
    water, parks = make_water(before, seed=7)
    again, _ = make_water(make_district(**args), seed=7)
    assert [n for n, _ in water] == ["清水河", "翠湖"] and len(parks) == 3
    assert all(a.equals(b) for (_, a), (_, b) in zip(water, again, strict=True))
    after = make_district(**args)
    assert after.outline.equals(before.outline)
    grids_after = make_grids(after, n_grids=20, seed=7)
    assert all(a[1].equals(b[1]) for a, b in zip(grids_before, grids_after, strict=True))
    river, lake = water[0][1], water[1][1]
    assert river.intersects(before.outline) and before.outline.contains(lake)
    assert not river.intersects(lake)


def test_wangge_basemap_render_writes_an_mbtiles_file(tmp_path):
    db = f"sqlite:///{tmp_path / 'b.db'}"
    runner = CliRunner()
    from tests.integration.test_cli import _divisions_geojson

    geo = _divisions_geojson(tmp_path / "d.geojson")
    assert runner.invoke(app, ["division", "import", str(geo), "--database-url", db]).exit_code == 0
    out = tmp_path / "city.mbtiles"
    done = runner.invoke(
        app, ["basemap", "render", "--out", str(out), "--zoom", "12-14", "--database-url", db]
    )
    assert done.exit_code == 0, done.output
    store = MBTiles(out)
    meta = store.metadata()
    west, south, east, north = (float(v) for v in meta["bounds"].split(","))
    assert (meta["format"], meta["minzoom"], meta["maxzoom"]) == ("png", "12", "14")
    assert store.count() == count_tiles((west, south, east, north), range(12, 15)) > 3
    assert "wangge_render_county" not in meta  # not lazy: a missing tile stays missing
    z, x, y = 14, *_tile_of(X0 + DX, Y0 + DY, 14)
    image = Image.open(io.BytesIO(store.get(z, x, y) or b""))
    assert image.size == (256, 256) and len(image.convert("RGB").getcolors(4096) or []) >= 2
    bad = runner.invoke(app, ["basemap", "render", "--zoom", "16-11", "--database-url", db])
    assert bad.exit_code == 2 and "zoom" in bad.output


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    from wangge.basemap.tiles import world_px

    x, y = world_px(lon, lat, z)
    return int(np.floor(x / 256)), int(np.floor(y / 256))
