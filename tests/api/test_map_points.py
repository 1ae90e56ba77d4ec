"""The console map's 部件/房屋 layers over HTTP: clusters that add up, points, scope, errors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.factories import COMMUNITIES
from tests.registry_factories import CENTER, A, B, centre_of, setup_grids
from wangge.auth import service
from wangge.config import Settings
from wangge.grids.models import Grid
from wangge.main import create_app
from wangge.registry import components, houses
from wangge.registry.bulk import bulk_load
from wangge.registry.models import Building, Component

PASSWORD = "Grid-Worker-2026"
ADMIN_PASSWORD = "Center-Pass-2026"
EVERYWHERE = "116.29,39.94,116.33,39.98"  # the test territory and a margin around it
N_BULK = 600


@pytest.fixture
def client(session, tmp_path) -> Iterator[TestClient]:
    setup_grids(session)
    service.seed_roles(session)
    admin = service.create_user(
        session, username="admin", password=ADMIN_PASSWORD, display_name="中心"
    )
    service.assign_post(session, admin, "admin")
    worker = service.create_user(session, username="wangwu", password=PASSWORD, display_name="王五")
    service.assign_post(session, worker, "supervisor", scope=A)
    nw_grid = session.scalar(select(Grid.code).where(Grid.code.startswith(B)).order_by(Grid.code))
    gridder = service.create_user(session, username="zhao", password=PASSWORD, display_name="赵")
    service.assign_post(session, gridder, "grid_leader", scope=nw_grid)
    handler = service.create_user(session, username="bumen", password=PASSWORD, display_name="部门")
    service.assign_post(session, handler, "department")
    # Seeded points over communities A and B (the third community stays empty).
    rng = np.random.default_rng(6)
    x0, y0, _, _ = COMMUNITIES[A].bounds
    _, _, x1, y1 = COMMUNITIES[B].bounds
    lon = rng.uniform(x0 + 1e-5, x1 - 1e-5, N_BULK)
    lat = rng.uniform(y0 + 1e-5, y1 - 1e-5, N_BULK)
    classes = rng.choice(np.array(["0101", "0102", "0201", "0301", "0401"]), N_BULK)
    bulk_load(session, CENTER, county_code="110108", class_codes=classes, lon=lon, lat=lat)
    lon_a, lat_a = centre_of(A)
    components.save_component(
        session, CENTER,
        {"class_code": "0101", "name": "东门上水井盖", "lon": lon_a, "lat": lat_a, "state": "破损"},
        county_code="110108",
    )  # fmt: skip
    for community in (A, B):
        lon_c, lat_c = centre_of(community)
        houses.save_building(
            session, CENTER,
            {"name": f"{community[-1]}号楼", "community_code": community, "lon": lon_c,
             "lat": lat_c, "floors": 6, "purpose": "住宅"},
        )  # fmt: skip
    session.flush()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False))
    serve_session(app, session)
    with TestClient(app) as c:
        yield c


def _login(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text


def _layer(client: TestClient, kind: str = "components", **params) -> dict:
    r = client.get(f"/web/api/map/{kind}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _in_bbox(session, bbox: str, *where) -> list[Component]:
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    q = select(Component).where(
        Component.lon.between(x0, x1), Component.lat.between(y0, y1), *where
    )
    return list(session.scalars(q))


def test_cluster_counts_add_up_to_the_components_in_the_bbox(client, session):
    _login(client)
    bbox = "116.300,39.950,116.313,39.957"  # all of A and part of B, cut through the middle
    expected = len(_in_bbox(session, bbox))
    assert 100 < expected < N_BULK
    for zoom in (11, 13, 14, 15):
        body = _layer(client, bbox=bbox, zoom=zoom, limit=1)
        assert body["mode"] == "clusters"
        counts = [c["count"] for c in body["clusters"]]
        assert sum(counts) == body["total"] == expected
        for c in body["clusters"]:  # the class breakdown of each cluster adds up to its count
            assert sum(c["groups"]) == c["count"]
            assert 116.300 <= c["lon"] <= 116.313 and 39.950 <= c["lat"] <= 39.957
    codes = [g["code"] for g in body["groups"]]
    assert {"01", "02", "03", "04"} <= set(codes)
    assert body["groups"][codes.index("01")]["name"] == "公用设施"
    assert body["groups"][codes.index("01")]["name_en"] == "Public utilities"


def test_higher_zooms_split_the_district_into_more_clusters(client):
    _login(client)
    sizes = [len(_layer(client, bbox=EVERYWHERE, zoom=z)["clusters"]) for z in (12, 14, 15)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert _layer(client, bbox=EVERYWHERE, zoom=12)["total"] == N_BULK + 1


def test_zooming_in_returns_points_with_code_class_grid_and_state(client, session):
    _login(client)
    lon, lat = centre_of(A)
    bbox = f"{lon - 0.0008},{lat - 0.0006},{lon + 0.0008},{lat + 0.0006}"
    body = _layer(client, bbox=bbox, zoom=18)
    assert body["mode"] == "points"
    assert body["total"] == len(body["points"]) == len(_in_bbox(session, bbox))
    mine = next(p for p in body["points"] if p["name"] == "东门上水井盖")
    assert mine["code"].startswith("1101080101") and len(mine["code"]) == 16
    assert mine["class_code"] == "0101" and mine["class_name"] == "上水井盖"
    assert mine["state"] == "破损" and mine["group"] == "01"
    assert mine["grid"]["code"].startswith(A) and len(mine["grid"]["code"]) == 15
    assert abs(mine["lon"] - lon) < 1e-9 and abs(mine["lat"] - lat) < 1e-9


def test_a_handful_of_components_are_points_even_at_district_zoom(client):
    _login(client)
    body = _layer(client, bbox=EVERYWHERE, zoom=12, classes="0101")
    assert 50 < body["total"] <= 200
    assert body["mode"] == "points" and len(body["points"]) == body["total"]
    assert all(p["class_code"] == "0101" for p in body["points"])


def test_the_class_filter_keeps_only_that_class(client, session):
    _login(client)
    body = _layer(client, bbox=EVERYWHERE, zoom=13, classes="01", limit=1)
    expected = len(_in_bbox(session, EVERYWHERE, Component.class_code.startswith("01")))
    assert body["total"] == expected == sum(c["count"] for c in body["clusters"])
    i01 = [g["code"] for g in body["groups"]].index("01")
    assert all(c["groups"][i01] == c["count"] for c in body["clusters"])
    two = _layer(client, bbox=EVERYWHERE, zoom=13, classes="0201,0301", limit=1)
    assert two["total"] == len(
        _in_bbox(session, EVERYWHERE, Component.class_code.in_(["0201", "0301"]))
    )


def test_a_community_worker_sees_only_his_communitys_components(client, session):
    _login(client, "wangwu", PASSWORD)
    body = _layer(client, bbox=EVERYWHERE, zoom=13, limit=1)
    assert body["total"] == len(_in_bbox(session, EVERYWHERE, Component.community_code == A))
    assert body["total"] < N_BULK
    # Points in a bbox over the border of A and B: none of B's.
    x1 = COMMUNITIES[A].bounds[2]
    bbox = f"{x1 - 0.001},39.950,{x1 + 0.001},39.951"
    points = _layer(client, bbox=bbox, zoom=18)
    assert points["mode"] == "points"
    ids = {p["id"] for p in points["points"]}
    theirs = {c.id for c in _in_bbox(session, bbox, Component.community_code == B)}
    assert theirs and not ids & theirs
    assert ids == {c.id for c in _in_bbox(session, bbox, Component.community_code == A)}


def test_a_grid_post_sees_only_its_grids_components(client, session):
    _login(client, "zhao", PASSWORD)
    grid = session.scalar(select(Grid).where(Grid.code.startswith(B)).order_by(Grid.code))
    body = _layer(client, bbox=EVERYWHERE, zoom=13, limit=1)
    assert body["total"] == len(_in_bbox(session, EVERYWHERE, Component.grid_id == grid.id)) > 0
    buildings = _layer(client, "buildings", bbox=EVERYWHERE, zoom=13)
    assert [p["name"] for p in buildings["points"]] == [f"{B[-1]}号楼"]


def test_without_registry_read_the_layer_is_refused(client):
    assert (
        client.get("/web/api/map/components", params={"bbox": EVERYWHERE, "zoom": 12}).status_code
        == 401
    )
    _login(client, "bumen", PASSWORD)
    r = client.get("/web/api/map/components", params={"bbox": EVERYWHERE, "zoom": 12})
    assert r.status_code == 403


BAD = [
    ({"bbox": "116.3,39.9,116.4", "zoom": 12}, "bbox"),
    ({"bbox": "a,b,c,d", "zoom": 12}, "bbox"),
    ({"bbox": "116.4,39.9,116.3,40.0", "zoom": 12}, "bbox"),  # west > east
    ({"bbox": "116.3,39.9,nan,40.0", "zoom": 12}, "bbox"),
    ({"bbox": "-190,39.9,116.3,40.0", "zoom": 12}, "bbox"),
    ({"bbox": "-180,-85,180,85", "zoom": 18}, "bbox"),  # the world at street zoom
    ({"bbox": EVERYWHERE, "zoom": 23}, "zoom"),
    ({"bbox": EVERYWHERE, "zoom": -1}, "zoom"),
    ({"bbox": EVERYWHERE, "zoom": "x"}, "zoom"),
    ({"zoom": 12}, "bbox"),
    ({"bbox": EVERYWHERE, "zoom": 12, "limit": 0}, "limit"),
]


def test_a_bad_bbox_or_zoom_is_a_422_in_chinese_and_english(client):
    _login(client)
    for params, field in BAD:
        for kind in ("components", "buildings"):
            r = client.get(f"/web/api/map/{kind}", params=params)
            assert r.status_code == 422, (params, r.text)
            body = r.json()
            assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body
            assert field in body["detail_en"] or body.get("field") == field, body


def test_the_buildings_layer_clusters_and_shows_buildings(client, session):
    _login(client)
    clusters = _layer(client, "buildings", bbox=EVERYWHERE, zoom=12, limit=1)
    assert clusters["mode"] == "clusters"
    assert sum(c["count"] for c in clusters["clusters"]) == 2
    assert [g["code"] for g in clusters["groups"]] == ["住宅"]
    points = _layer(client, "buildings", bbox=EVERYWHERE, zoom=17)
    assert points["mode"] == "points"
    a = next(p for p in points["points"] if p["name"] == f"{A[-1]}号楼")
    assert a["floors"] == 6 and a["purpose"] == "住宅" and a["grid"]["code"].startswith(A)
    assert len(points["points"]) == session.query(Building).count()


def test_edits_show_on_the_map_at_once(client, session):
    _login(client)
    before = _layer(client, bbox=EVERYWHERE, zoom=13)["total"]
    lon, lat = centre_of(B)
    comp = components.save_component(
        session, CENTER, {"class_code": "0201", "lon": lon, "lat": lat}, county_code="110108"
    )
    session.flush()
    assert _layer(client, bbox=EVERYWHERE, zoom=13)["total"] == before + 1
    # Moved from B to A: out of a view over B, still in the district; deleted: gone.
    in_b = ",".join(str(v) for v in COMMUNITIES[B].bounds)
    b_before = _layer(client, bbox=in_b, zoom=13)["total"]
    components.save_component(
        session, CENTER, {"lon": lon - 0.01, "lat": lat}, component_id=comp.id
    )
    session.flush()
    assert _layer(client, bbox=in_b, zoom=13)["total"] == b_before - 1
    assert _layer(client, bbox=EVERYWHERE, zoom=13)["total"] == before + 1
    components.delete_component(session, CENTER, comp.id)
    session.flush()
    assert _layer(client, bbox=EVERYWHERE, zoom=13)["total"] == before


def test_positions_follow_the_base_maps_crs(client):
    _login(client)
    lon, lat = centre_of(A)
    plain = _layer(
        client, bbox=f"{lon - 0.0008},{lat - 0.0006},{lon + 0.0008},{lat + 0.0006}", zoom=18
    )
    mine = next(p for p in plain["points"] if p["name"] == "东门上水井盖")
    # The same view in GCJ-02 (shifted by a few hundred metres) finds it, at shifted coordinates.
    from wangge.common.geo import from_canonical_xy

    gx, gy = (float(v) for v in from_canonical_xy(lon, lat, "GCJ02"))
    bbox = f"{gx - 0.0008},{gy - 0.0006},{gx + 0.0008},{gy + 0.0006}"
    shifted = _layer(client, bbox=bbox, zoom=18, crs="GCJ02")
    found = next(p for p in shifted["points"] if p["id"] == mine["id"])
    assert abs(found["lon"] - gx) < 1e-5 and abs(found["lat"] - gy) < 1e-5
