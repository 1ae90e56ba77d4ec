from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.factories import DX, DY, X0, Y0, load_territory, quarters
from wangge.api.deps import get_principal
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.config import Settings
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app


@pytest.fixture
def client(session, tmp_path) -> Iterator[TestClient]:
    load_territory(session)
    version = new_version(session, "110108", "social", "v1")
    add_grids(
        session, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
    )
    activate_version(session, version.id)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
    with TestClient(app) as c:
        yield c


def test_divisions_are_listed_by_parent_and_level(client):
    r = client.get("/api/v1/divisions", params={"parent": "110108001"})
    assert r.status_code == 200
    assert [d["code"] for d in r.json()] == ["110108001001", "110108001002"]
    r = client.get("/api/v1/divisions", params={"level": "street"})
    assert [d["name"] for d in r.json()] == ["甲街道", "乙街道"]


def test_an_unknown_division_is_a_bilingual_problem(client):
    r = client.get("/api/v1/divisions/110108999")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (
        body["code"] == "not_found"
        and "不存在" in body["detail"]
        and "does not exist" in body["detail_en"]
    )


def test_a_bad_level_names_the_field(client):
    r = client.get("/api/v1/divisions", params={"level": "province"})
    assert r.status_code == 422 and r.json()["field"] == "level"


def test_locating_a_point_returns_its_grid(client):
    r = client.get("/api/v1/grids/locate", params={"lon": X0 + 0.75 * DX, "lat": Y0 + 0.25 * DY})
    assert r.status_code == 200
    body = r.json()
    assert body["grid"]["code"] == "110108001001004"
    assert body["unit_grid"] is None


def test_locating_without_a_latitude_names_the_missing_field(client):
    r = client.get("/api/v1/grids/locate", params={"lon": 116.3})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "lat"


def test_a_subtree_geojson_holds_divisions_and_active_grids(client):
    r = client.get("/api/v1/divisions/110108001/geojson")
    assert r.status_code == 200
    fc = r.json()
    kinds = [f["properties"]["type"] for f in fc["features"]]
    assert kinds.count("division") == 3 and kinds.count("grid") == 4
    grid = next(f for f in fc["features"] if f["properties"]["type"] == "grid")
    assert grid["geometry"]["type"] == "MultiPolygon"


def test_geojson_can_be_served_in_gcj02(client):
    plain = client.get("/api/v1/divisions/110108001001/geojson", params={"grids": False}).json()
    gcj = client.get(
        "/api/v1/divisions/110108001001/geojson", params={"grids": False, "crs": "GCJ02"}
    ).json()
    x0 = plain["features"][0]["geometry"]["coordinates"][0][0][0][0]
    x1 = gcj["features"][0]["geometry"]["coordinates"][0][0][0][0]
    assert 0.004 < x1 - x0 < 0.008


def test_grids_versions_and_validation_are_listed(client):
    grids = client.get("/api/v1/grids", params={"division": "110108001001"}).json()
    assert len(grids) == 4 and grids[0]["kind"] == "basic"
    versions = client.get("/api/v1/grid-versions").json()
    assert versions[0]["status"] == "active"
    problems = client.get(f"/api/v1/grid-versions/{versions[0]['id']}/validation").json()
    assert problems == []
    assert (
        client.get(f"/api/v1/grids/{grids[0]['id']}/geojson").json()["properties"]["code"]
        == grids[0]["code"]
    )


def test_activating_an_active_version_is_refused(client):
    vid = client.get("/api/v1/grid-versions").json()[0]["id"]
    r = client.post(f"/api/v1/grid-versions/{vid}/actions/activate")
    assert r.status_code == 422 and r.json()["code"] == "already_active"


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/grids/locate" in paths and "/api/v1/divisions/{code}/geojson" in paths
