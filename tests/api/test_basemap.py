"""The basemap through the real app: /tiles from an MBTiles file, the page config, the CSP,
the map's case filters and the grid card (issue 17: 6 and the map part of 3)."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.api_support import serve_session
from tests.case_factories import FAR_SUPERVISOR, GRID1, LAT, LON, build_world, report
from wangge.api.deps import get_principal
from wangge.auth.principal import ANONYMOUS, LOCAL_OPERATOR
from wangge.basemap.mbtiles import MBTiles
from wangge.basemap.tiles import world_px
from wangge.config import Settings
from wangge.main import create_app
from wangge.web.views import page_principal

KEY = "d7b3a9e1c0f24b6a8e5f1234567890ab"
PNG = b"\x89PNG\r\n\x1a\n" + b"tile"  # the server passes tile bytes through untouched


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        upload_dir=tmp_path / "uploads",
        log_json=False,
        **extra,
    )


@pytest.fixture
def serve(session, tmp_path) -> Iterator[Callable[..., tuple[TestClient, dict]]]:
    """Start the app with some settings on the test's session; `holder["who"]` logs in."""
    build_world(session)
    clients: list[TestClient] = []

    def start(**extra: Any) -> tuple[TestClient, dict]:
        holder: dict = {"who": ANONYMOUS}
        app = create_app(_settings(tmp_path, **extra))
        serve_session(app, session)
        app.dependency_overrides[get_principal] = lambda: holder["who"]
        app.dependency_overrides[page_principal] = lambda: (
            None if holder["who"] is ANONYMOUS else holder["who"]
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, holder

    yield start
    for c in clients:
        c.__exit__(None, None, None)


def _tiles_file(path: Path, tiles: dict[tuple[int, int, int], bytes], **meta: str) -> Path:
    """Write an MBTiles file by hand, rows in TMS order as the specification says."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);"
    )
    db.executemany("INSERT INTO metadata VALUES (?, ?)", {"format": "png", **meta}.items())
    for (z, x, y), data in tiles.items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, data))
    db.commit()
    db.close()
    return path


def _page_basemap(html: str) -> Any:
    """Return the page's WG.basemap (what static/basemap.js draws)."""
    found = re.search(r"basemap: (.*)\};</script>", html)
    assert found, "the page carries no basemap config"
    return json.loads(found.group(1))


def test_tiles_are_served_from_the_mbtiles_file_by_xyz_address(serve, tmp_path):
    north, south = PNG + b"-north", PNG + b"-south"
    path = _tiles_file(tmp_path / "city.mbtiles", {(3, 6, 2): north, (3, 6, 5): south})
    client, _ = serve(basemap="mbtiles", basemap_mbtiles=path)
    r = client.get("/tiles/3/6/2.png")
    assert r.status_code == 200 and r.content == north  # row 2 from the north is TMS row 5
    assert r.headers["content-type"] == "image/png"
    assert "max-age" in r.headers["cache-control"] and "public" in r.headers["cache-control"]
    assert client.get("/tiles/3/6/5.png").content == south
    again = client.get("/tiles/3/6/2.png", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for missing in (
        "/tiles/3/6/3.png",  # empty area of the file
        "/tiles/3/8/2.png",  # x beyond 2^z
        "/tiles/23/0/0.png",  # deeper than any zoom
        "/tiles/3/6/2.jpg",  # not the file's format
        "/tiles/3/-6/2.png",
        "/tiles/3/6/2.png.png",
        "/tiles/3/6/..%2F2.png",
        "/tiles/3/..%2F..%2F/2.png",
        "/tiles/x/6/2.png",
    ):
        assert client.get(missing).status_code == 404, missing


def test_no_tiles_are_served_unless_the_basemap_is_the_local_file(serve, tmp_path):
    path = _tiles_file(tmp_path / "city.mbtiles", {(3, 6, 2): PNG})
    client, _ = serve(basemap="none", basemap_mbtiles=path)
    assert client.get("/tiles/3/6/2.png").status_code == 404


def test_a_lazy_file_draws_missing_tiles_of_the_district_and_keeps_them(serve, tmp_path):
    path = _tiles_file(tmp_path / "lazy.mbtiles", {}, wangge_render_county="110108",
                       wangge_render_maxzoom="17")  # fmt: skip
    client, _ = serve(basemap="mbtiles", basemap_mbtiles=path)
    px, py = world_px(LON, LAT, 15)
    x, y = int(px // 256), int(py // 256)
    r = client.get(f"/tiles/15/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.size == (256, 256)
    assert MBTiles(path).get(15, x, y) == r.content  # kept: the next view reads it
    assert client.get("/tiles/15/0/0.png").status_code == 404  # far from the district
    assert client.get(f"/tiles/18/{x * 8}/{y * 8}.png").status_code == 404  # beyond z17


def test_the_tianditu_key_reaches_logged_in_pages_only_and_the_csp_allows_its_host(serve):
    client, holder = serve(basemap="tianditu", basemap_tianditu_key=KEY)
    holder["who"] = LOCAL_OPERATOR
    page = client.get("/console/map")
    assert page.status_code == 200
    config = _page_basemap(page.text)
    urls = [layer["url"] for layer in config["layers"]]
    assert [u.split("/")[3] for u in urls] == ["vec_w", "cva_w"]  # Web Mercator + 注记
    assert all(f"tk={KEY}" in u and "TILEMATRIX={z}" in u for u in urls)
    assert config["layers"][0]["subdomains"] == "01234567" and config["crs"] == "EPSG:4490"
    policy = page.headers["content-security-policy"]
    assert policy == "img-src 'self' data: blob: https://*.tianditu.gov.cn"
    holder["who"] = ANONYMOUS
    public = client.get("/citizen")
    assert public.status_code == 200 and KEY not in public.text
    assert _page_basemap(public.text) is None
    assert public.headers["content-security-policy"] == policy
    assert "content-security-policy" not in client.get("/healthz").headers  # pages only


def test_an_xyz_source_with_subdomains_is_allowed_by_a_wildcard_host(serve):
    client, holder = serve(
        basemap="xyz",
        basemap_url="https://{s}.tiles.example.cn:8443/city/{z}/{x}/{y}.png",
        basemap_subdomains="abc",
        basemap_attribution="© 示例市测绘院",
    )
    holder["who"] = LOCAL_OPERATOR
    page = client.get("/console/map")
    (layer,) = _page_basemap(page.text)["layers"]
    assert layer["url"] == "https://{s}.tiles.example.cn:8443/city/{z}/{x}/{y}.png"
    assert layer["subdomains"] == "abc" and layer["attribution"] == "© 示例市测绘院"
    assert page.headers["content-security-policy"].endswith(" https://*.tiles.example.cn:8443")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"basemap": "tianditu"}, "WANGGE_BASEMAP_TIANDITU_KEY"),
        ({"basemap": "xyz", "basemap_url": "https://a.example.cn/tiles.png"}, "{z}"),
        ({"basemap": "xyz", "basemap_url": "ftp://a.example.cn/{z}/{x}/{y}"}, "http(s)"),
        ({"basemap": "wmts", "basemap_url": "https://a.example.cn/wmts"}, "WMTS_LAYER"),
        ({"basemap": "mbtiles", "basemap_mbtiles": "/nonexistent/b.mbtiles"}, "MBTiles"),
    ],
)
def test_a_half_configured_basemap_is_refused_at_start(tmp_path, extra, named):
    with pytest.raises(ValueError, match="basemap") as refused:
        create_app(_settings(tmp_path, **extra))
    assert named in str(refused.value) and "底图" in str(refused.value)


def test_the_case_points_filter_by_state_group_and_light(serve, session):
    report(session)
    client, holder = serve()
    holder["who"] = LOCAL_OPERATOR
    base = "/web/api/map/cases?division=110108&days=366"
    everything = client.get(base).json()["features"]
    assert [f["properties"]["light"] for f in everything] != []
    assert len(client.get(base + "&status=open").json()["features"]) == len(everything)
    assert client.get(base + "&status=closed").json()["features"] == []
    lamp = everything[0]["properties"]["light"] or "none"
    assert len(client.get(f"{base}&light={lamp}").json()["features"]) == 1
    other = next(v for v in ("red", "yellow", "green") if v != lamp)
    assert client.get(f"{base}&light={other}").json()["features"] == []
    bad = client.get(base + "&light=purple")
    assert bad.status_code == 422 and "light" in bad.json()["detail"]


def test_the_grid_card_names_the_grid_its_places_and_open_cases(serve, session):
    report(session)
    client, holder = serve()
    holder["who"] = LOCAL_OPERATOR
    card = client.get(f"/web/api/map/grid-card?lon={LON}&lat={LAT}").json()
    assert card["grid"]["code"] == GRID1
    assert card["community"] == {"code": GRID1[:12], "name": "社区001"}
    assert card["street"] == {"code": GRID1[:9], "name": "甲街道"}
    assert card["open_cases"] == 1 and card["overdue"] in (0, 1)
    assert card["links"]["cases"] == f"/console/cases?queue=all&grid={GRID1}"
    listed = client.get("/api/v1/cases?grid=" + GRID1).json()
    assert listed["total"] == card["open_cases"]
    holder["who"] = FAR_SUPERVISOR  # his area is another community
    far = client.get(f"/web/api/map/grid-card?lon={LON}&lat={LAT}")
    assert far.status_code == 404
    holder["who"] = LOCAL_OPERATOR
    assert client.get("/web/api/map/grid-card?lon=100&lat=30").status_code == 404


def test_the_map_page_has_a_legend_of_every_marker_and_the_case_filters(serve):
    client, holder = serve()
    holder["who"] = LOCAL_OPERATOR
    html = client.get("/console/map").text
    legend = html[html.index('id="map-legend"') :]
    for entry in ("超期", "即将超期", "正常", "未计时", "已结案", "视频监控", "网格", "当前区划",
                  "下级区划", "部件/房屋聚合", "非完好部件", "房屋（颜色为用途）"):  # fmt: skip
        assert entry in legend, entry
    for control in ('id="case-status"', 'value="open"', 'name="light" value="red"',
                    'id="show-cameras"'):  # fmt: skip
        assert control in html, control


def test_the_camera_layer_shows_the_cameras_of_the_users_area(serve, session):
    from wangge.grids.locating import locate_many
    from wangge.grids.models import LocatedPoint

    points = {"SP1": (LON, LAT), "SP2": (LON, LAT + 0.01)}  # GRID1; the community to the north
    lon = np.array([p[0] for p in points.values()])
    lat = np.array([p[1] for p in points.values()])
    grids = locate_many(session, lon, lat)["social"]
    for (key, (x, y)), gid in zip(points.items(), grids, strict=True):
        session.add(LocatedPoint(county_code="110108", layer="视频监控", key=key, lon=x, lat=y,
                                 grid_id=int(gid), properties={"名称": f"监控点{key}"}))  # fmt: skip
    session.flush()
    client, holder = serve()
    holder["who"] = LOCAL_OPERATOR
    every = client.get("/web/api/map/cameras?division=110108").json()["features"]
    assert sorted(f["properties"]["key"] for f in every) == ["SP1", "SP2"]
    assert every[0]["properties"]["name"].startswith("监控点")
    holder["who"] = FAR_SUPERVISOR  # scoped to the northern community 110108002001
    mine = client.get("/web/api/map/cameras?division=110108").json()["features"]
    assert [f["properties"]["key"] for f in mine] == ["SP2"]
    assert client.get("/web/api/map/cameras?division=110108001").status_code == 404
