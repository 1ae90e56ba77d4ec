"""Divisions uploaded over HTTP (`POST /divisions/import`) with real logins: all or nothing,
every bad feature named, a scoped administrator kept inside his area, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from sqlalchemy import select

from tests.api_support import serve_session
from tests.factories import X0, Y0, load_territory
from tests.integration.test_empty_district import _territory
from wangge.audit.models import AuditEntry
from wangge.auth import service as auth
from wangge.config import Settings
from wangge.divisions.models import Division
from wangge.main import create_app

PW = "Division-Pass-2026"
URL = "/api/v1/divisions/import"


@pytest.fixture
def client(session, tmp_path) -> Iterator[tuple[TestClient, object]]:
    load_territory(session)  # county 110108, streets 001 and 002, three communities
    auth.seed_roles(session)
    for username, role, scope in (
        ("admin", "admin", None),
        ("qxadmin", "admin", "110108"),
        ("jdadmin", "admin", "110108001"),
        ("wangwu", "supervisor", "110108001001"),
    ):
        user = auth.create_user(session, username=username, password=PW, display_name=username)
        auth.assign_post(session, user, role, scope=scope)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    with TestClient(app) as c:
        yield c, session


def login(c: TestClient, username: str) -> dict[str, str]:
    c.cookies.clear()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def upload(c: TestClient, h: dict[str, str], path: Path, **form: str):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return c.post(
            URL, files={"file": (path.name, f, "application/geo+json")}, data=form, headers=h
        )


def geojson(path: Path, rows: list[dict]) -> Path:
    """Features with the given properties, each a small box of its own."""
    features = [
        {"type": "Feature", "properties": props,
         "geometry": mapping(box(X0 + i * 0.001, Y0, X0 + (i + 1) * 0.001, Y0 + 0.001))}
        for i, props in enumerate(rows)
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def stored(session, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Division.code).where(Division.code.startswith(prefix)).order_by(Division.code)
        )
    )


def audits(session) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "division.import")))


def test_an_admin_imports_a_county_with_its_street_and_communities(client, tmp_path):
    c, session = client
    divisions, _grids = _territory(tmp_path, "110105", "朝阳区", X0 + 0.1)
    h = login(c, "admin")
    r = upload(c, h, divisions)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "imported": 4,
        "codes": ["110105", "110105001", "110105001001", "110105001002"],
    }
    assert stored(session, "110105") == r.json()["codes"]
    community = c.get("/api/v1/divisions/110105001002", headers=h).json()
    assert community["name"] == "第2社区" and community["parent_code"] == "110105001"
    assert community["level"] == "community" and community["area_m2"] > 500_000
    (entry,) = audits(session)
    assert entry.county_code == "110105" and entry.actor == "admin"
    assert entry.detail["file"] == divisions.name and entry.detail["count"] == 4

    # Importing the same file again updates in place (a corrected boundary, a new name).
    data = json.loads(divisions.read_text("utf-8"))
    data["features"][1]["properties"]["名称"] = "第一街道（更名）"
    divisions.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    assert upload(c, h, divisions).status_code == 201
    assert c.get("/api/v1/divisions/110105001", headers=h).json()["name"] == "第一街道（更名）"
    assert stored(session, "110105") == ["110105", "110105001", "110105001001", "110105001002"]


def test_a_bad_feature_is_named_in_both_languages_and_nothing_is_stored(client, tmp_path):
    c, session = client
    h = login(c, "admin")
    path = geojson(
        tmp_path / "区划.geojson",
        [
            {"区划代码": "110108003", "名称": "丙街道"},
            {"区划代码": "110108003001", "名称": "丙一社区"},
            {"名称": "没有代码的社区"},
            {"区划代码": "110108999", "名称": "段号越界"},
            {"区划代码": "110108003002", "名称": ""},
        ],
    )
    r = upload(c, h, path)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "import_failed" and r.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert "区划.geojson" in body["detail"] and "区划.geojson" in body["detail_en"]
    assert "共 3 处错误" in body["detail"] and "3 errors" in body["detail_en"]
    errors = body["details"]["errors"]
    assert [(e["feature"], e["field"]) for e in errors] == [(3, "code"), (4, "code"), (5, "name")]
    assert "街道乡镇段 999" in errors[1]["message_zh"]
    assert "street segment out of 001-599" in errors[1]["message_en"]
    assert all(e["message_zh"] and e["message_en"] for e in errors)
    assert stored(session, "110108003") == [] and audits(session) == []

    # A problem across features (the parent is neither stored nor in the file) names its feature.
    path = geojson(
        tmp_path / "缺上级.geojson",
        [{"区划代码": "110108003", "名称": "丙街道"}, {"区划代码": "110108004001", "名称": "丁一"}],
    )
    r = upload(c, h, path)
    assert r.status_code == 422 and r.json()["code"] == "parent_missing"
    (error,) = r.json()["details"]["errors"]
    assert error["feature"] == 2 and error["field"] == "parent_code"
    assert "110108004" in error["message_zh"] and "load it first" in error["message_en"]
    assert stored(session, "110108003") == [] and audits(session) == []


def test_a_scoped_admin_imports_inside_his_area_and_is_refused_outside_it(client, tmp_path):
    c, session = client
    h = login(c, "jdadmin")  # street 110108001
    inside = [{"区划代码": "110108001003", "名称": "新社区"}]
    r = upload(c, h, geojson(tmp_path / "街道内.geojson", inside))
    assert r.status_code == 201, r.text
    assert r.json()["codes"] == ["110108001003"]

    mixed = [{"区划代码": "110108001004", "名称": "又一社区"},
             {"区划代码": "110108002003", "名称": "别街道的社区"}]  # fmt: skip
    r = upload(c, h, geojson(tmp_path / "跨街道.geojson", mixed))
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert "110108002003" in r.json()["detail"] and "outside your area" in r.json()["detail_en"]
    assert stored(session, "110108001004") == [] and stored(session, "110108002003") == []

    # A county administrator cannot load another county, nor rewrite the county above a street.
    divisions, _grids = _territory(tmp_path, "110105", "朝阳区", X0 + 0.1)
    r = upload(c, login(c, "qxadmin"), divisions)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert stored(session, "110105") == []
    r = upload(c, h, geojson(tmp_path / "区县.geojson", [{"区划代码": "110108", "名称": "改名"}]))
    assert r.status_code == 403
    assert session.get(Division, "110108").name == "海淀区"
    assert [e.detail["codes"] for e in audits(session)] == [["110108001003"]]


def test_only_grid_managers_may_import_divisions(client, tmp_path):
    c, session = client
    path = geojson(tmp_path / "d.geojson", [{"区划代码": "110108001005", "名称": "社区"}])
    r = upload(c, login(c, "wangwu"), path)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert "grids.manage" in r.json()["detail_en"]
    c.cookies.clear()
    assert upload(c, {}, path).status_code == 401
    assert stored(session, "110108001005") == []


def test_an_unsupported_or_oversized_file_is_refused(client, tmp_path, monkeypatch):
    c, session = client
    h = login(c, "admin")
    text = tmp_path / "区划.txt"
    text.write_text("hello", "utf-8")
    r = upload(c, h, text)
    assert r.status_code == 422 and "不支持" in r.json()["detail"]
    assert "unsupported" in r.json()["detail_en"]
    monkeypatch.setattr("wangge.api.files.MAX_UPLOAD_BYTES", 100)
    path = geojson(tmp_path / "d.geojson", [{"区划代码": "110108001005", "名称": "社区"}])
    r = upload(c, h, path)
    assert r.status_code == 422 and r.json()["code"] == "too_large"
    assert stored(session, "110108001005") == [] and audits(session) == []
