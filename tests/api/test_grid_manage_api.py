"""Grid versions made over HTTP: uploaded files (all or nothing, every bad feature listed)
and generated unit grids; the version detail carries how it was made."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping
from sqlalchemy import func, select

from tests.api_support import serve_session
from tests.factories import load_territory, quarters
from wangge.api.deps import get_principal
from wangge.auth.principal import LOCAL_OPERATOR, Principal
from wangge.config import Settings
from wangge.grids.models import Grid, GridVersion
from wangge.main import create_app


@pytest.fixture
def client(session, tmp_path):
    load_territory(session)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
    with TestClient(app) as c:
        yield c, app, session


def _geojson(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _quarter_features(community: str = "110108001001") -> list[dict]:
    return [
        {"type": "Feature", "properties": {"名称": f"网格{i}"}, "geometry": mapping(g)}
        for i, g in enumerate(quarters(community), 1)
    ]


def test_an_uploaded_geojson_becomes_a_draft_version_with_its_grids(client):
    c, _, _ = client
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("网格.geojson", _geojson(_quarter_features()), "application/geo+json")},
        data={"county": "110108", "kind": "basic", "name": "2026 调整"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["version"]["status"] == "draft" and out["grids"] == 4
    detail = c.get(f"/api/v1/grid-versions/{out['version']['id']}").json()
    assert detail["report"]["source"] == "import" and detail["report"]["file"] == "网格.geojson"
    assert detail["activation_report"] is None


def test_a_bad_upload_lists_every_bad_feature_and_stores_nothing(client):
    c, _, session = client
    features = _quarter_features()
    features[1]["properties"]["类型"] = "沙漠网格"  # unknown kind
    features[3]["properties"]["户数"] = "很多"  # not an integer
    before = session.scalar(select(func.count(GridVersion.id)))
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("bad.geojson", _geojson(features), "application/geo+json")},
        data={"county": "110108"},
    )
    assert r.status_code == 422 and r.json()["code"] == "import_failed"
    body = r.json()
    errors = body["details"]["errors"]
    assert [(e["feature"], e["field"]) for e in errors] == [(2, "kind"), (4, "户数")]
    assert all(e["message_zh"] and e["message_en"] for e in errors)
    assert "共 2 处错误" in body["detail"] and "2 errors" in body["detail_en"]
    # The request's transaction was rolled back: no half-made version is left.
    assert session.scalar(select(func.count(GridVersion.id))) == before


def test_a_grid_outside_every_community_is_named_by_its_feature(client):
    c, _, _ = client
    features = _quarter_features()
    features[2]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[117.0, 40.5], [117.01, 40.5], [117.01, 40.51], [117.0, 40.5]]],
    }
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("far.geojson", _geojson(features), "application/geo+json")},
        data={"county": "110108"},
    )
    assert r.status_code == 422
    errors = r.json()["details"]["errors"]
    assert errors[0]["feature"] == 3 and errors[0]["field"] == "community_code"


def test_an_unsupported_file_type_is_refused_in_both_languages(client):
    c, _, _ = client
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("grids.txt", b"hello", "text/plain")},
        data={"county": "110108"},
    )
    assert r.status_code == 422 and "不支持" in r.json()["detail"]
    assert "unsupported" in r.json()["detail_en"]


def test_unit_grids_are_generated_for_a_street_with_the_cell_area_asked(client):
    c, _, session = client
    r = c.post(
        "/api/v1/grid-versions/generate",
        json={"county": "110108", "street": "110108001", "cell_area_m2": 200_000},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["version"]["layer"] == "unit" and out["grids"] > 2
    assert out["report"]["communities"] == ["110108001001", "110108001002"]
    codes = session.scalars(select(Grid.code).where(Grid.version_id == out["version"]["id"]))
    assert {code[:12] for code in codes} == {"110108001001", "110108001002"}
    assert (
        c.get(f"/api/v1/grid-versions/{out['version']['id']}").json()["report"]["grids"]
        == (out["grids"])
    )


def test_generation_refuses_more_cells_than_a_request_may_make(client):
    c, _, _ = client
    from wangge.grids import manage_views

    old = manage_views.MAX_GENERATED_CELLS
    manage_views.MAX_GENERATED_CELLS = 10
    try:
        r = c.post("/api/v1/grid-versions/generate", json={"county": "110108"})
    finally:
        manage_views.MAX_GENERATED_CELLS = old
    assert r.status_code == 422 and r.json()["code"] == "too_many_cells"


def test_a_scoped_grid_manager_cannot_make_grids_outside_his_area(client):
    c, app, _ = client
    app.dependency_overrides[get_principal] = lambda: Principal(
        name="street-gis",
        permissions=frozenset({"grids.read", "grids.manage"}),
        scope_prefixes=frozenset({"110108001001"}),
    )
    other = c.post(
        "/api/v1/grid-versions/generate",
        json={"county": "110108", "communities": ["110108002001"], "cell_area_m2": 200_000},
    )
    assert other.status_code == 403 and other.json()["code"] == "out_of_scope"
    upload = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("q.geojson", _geojson(_quarter_features("110108001002")), "x")},
        data={"county": "110108"},
    )
    assert upload.status_code == 403 and "110108001002" in upload.json()["detail"]
    own = c.post(
        "/api/v1/grid-versions/generate",
        json={"county": "110108", "communities": ["110108001001"], "cell_area_m2": 200_000},
    )
    assert own.status_code == 201, own.text


def test_only_grid_managers_may_import_or_generate(client):
    c, app, _ = client
    app.dependency_overrides[get_principal] = lambda: Principal(
        name="reader", permissions=frozenset({"grids.read"})
    )
    r = c.post("/api/v1/grid-versions/generate", json={"county": "110108"})
    assert r.status_code == 403
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("q.geojson", _geojson(_quarter_features()), "x")},
        data={"county": "110108"},
    )
    assert r.status_code == 403


def _draft_with_a_gap(c) -> int:
    half = _quarter_features()[:2]  # two quarters of the community: a gap where the others were
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("半.geojson", _geojson(half), "application/geo+json")},
        data={"county": "110108", "kind": "basic"},
    )
    assert r.status_code == 201, r.text
    return r.json()["version"]["id"]


def test_a_draft_with_a_coverage_gap_is_activated_only_with_an_audited_reason(client):
    from wangge.audit.models import AuditEntry

    c, _, session = client
    vid = _draft_with_a_gap(c)
    url = f"/api/v1/grid-versions/{vid}/actions/activate"
    for body in (None, {"override_reason": "  "}):
        r = c.post(url, json=body) if body else c.post(url)
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["code"] == "validation_problems" and problem["field"] == "override_reason"
        assert (
            "未被任何网格覆盖" in problem["detail"] and "covered by no grid" in problem["detail_en"]
        )
        assert [p["kind"] for p in problem["details"]["problems"]] == ["gap"]
    assert c.get(f"/api/v1/grid-versions/{vid}").json()["status"] == "draft"

    reason = "河道两侧暂无人居住，先启用，下月补划"
    r = c.post(url, json={"override_reason": reason})
    assert r.status_code == 200, r.text
    override = r.json()["report"]["override"]
    assert override["reason"] == reason and override["problems"] == 1
    assert c.get(f"/api/v1/grid-versions/{vid}").json()["status"] == "active"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "grid_version.activate")
    ).one()
    assert entry.reason == reason
    assert [p["kind"] for p in entry.detail["override"]["listed"]] == ["gap"]


def test_a_clean_draft_needs_no_reason(client):
    c, _, _ = client
    r = c.post(
        "/api/v1/grid-versions/import",
        files={"file": ("全.geojson", _geojson(_quarter_features()), "application/geo+json")},
        data={"county": "110108", "kind": "basic"},
    )
    vid = r.json()["version"]["id"]
    r = c.post(f"/api/v1/grid-versions/{vid}/actions/activate")
    assert r.status_code == 200 and "override" not in r.json()["report"]
