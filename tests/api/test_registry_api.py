"""The registry over HTTP with real logins: masking, audited reveal, area scope, Excel, history."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.api_support import serve_session
from tests.registry_factories import CENTER, A, B, centre_of, id_number, setup_grids
from wangge.audit.models import AuditEntry
from wangge.auth import service
from wangge.config import Settings
from wangge.main import create_app
from wangge.registry import people

PASSWORD = "Grid-Worker-2026"
MINE = id_number("11010819850307123")
THEIRS = id_number("11010819790512456")


@pytest.fixture
def client(session, tmp_path) -> Iterator[TestClient]:
    setup_grids(session)
    service.seed_roles(session)
    admin = service.create_user(
        session, username="admin", password="Center-Pass-2026", display_name="中心"
    )
    service.assign_post(session, admin, "admin")
    worker = service.create_user(session, username="wangwu", password=PASSWORD, display_name="王五")
    service.assign_post(session, worker, "supervisor", scope=A)
    people.save_person(
        session,
        CENTER,
        {"name": "张三", "id_number": MINE, "phone": "13812345678", "community_code": A},
    )
    people.save_person(session, CENTER, {"name": "李四", "id_number": THEIRS, "community_code": B})
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    with TestClient(app) as c:
        yield c


def _login(
    client: TestClient, username: str = "wangwu", password: str = PASSWORD
) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _person_id(client: TestClient, name: str) -> int:
    items = client.get("/api/v1/registry/people", params={"q": name}).json()["items"]
    return items[0]["id"]


def test_lists_are_masked_and_hold_no_full_id_number(client):
    _login(client, "admin", "Center-Pass-2026")
    r = client.get("/api/v1/registry/people")
    assert r.status_code == 200
    assert MINE not in r.text and "13812345678" not in r.text
    item = next(i for i in r.json()["items"] if i["name"] == "张三")
    assert item["id_number"] == "110108********" + MINE[-4:] and item["phone"] == "138****5678"
    assert item["birth_date"] == "1985-03-07" and item["sex"] == "男"


def test_a_community_worker_cannot_see_another_communitys_people_anywhere(client, session):
    headers = _login(client)
    names = [i["name"] for i in client.get("/api/v1/registry/people").json()["items"]]
    assert names == ["张三"]
    by_number = client.post("/api/v1/registry/people/search", json={"q": THEIRS}, headers=headers)
    assert by_number.json()["items"] == []
    assert client.get("/api/v1/registry/people", params={"q": "李四"}).json()["items"] == []
    theirs = session.scalar(select(people.Person.id).where(people.Person.name == "李四"))
    assert client.get(f"/api/v1/registry/people/{theirs}").status_code == 404
    assert client.get(f"/api/v1/registry/people/{theirs}/history").status_code == 404
    export = client.get("/api/v1/registry/people/export")
    rows = list(load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["张三"]


def test_a_search_by_id_number_or_phone_goes_in_a_post_body_never_in_a_url(client):
    headers = _login(client)
    for q in (MINE, "138 1234 5678", "１３８１２３４５６７８", "E12345678"):
        refused = client.get("/api/v1/registry/people", params={"q": q})
        assert refused.status_code == 422, q
        problem = refused.json()
        assert problem["code"] == "identifier_in_url" and "POST" in problem["detail"]
        assert "POST /api/v1/registry/people/search" in problem["detail_en"]
        assert q not in refused.text
    export = client.get("/api/v1/registry/people/export", params={"q": MINE})
    assert export.status_code == 422 and export.json()["code"] == "identifier_in_url"

    for q in (MINE, "13812345678", "138-1234-5678", "１３８１２３４５６７８"):
        found = client.post("/api/v1/registry/people/search", json={"q": q}, headers=headers)
        assert found.status_code == 200, q
        assert [i["name"] for i in found.json()["items"]] == ["张三"]
        assert MINE not in found.text and "13812345678" not in found.text
    assert client.get("/api/v1/registry/people", params={"q": "张三"}).json()["total"] == 1
    # A session cookie alone (a foreign page's form) is not enough for the POST.
    assert client.post("/api/v1/registry/people/search", json={"q": MINE}).status_code == 403


def test_an_exported_name_that_looks_like_a_formula_is_text_and_re_imports_unchanged(
    client, session
):
    headers = _login(client)
    name = '=HYPERLINK("http://evil.example","点击")'
    created = client.post(
        "/api/v1/registry/people", json={"name": name, "community_code": A}, headers=headers
    )
    assert created.status_code == 201
    export = client.get("/api/v1/registry/people/export", params={"q": "HYPERLINK"})
    sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
    row = next(sheet.iter_rows(min_row=2))
    assert row[1].data_type == "s" and row[1].value == "'" + name  # text, not a live formula
    assert row[0].value == created.json()["id"] and row[0].data_type == "n"  # ids stay numbers

    buffer = io.BytesIO(export.content)
    files = {"file": ("人口.xlsx", buffer.getvalue(), "application/octet-stream")}
    report = client.post("/api/v1/registry/people/import", files=files, headers=headers).json()
    assert report["written"] and report["updated"] == 1
    again = client.get(f"/api/v1/registry/people/{created.json()['id']}").json()
    assert again["name"] == name


def test_revealing_needs_the_unmask_permission(client):
    _login(client)
    pid = _person_id(client, "张三")
    r = client.get(f"/api/v1/registry/people/{pid}/personal", params={"reason": "核实"})
    assert r.status_code == 403 and MINE not in r.text


def test_an_authorised_reveal_is_written_to_the_audit_log_without_the_number(client, session):
    _login(client, "admin", "Center-Pass-2026")
    pid = _person_id(client, "张三")
    assert client.get(f"/api/v1/registry/people/{pid}/personal").status_code == 422
    r = client.get(f"/api/v1/registry/people/{pid}/personal", params={"reason": "核实低保资格"})
    assert r.status_code == 200 and r.json()["id_number"] == MINE
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "personal.unmask")).one()
    assert (entry.actor, entry.reason, entry.object_id) == ("admin", "核实低保资格", str(pid))
    everything = " ".join(f"{e.detail} {e.reason}" for e in session.scalars(select(AuditEntry)))
    assert MINE not in everything


def test_special_group_labels_are_hidden_from_grid_workers(client):
    headers = _login(client, "admin", "Center-Pass-2026")
    pid = _person_id(client, "张三")
    r = client.patch(
        f"/api/v1/registry/people/{pid}",
        json={"labels": ["独居老人", "社区矫正对象"]},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["labels"] == ["corrections", "elderly_alone"]
    client.post("/api/v1/auth/logout", headers=headers)
    _login(client)
    assert client.get(f"/api/v1/registry/people/{pid}").json()["labels"] == ["elderly_alone"]
    assert client.get("/api/v1/registry/people", params={"label": "corrections"}).status_code == 403
    changes = client.get(f"/api/v1/registry/people/{pid}/history").json()[-1]["changes"]
    assert changes["labels"] == [[], ["elderly_alone"]]
    codes = [k["code"] for k in client.get("/api/v1/registry/label-kinds").json()]
    assert "elderly_alone" in codes and "corrections" not in codes


def test_a_worker_registers_a_building_and_a_person_and_the_history_shows_it(client):
    headers = _login(client)
    lon, lat = centre_of(A)
    b = client.post(
        "/api/v1/registry/buildings",
        json={"name": "3号楼", "community_code": A, "lon": lon, "lat": lat},
        headers=headers,
    )
    assert b.status_code == 201 and b.json()["grid_id"] is not None
    room = client.post(
        "/api/v1/registry/rooms",
        json={"building_id": b.json()["id"], "number": "301", "use": "出租"},
        headers=headers,
    )
    assert room.status_code == 201 and room.json()["use"] == "rented"
    p = client.post(
        "/api/v1/registry/people",
        json={"name": "赵六", "room_id": room.json()["id"], "id_number": MINE},
        headers=headers,
    )
    assert p.status_code == 201 and MINE not in p.text
    pid = p.json()["id"]
    client.patch(f"/api/v1/registry/people/{pid}", json={"phone": "13900001111"}, headers=headers)
    changes = client.get(f"/api/v1/registry/people/{pid}/history").json()
    assert [c["action"] for c in changes] == ["create", "update"]
    assert (
        changes[1]["changes"]["phone"] == [None, "139****1111"] and changes[1]["actor"] == "wangwu"
    )
    other = client.post(
        "/api/v1/registry/people", json={"name": "钱七", "community_code": B}, headers=headers
    )
    assert other.status_code == 403


def test_a_template_downloaded_and_filled_imports_over_http(client):
    headers = _login(client)
    r = client.get("/api/v1/registry/people/template")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    ws.append([None, "孙八", id_number("11010820000101001"), None, "流动", None, A])
    ws.append([None, "周九", "11010820000101001X", None, "户籍", None, A])
    buffer = io.BytesIO()
    wb.save(buffer)
    files = {"file": ("人口.xlsx", buffer.getvalue(), "application/octet-stream")}
    report = client.post("/api/v1/registry/people/import", files=files, headers=headers).json()
    assert report["written"] is False and report["errors"][0]["row"] == 3
    assert "第18位" in report["errors"][0]["reason"]
    report = client.post(
        "/api/v1/registry/people/import", params={"valid_only": True}, files=files, headers=headers
    ).json()
    assert report["written"] and report["created"] == 1


def test_component_codes_are_assigned_and_never_reused_over_http(client):
    headers = _login(client, "admin", "Center-Pass-2026")
    lon, lat = centre_of(A)
    body = {
        "class_code": "0101",
        "lon": lon,
        "lat": lat,
        "county_code": "110108",
        "owner_dept": "自来水集团",
    }
    first = client.post("/api/v1/registry/components", json=body, headers=headers).json()
    assert (
        first["code"] == "1101080101000001" and first["unit_grid_id"] is None and first["grid_id"]
    )
    assert (
        client.delete(f"/api/v1/registry/components/{first['id']}", headers=headers).status_code
        == 204
    )
    second = client.post("/api/v1/registry/components", json=body, headers=headers).json()
    assert second["code"] == "1101080101000002"
    client.post("/api/v1/registry/components", json={**body, "class_code": "0201"}, headers=headers)
    export = client.get("/api/v1/registry/components/export", params={"class_code": "0201"})
    rows = list(load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["0201"]
    classes = client.get("/api/v1/registry/component-classes").json()
    assert {"code": "0101", "name": "上水井盖"}.items() <= classes[0].items()


def test_duplicates_are_listed_and_resolved_over_http(client):
    headers = _login(client, "admin", "Center-Pass-2026")
    client.post(
        "/api/v1/registry/people",
        json={"name": "张三", "id_number": MINE, "community_code": A},
        headers=headers,
    )
    groups = client.get("/api/v1/registry/people/duplicates").json()
    assert len(groups) == 1 and groups[0]["reason"] == "same_id_number"
    keep, other = groups[0]["ids"]
    r = client.post(
        "/api/v1/registry/people/duplicates/resolve",
        json={"keep_id": keep, "other_id": other, "action": "merge"},
        headers=headers,
    )
    assert r.status_code == 200
    assert client.get("/api/v1/registry/people/duplicates").json() == []


def test_an_employer_file_keeps_inspections_and_grades(client):
    from tests.registry_factories import credit_code

    headers = _login(client, "admin", "Center-Pass-2026")
    org = client.post(
        "/api/v1/registry/organisations",
        json={
            "name": "甲公司",
            "credit_code": credit_code(),
            "community_code": A,
            "employees": 20,
            "integrity_grade": "A",
        },
        headers=headers,
    )
    assert org.status_code == 201
    oid = org.json()["id"]
    client.post(
        f"/api/v1/registry/organisations/{oid}/inspections",
        json={
            "inspected_on": "2026-10-01",
            "findings": "未签合同 3 人",
            "violations": ["未签订劳动合同"],
        },
        headers=headers,
    )
    client.post(
        f"/api/v1/registry/organisations/{oid}/grades",
        json={
            "grade": "B",
            "valid_from": str(date.today() + timedelta(days=1)),
            "reason": "未签合同",
        },
        headers=headers,
    )
    file = client.get(f"/api/v1/registry/organisations/{oid}/file").json()
    assert [g["grade"] for g in file["grades"]] == ["A", "B"]
    assert (
        file["inspections"][0]["violations"] == ["未签订劳动合同"]
        and file["organisation"]["integrity_grade"] == "B"
    )
    bad = client.post(
        "/api/v1/registry/organisations",
        json={"name": "乙", "credit_code": "91110108MA01ABCDE1", "community_code": A},
        headers=headers,
    )
    assert bad.status_code == 422 and "位" in bad.json()["detail"]


def test_quality_reports_completeness_per_community(client):
    _login(client, "admin", "Center-Pass-2026")
    rows = client.get(
        "/api/v1/registry/quality", params={"kind": "people", "level": "community"}
    ).json()
    assert [r["area"] for r in rows] == [A, B] and all(0 < r["completeness"] < 1 for r in rows)


def test_verifying_a_record_shows_in_the_freshness_of_the_quality_report(client):
    headers = _login(client)
    pid = _person_id(client, "张三")
    before = client.get("/api/v1/registry/quality", params={"kind": "people"}).json()
    assert before[0]["fresh_share"] == 0 and before[0]["oldest_verified_at"] is None
    r = client.post(f"/api/v1/registry/people/{pid}/actions/verify", headers=headers)
    assert r.status_code == 200 and r.json()["verified_at"]
    after = client.get("/api/v1/registry/quality", params={"kind": "people"}).json()
    assert after[0]["fresh_share"] == 1 and after[0]["oldest_verified_at"] is not None
    assert client.get(f"/api/v1/registry/people/{pid}/history").json()[-1]["action"] == "verify"
    households = client.get("/api/v1/registry/people", params={"household_id": 999}).json()
    assert households["items"] == []


def test_a_tenancy_naming_no_registered_person_is_refused_not_a_server_error(client, session):
    from wangge.registry.models_people import Person

    theirs = session.scalar(select(Person.id).where(Person.community_code == B))
    headers = _login(client)
    lon, lat = centre_of(A)
    b = client.post(
        "/api/v1/registry/buildings",
        json={"name": "5号楼", "community_code": A, "lon": lon, "lat": lat},
        headers=headers,
    ).json()
    room = client.post(
        "/api/v1/registry/rooms", json={"building_id": b["id"], "number": "502"}, headers=headers
    ).json()
    url = f"/api/v1/registry/rooms/{room['id']}/tenancies"
    # Nobody, and somebody outside his community (李四 lives in B): both unknown to him.
    for person_id in (987654, theirs):
        r = client.post(
            url, json={"tenant_name": "某人", "tenant_person_id": person_id}, headers=headers
        )
        assert r.status_code == 422, r.text  # once a foreign-key error, 500
        assert r.json()["code"] == "unknown_person" and r.json()["field"] == "tenant_person_id"
    assert client.get(url).json() == []
    mine = _person_id(client, "张三")
    r = client.post(url, json={"tenant_name": "张三", "tenant_person_id": mine}, headers=headers)
    assert r.status_code == 201, r.text
