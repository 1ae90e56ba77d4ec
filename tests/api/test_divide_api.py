"""Automatic division over HTTP with inline GeoJSON."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.factories import DX, DY, X0, Y0, load_territory
from wangge.api.deps import get_principal
from wangge.auth.principal import LOCAL_OPERATOR, Principal
from wangge.config import Settings
from wangge.main import create_app


def _buildings(n: int = 40) -> dict:
    rng = np.random.default_rng(11)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"编号": f"B{i}", "户数": int(rng.integers(20, 40))},
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        X0 + rng.uniform(0.05, 0.95) * DX,
                        Y0 + rng.uniform(0.05, 0.95) * DY,
                    ],
                },
            }
            for i in range(n)
        ],
    }


@pytest.fixture
def client(session, tmp_path):
    load_territory(session)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
    with TestClient(app) as c:
        yield c, app


def test_divide_returns_a_draft_version_with_its_quality_report(client):
    c, _ = client
    body = {
        "county": "110108",
        "communities": ["110108001001"],
        "buildings": _buildings(),
        "target": 300,
    }
    r = c.post("/api/v1/grid-versions/divide", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["version"]["status"] == "draft"
    assert out["report"]["totals"]["households"] == sum(
        f["properties"]["户数"] for f in body["buildings"]["features"]
    )
    split = c.post(
        f"/api/v1/grid-versions/{out['version']['id']}/actions/edit",
        json={
            "op": "split",
            "codes": [out["report"]["grids"][0]["code"]],
            "buildings": body["buildings"],
        },
    )
    assert split.status_code == 201, split.text
    assert split.json()["report"]["totals"]["grids"] == out["report"]["totals"]["grids"] + 1


def test_a_bad_building_geometry_names_the_feature(client):
    c, _ = client
    fc = _buildings(3)
    fc["features"][1]["geometry"] = {"type": "Point"}
    r = c.post("/api/v1/grid-versions/divide", json={"county": "110108", "buildings": fc})
    assert r.status_code == 422 and r.json()["details"]["feature"] == 2


def test_only_grid_managers_may_divide(client):
    c, app = client
    app.dependency_overrides[get_principal] = lambda: Principal(
        name="w", permissions=frozenset({"grids.read"}), via="session"
    )
    r = c.post(
        "/api/v1/grid-versions/divide", json={"county": "110108", "buildings": _buildings(3)}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("bad", ["", "110108001001", "110108001001x1", "1101080010010011"])
def test_splitting_a_grid_by_a_malformed_code_names_the_codes(client, bad):
    c, _ = client
    buildings = _buildings()
    body = {"county": "110108", "communities": ["110108001001"], "buildings": buildings}
    version = c.post("/api/v1/grid-versions/divide", json=body).json()["version"]
    r = c.post(
        f"/api/v1/grid-versions/{version['id']}/actions/edit",
        json={"op": "split", "codes": [bad], "buildings": buildings},
    )
    assert r.status_code == 422, r.text  # once a ValueError, 500
    assert r.json()["field"] == "codes" and r.json()["detail"] and r.json()["detail_en"]


def _roads(main_road_class: str) -> dict:
    """A main road across the first community and a lane, with their classes (等级)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"等级": main_road_class},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[X0 - 0.001, Y0 + 0.47 * DY], [X0 + DX + 0.001, Y0 + 0.5 * DY]],
                },
            },
            {
                "type": "Feature",
                "properties": {"highway": "footway"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[X0 + 0.2 * DX, Y0 + 0.1 * DY], [X0 + 0.3 * DX, Y0 + 0.2 * DY]],
                },
            },
        ],
    }


def test_line_classes_and_the_callers_mapping_reach_the_division(client):
    c, _ = client
    body = {
        "county": "110108",
        "communities": ["110108001001"],
        "buildings": _buildings(),
        "lines": _roads("大马路"),
    }
    r = c.post("/api/v1/grid-versions/divide", json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["details"] == {"file": "lines", "feature": 1, "field": "等级"}
    assert "大马路" in problem["detail"] and "主干道" in problem["detail"]
    assert "line_roles" in problem["detail_en"]
    for roles in ({"大马路": "barrier"}, "大马路=不可跨越"):
        r = c.post("/api/v1/grid-versions/divide", json={**body, "line_roles": roles})
        assert r.status_code == 201, r.text
        assert all(g.get("barrier_crossings", 0) == 0 for g in r.json()["report"]["grids"])
    version = r.json()["version"]["id"]
    edit = {"op": "rebalance", "buildings": body["buildings"], "lines": body["lines"]}
    r = c.post(f"/api/v1/grid-versions/{version}/actions/edit", json=edit)
    assert r.status_code == 422 and r.json()["details"]["feature"] == 1
    r = c.post(
        f"/api/v1/grid-versions/{version}/actions/edit",
        json={**edit, "line_roles": {"大马路": "wall"}},
    )
    assert r.status_code == 422 and r.json()["field"] == "line_roles"
