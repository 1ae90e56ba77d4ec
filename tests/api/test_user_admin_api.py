"""Administering accounts over HTTP: users with posts in one step, password resets,
deactivation, grants kept within the administrator's own area and rights, role editing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.factories import load_territory
from wangge.audit.models import AuditEntry
from wangge.auth import service
from wangge.auth.models import User
from wangge.config import Settings
from wangge.departments.models import Department
from wangge.main import create_app

ADMIN_PW = "Center-Pass-2026"
PASSWORD = "Grid-Worker-2026"


@pytest.fixture
def app_and_session(session, tmp_path):
    load_territory(session)
    service.seed_roles(session)
    session.add(Department(code="CG", name="区城管委", county_code="110108"))
    admin = service.create_user(session, username="admin", password=ADMIN_PW, display_name="管理员")
    service.assign_post(session, admin, "admin")
    street = service.create_user(
        session, username="jdadmin", password=ADMIN_PW, display_name="街道管理员"
    )
    service.assign_post(session, street, "admin", scope="110108001")
    worker = service.create_user(session, username="wangwu", password=PASSWORD, display_name="王五")
    service.assign_post(session, worker, "supervisor", scope="110108001001")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    return app, session


@pytest.fixture
def client(app_and_session) -> Iterator[TestClient]:
    with TestClient(app_and_session[0]) as c:
        yield c


def _login(client: TestClient, username: str, password: str = ADMIN_PW) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def test_a_user_is_created_with_his_post_in_one_step(client, app_and_session):
    h = _login(client, "admin")
    r = client.post(
        "/api/v1/users",
        json={
            "username": "zhaoliu",
            "display_name": "赵六",
            "password": PASSWORD,
            "posts": [{"role": "acceptor", "scope": "110108"}],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    posts = client.get(f"/api/v1/users/{r.json()['id']}/posts").json()
    assert [(p["role_code"], p["scope_prefix"]) for p in posts] == [("acceptor", "110108")]
    client.cookies.clear()
    _login(client, "zhaoliu", PASSWORD)
    assert client.get("/api/v1/auth/me").json()["roles"] == ["acceptor"]


def test_a_refused_post_creates_nobody(client, app_and_session):
    session = app_and_session[1]
    h = _login(client, "admin")
    r = client.post(
        "/api/v1/users",
        json={
            "username": "nobody",
            "display_name": "无",
            "password": PASSWORD,
            "posts": [{"role": "no_such_role"}],
        },
        headers=h,
    )
    assert r.status_code == 404 and r.json()["field"] == "role"
    assert _user_id(session, "nobody") is None


def test_a_reset_password_must_follow_the_rules_and_ends_the_old_sessions(client, app_and_session):
    session = app_and_session[1]
    uid = _user_id(session, "wangwu")
    worker = TestClient(app_and_session[0])
    _login(worker, "wangwu", PASSWORD)
    h = _login(client, "admin")
    weak = client.post(
        f"/api/v1/users/{uid}/actions/reset-password", json={"new_password": "abc"}, headers=h
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    assert "长度" in weak.json()["detail"] and "characters" in weak.json()["detail_en"]
    ok = client.post(
        f"/api/v1/users/{uid}/actions/reset-password",
        json={"new_password": "New-Secret-2026"},
        headers=h,
    )
    assert ok.status_code == 204
    assert worker.get("/api/v1/auth/me").status_code == 401
    _login(worker, "wangwu", "New-Secret-2026")
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(uid)))
    assert "user.password_reset" in set(actions)


def test_a_deactivated_user_cannot_log_in_until_reactivated(client, app_and_session):
    session = app_and_session[1]
    uid = _user_id(session, "wangwu")
    h = _login(client, "admin")
    r = client.post(f"/api/v1/users/{uid}/actions/deactivate", headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is False
    other = TestClient(app_and_session[0])
    r = other.post("/api/v1/auth/login", json={"username": "wangwu", "password": PASSWORD})
    assert r.status_code == 401
    r = client.post(f"/api/v1/users/{uid}/actions/reactivate", headers=h)
    assert r.json()["is_active"] is True
    _login(other, "wangwu", PASSWORD)
    me = _user_id(session, "admin")
    r = client.post(f"/api/v1/users/{me}/actions/deactivate", headers=h)
    assert r.status_code == 409 and "自己" in r.json()["detail"]


def test_a_street_admin_grants_only_inside_his_street(client, app_and_session):
    session = app_and_session[1]
    h = _login(client, "jdadmin")
    uid = client.post(
        "/api/v1/users",
        json={"username": "sun", "display_name": "孙", "password": PASSWORD},
        headers=h,
    ).json()["id"]
    outside = client.post(
        f"/api/v1/users/{uid}/posts",
        json={"role": "supervisor", "scope": "110108002001"},
        headers=h,
    )
    assert outside.status_code == 403 and outside.json()["code"] == "out_of_scope"
    assert "110108002001" in outside.json()["detail"] and "outside" in outside.json()["detail_en"]
    whole = client.post(f"/api/v1/users/{uid}/posts", json={"role": "leader"}, headers=h)
    assert whole.status_code == 403
    inside = client.post(
        f"/api/v1/users/{uid}/posts",
        json={"role": "supervisor", "scope": "110108001002"},
        headers=h,
    )
    assert inside.status_code == 201
    # The district admin is not his to reset.
    admin_id = _user_id(session, "admin")
    r = client.post(
        f"/api/v1/users/{admin_id}/actions/reset-password",
        json={"new_password": "Taken-Over-2026"},
        headers=h,
    )
    assert r.status_code == 403
    assert (
        client.put(
            "/api/v1/roles/citizen",
            json={"code": "citizen", "name_zh": "公众", "permissions": ["*"], "builtin": True},
            headers=h,
        ).status_code
        == 403
    )


def test_an_admin_edits_a_role_but_cannot_strip_the_admin_role(client):
    h = _login(client, "admin")
    perms = {p["code"] for p in client.get("/api/v1/permissions").json()}
    assert {"grids.manage", "users.manage", "cases.act"} <= perms
    r = client.put(
        "/api/v1/roles/leader",
        json={"code": "leader", "name_zh": "领导", "permissions": ["cases.read"], "builtin": True},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["permissions"] == ["cases.read"]
    r = client.put(
        "/api/v1/roles/admin",
        json={"code": "admin", "name_zh": "管理员", "permissions": ["cases.read"], "builtin": True},
        headers=h,
    )
    assert r.status_code == 409 and r.json()["code"] == "admin_role_locked"


def _a_key(client: TestClient, h: dict[str, str], **body) -> dict:
    r = client.post("/api/v1/api-keys", json={"name": "k", **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_department_key_cannot_revoke_another_key(client):
    h = _login(client, "admin")
    a = _a_key(client, h, department="CG")
    b = _a_key(client, h, name="other system")
    client.cookies.clear()
    r = client.delete(f"/api/v1/api-keys/{b['id']}", headers={"X-API-Key": a["token"]})
    assert r.status_code == 404  # as if it did not exist: ids are sequential
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": b["token"]}).json()["name"] != (
        "anonymous"
    )  # key B still works


def test_a_street_admin_administers_only_his_street(client, app_and_session):
    session = app_and_session[1]
    _login(client, "admin")
    district_audit = client.get("/api/v1/audit").json()
    assert any(e["actor"] == "admin" for e in district_audit)
    client.cookies.clear()
    h = _login(client, "jdadmin")
    listed = {u["username"] for u in client.get("/api/v1/users").json()}
    assert "wangwu" in listed and "admin" not in listed
    entries = client.get("/api/v1/audit").json()
    assert entries and {e["actor"] for e in entries} <= {"jdadmin", "wangwu"}
    admin_id = _user_id(session, "admin")
    assert client.post(f"/api/v1/users/{admin_id}/unlock", headers=h).status_code == 403
    assert client.get(f"/api/v1/users/{admin_id}/posts").status_code == 403
    # The admin role holds '*', so he may mint a '*' key, but it reaches no territory: the
    # district's users and audit log stay closed to it.
    key = _a_key(client, h, permissions=["*"])
    client.cookies.clear()
    as_key = {"X-API-Key": key["token"]}
    assert client.get("/api/v1/users", headers=as_key).json() == []
    assert client.get("/api/v1/audit", headers=as_key).json() == []
    r = client.post("/api/v1/api-keys", json={"name": "x"}, headers=as_key)
    assert r.status_code == 403 and r.json()["code"] == "key_issues_key"


def test_a_key_never_holds_more_than_its_issuer(client, app_and_session):
    session = app_and_session[1]
    reader = service.create_user(
        session, username="keeper", password=ADMIN_PW, display_name="用户管理员"
    )
    role = "user_keeper"
    from wangge.auth.models import Role

    session.add(Role(code=role, name_zh="用户管理", permissions=["users.manage", "cases.read"]))
    session.flush()
    service.assign_post(session, reader, role, scope="110108")
    h = _login(client, "keeper")
    r = client.post("/api/v1/api-keys", json={"name": "k", "permissions": ["*"]}, headers=h)
    assert r.status_code == 403 and r.json()["code"] == "grant_exceeds_rights"
    assert _a_key(client, h, permissions=["cases.read"])["expires_at"] is not None


def test_every_token_and_key_expires_within_the_configured_lifetime(client):
    h = _login(client, "admin")
    for path, body in (("/api/v1/auth/tokens", {"name": "t"}), ("/api/v1/api-keys", {"name": "k"})):
        never = client.post(path, json={**body, "days": None}, headers=h)
        assert never.status_code == 422, never.text
        too_long = client.post(path, json={**body, "days": 3000}, headers=h)
        assert too_long.status_code == 422 and too_long.json()["code"] == "validation_failed"
        assert "days" in too_long.text
        ok = client.post(path, json=body, headers=h)
        assert ok.status_code in (200, 201) and ok.json()["expires_at"] is not None
