"""Accounts over HTTP: login, CSRF, tokens, API keys, lockout, scope, audit."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api_support import serve_session
from tests.factories import load_territory, quarters
from wangge.audit.chain import verify_chain
from wangge.auth import service
from wangge.config import Settings
from wangge.departments.models import Department
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app

PASSWORD = "Grid-Worker-2026"


@pytest.fixture
def app_and_session(session, tmp_path):
    load_territory(session)
    service.seed_roles(session)
    session.add(Department(code="CG", name="区城管委", county_code="110108"))
    version = new_version(session, "110108", "social", "v1")
    rows = [
        GridIn(kind="basic", geom=g) for c in ("110108001001", "110108001002") for g in quarters(c)
    ]
    add_grids(session, version, rows, width=3)
    activate_version(session, version.id)
    admin = service.create_user(
        session, username="admin", password="Center-Pass-2026", display_name="管理员"
    )
    service.assign_post(session, admin, "admin")
    worker = service.create_user(session, username="wangwu", password=PASSWORD, display_name="王五")
    service.assign_post(session, worker, "supervisor", scope="110108001001")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    return app, session


@pytest.fixture
def client(app_and_session) -> Iterator[TestClient]:
    with TestClient(app_and_session[0]) as c:
        yield c


def _login(client: TestClient, username: str = "wangwu", password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def test_anonymous_callers_must_log_in_to_read_grids(client):
    r = client.get("/api/v1/grids")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_a_grid_worker_sees_only_the_grids_of_his_community(client):
    _login(client)
    grids = client.get("/api/v1/grids").json()
    assert len(grids) == 4 and all(g["code"].startswith("110108001001") for g in grids)
    other = client.get("/api/v1/grids", params={"division": "110108001002"}).json()
    assert other == []


def test_an_out_of_area_grid_looks_absent(client, app_and_session):
    _login(client)
    session = app_and_session[1]
    foreign = session.execute(
        text("SELECT id FROM grids WHERE code = '110108001002001'")
    ).scalar_one()
    assert client.get(f"/api/v1/grids/{foreign}").status_code == 404


def test_wrong_passwords_lock_the_account_after_five_tries(client):
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "wangwu", "password": "nope"})
        assert r.status_code == 401 and r.json()["code"] == "bad_credentials"
    r = client.post("/api/v1/auth/login", json={"username": "wangwu", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "account_locked"
    assert "锁定" in r.json()["detail"]


def test_cookie_sessions_need_the_csrf_header_for_writes(client):
    csrf = _login(client)
    assert (
        client.post("/api/v1/auth/tokens", json={"name": "phone"}).json()["code"] == "csrf_failed"
    )
    r = client.post("/api/v1/auth/tokens", json={"name": "phone"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["token"].startswith("wgb_")


def test_a_bearer_token_works_until_logout_everywhere(client):
    csrf = _login(client)
    token = client.post(
        "/api/v1/auth/tokens", json={"name": "phone"}, headers={"X-CSRF-Token": csrf}
    ).json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).json()["roles"] == ["supervisor"]
    assert client.post("/api/v1/auth/logout-everywhere", headers=bearer).status_code == 204
    r = client.get("/api/v1/auth/me", headers=bearer)
    assert r.status_code == 401 and r.json()["code"] == "bad_token"


def test_a_supervisor_cannot_administer_users(client):
    csrf = _login(client)
    r = client.post(
        "/api/v1/users",
        json={"username": "x1", "display_name": "x", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403


def test_an_admin_creates_a_user_assigns_a_post_and_issues_a_department_key(client):
    csrf = _login(client, "admin", "Center-Pass-2026")
    h = {"X-CSRF-Token": csrf}
    weak = client.post(
        "/api/v1/users",
        json={"username": "zhao", "display_name": "赵", "password": "short"},
        headers=h,
    )
    assert (
        weak.status_code == 422
        and weak.json()["code"] == "weak_password"
        and "长度" in weak.json()["detail"]
    )
    r = client.post(
        "/api/v1/users",
        json={"username": "zhao", "display_name": "赵", "password": PASSWORD},
        headers=h,
    )
    assert r.status_code == 201
    uid = r.json()["id"]
    post = client.post(
        f"/api/v1/users/{uid}/posts", json={"role": "department", "department": "CG"}, headers=h
    )
    assert post.status_code == 201
    key = client.post(
        "/api/v1/api-keys", json={"name": "城管系统", "department": "CG"}, headers=h
    ).json()["token"]
    client.cookies.clear()
    me = client.get("/api/v1/auth/me", headers={"X-API-Key": key}).json()
    assert me["department_codes"] == ["CG"] and me["scope_prefixes"] == []
    assert client.get("/api/v1/grids", headers={"X-API-Key": key}).status_code == 403


def test_every_login_and_permission_change_is_in_an_unbroken_audit_chain(client, app_and_session):
    session = app_and_session[1]
    _login(client, "admin", "Center-Pass-2026")
    client.post("/api/v1/auth/login", json={"username": "wangwu", "password": "bad"})
    report = verify_chain(session)
    assert report.ok and report.checked >= 6
    actions = [r[0] for r in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]
    assert "login.ok" in actions and "login.failed" in actions and "post.assign" in actions
    victim = session.execute(
        text("SELECT id FROM audit_log WHERE action = 'login.failed'")
    ).scalar_one()
    session.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = :i"), {"i": victim})
    session.expire_all()
    broken = verify_chain(session)
    assert not broken.ok and broken.first_broken_id == victim


def test_a_citizen_sees_no_territory(client, app_and_session):
    session = app_and_session[1]
    citizen = service.create_user(
        session, username="resident1", password=PASSWORD, display_name="居民"
    )
    service.assign_post(session, citizen, "citizen")
    _login(client, "resident1")
    assert client.get("/api/v1/auth/me").json()["scope_prefixes"] == []
    assert client.get("/api/v1/grids").status_code == 403
