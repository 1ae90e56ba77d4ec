"""Positions from phones: GCJ-02/BD-09 converted before locating; patrol points sent once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import GRID1, LAT, LON, SUPERVISOR, T0, build_world
from wangge.api.deps import get_principal
from wangge.auth.principal import ANONYMOUS
from wangge.cases.models import Case
from wangge.cases.views import get_now
from wangge.common.geo import wgs84_to_bd09, wgs84_to_gcj02
from wangge.config import Settings
from wangge.grids.locating import locate_point
from wangge.main import create_app


@pytest.fixture
def client(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    build_world(session)
    holder = {"who": SUPERVISOR}
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(hours=1)
    with TestClient(app) as c:
        yield c, holder


def grid_code(session, grid_id: int | None) -> str | None:
    from wangge.grids.models import Grid

    return session.get(Grid, grid_id).code if grid_id is not None else None


def report(c: TestClient, lon: float, lat: float, **extra):
    body = {"category_code": "E0102", "description": "暴露垃圾", "lon": lon, "lat": lat, **extra}
    return c.post("/api/v1/cases", json=body)


@pytest.mark.parametrize(("crs", "convert"), [("GCJ-02", wgs84_to_gcj02), ("BD-09", wgs84_to_bd09)])
def test_a_phone_map_position_lands_in_the_grid_of_its_true_position(client, session, crs, convert):
    c, _ = client
    # The true (WGS84 = CGCS2000 at this precision) position is in GRID1, in Beijing.
    x, y = convert(LON, LAT)
    assert 300 < _metres(LON, LAT, x, y) < 2000  # the offset moves it out of a 500 m grid
    naive = locate_point(session, x, y)["social"]
    assert naive is not None and naive.code != GRID1  # read as CGCS2000 it is elsewhere

    r = report(c, x, y, crs=crs)
    assert r.status_code == 201, r.text
    case = r.json()
    assert grid_code(session, case["grid_id"]) == GRID1
    assert case["lon"] == pytest.approx(LON, abs=1e-7)
    assert case["lat"] == pytest.approx(LAT, abs=1e-7)

    wrong = report(c, x, y).json()  # the same numbers without crs are CGCS2000
    assert grid_code(session, wrong["grid_id"]) == naive.code


def test_gps_and_cgcs2000_positions_are_stored_as_sent(client, session):
    c, _ = client
    for crs in ("EPSG:4326", "EPSG:4490", "WGS84", "CGCS2000"):
        case = report(c, LON, LAT, crs=crs).json()
        assert (case["lon"], case["lat"]) == (LON, LAT)
        assert grid_code(session, case["grid_id"]) == GRID1


@pytest.mark.parametrize(
    "bad", ["EPSG:3857", "EPSG:4547", "火星坐标", "EPSG:99999", "EPSG:4490.0", ""]
)
def test_an_unknown_crs_is_a_422_naming_the_field_in_chinese_and_english(client, session, bad):
    c, _ = client
    before = session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    r = report(c, LON, LAT, crs=bad)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "bad_crs" and body["field"] == "crs"
    assert "crs" in body["detail"] and "坐标系" in body["detail"]
    assert "crs" in body["detail_en"] and "GCJ-02" in body["detail_en"]
    assert session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == before


def test_the_citizen_route_converts_a_gcj02_position_and_refuses_an_unknown_crs(client, session):
    c, holder = client
    holder["who"] = ANONYMOUS
    x, y = wgs84_to_gcj02(LON, LAT)
    body = {"category_code": "E0102", "description": "垃圾", "lon": x, "lat": y}
    r = c.post("/web/api/citizen/reports", json={**body, "crs": "GCJ-02"})
    assert r.status_code == 201, r.text
    case = session.scalars(select(Case).where(Case.code == r.json()["code"])).one()
    assert grid_code(session, case.grid_id) == GRID1
    assert case.lon == pytest.approx(LON, abs=1e-7)

    bad = c.post("/web/api/citizen/reports", json={**body, "crs": "Mercator"})
    assert bad.status_code == 422 and bad.json()["field"] == "crs"


def test_a_patrol_batch_resent_with_its_idempotency_key_is_stored_once(client, session):
    c, _ = client
    x, y = wgs84_to_gcj02(LON, LAT)
    p = c.post("/api/v1/patrols", json={"lon": x, "lat": y, "crs": "GCJ-02"})
    assert p.status_code == 201, p.text
    pid = p.json()["id"]
    assert grid_code(session, p.json()["grid_id"]) == GRID1
    at = (T0 + timedelta(hours=1, minutes=5)).isoformat()
    batch = [{"lon": LON + 0.0005 * i, "lat": LAT, "at": at, "crs": "EPSG:4326"} for i in (1, 2, 3)]
    headers = {"Idempotency-Key": "batch-1"}
    first = c.post(f"/api/v1/patrols/{pid}/points", json=batch, headers=headers)
    again = c.post(f"/api/v1/patrols/{pid}/points", json=batch, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"stored": 3}
    other = c.post(f"/api/v1/patrols/{pid}/points", json=batch[:1], headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_mismatch"

    track = c.get(f"/api/v1/patrols/{pid}/points").json()
    assert len(track) == 4  # the start point and the batch, once
    assert track[0]["lon"] == pytest.approx(LON, abs=1e-7)
    assert [t["lon"] for t in track[1:]] == [b["lon"] for b in batch]
    assert c.get(f"/api/v1/patrols/{pid}").json()["point_count"] == 4


def _metres(x1: float, y1: float, x2: float, y2: float) -> float:
    from wangge.cases.duplicates import distance_m

    return distance_m(x1, y1, x2, y2)
