"""Departments as managed data over HTTP: create, edit, deactivate and reactivate, list with
filters, scope per county, city-level departments serving counties, and the Excel list (export,
all-or-nothing import with every bad row named, template)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.api_support import serve_session
from tests.factories import load_territory
from tests.registry_factories import credit_code
from wangge.audit.models import AuditEntry
from wangge.auth import service as auth
from wangge.config import Settings
from wangge.departments.excel import COLUMNS
from wangge.departments.models import Department
from wangge.departments.service import require_active
from wangge.errors import ValidationFailed
from wangge.lines.models import BusinessLine
from wangge.main import create_app

PW = "Center-Pass-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = [c.header for c in COLUMNS]


@pytest.fixture
def app_and_session(session, tmp_path):
    load_territory(session)
    auth.seed_roles(session)
    session.add(BusinessLine(code="CG", name="城管", county_code="110108", roles=[]))
    session.add(Department(code="110105-CGW", name="朝阳城管委", county_code="110105"))
    for username, role, scope in (
        ("admin", "admin", None),
        ("jdadmin", "admin", "110108001"),
        ("wangwu", "supervisor", "110108001001"),
    ):
        user = auth.create_user(session, username=username, password=PW, display_name=username)
        auth.assign_post(session, user, role, scope=scope)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    return app, session


@pytest.fixture
def client(app_and_session) -> Iterator[TestClient]:
    with TestClient(app_and_session[0]) as c:
        yield c


def login(client: TestClient, username: str = "admin") -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def create(client: TestClient, h: dict[str, str], **body) -> dict:
    r = client.post("/api/v1/departments", json={"county_code": "110108", **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def refused(client, h, status: int, problem: str, **body) -> dict:
    r = client.post("/api/v1/departments", json={"county_code": "110108", **body}, headers=h)
    assert r.status_code == status, r.text
    assert r.json()["code"] == problem, r.json()
    assert r.json()["detail"] and r.json()["detail_en"]
    return r.json()


def xlsx(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, h, body: bytes, county: str = "110108", name: str = "部门.xlsx"):
    return client.post(
        "/api/v1/departments/import",
        files={"file": (name, body, XLSX)},
        data={"county": county},
        headers=h,
    )


def test_an_admin_creates_edits_lists_and_reads_a_department(client, app_and_session):
    h = login(client)
    made = create(
        client,
        h,
        code="110108-CGW",
        name="区城管委",
        business_line="城管",
        contact="张三",
        duty_phone="010-62550000",
        credit_code=credit_code("MB000001"),
    )
    assert made["level"] == "county" and made["is_active"] is True
    assert made["business_line"] == "CG"  # named by its name, stored as its code
    create(client, h, code="110108-JDB1", name="甲街道办", level="街道", parent_code="110108-CGW")

    r = client.patch(
        "/api/v1/departments/110108-CGW", json={"duty_phone": "13812345678"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["duty_phone"] == "13812345678" and r.json()["contact"] == "张三"
    assert client.get("/api/v1/departments/110108-CGW").json()["duty_phone"] == "13812345678"

    def codes(**params) -> list[str]:
        r = client.get("/api/v1/departments", params=params)
        assert r.status_code == 200, r.text
        return [d["code"] for d in r.json()]

    assert codes(county="110108") == ["110108-CGW", "110108-JDB1"]
    assert codes(level="street") == ["110108-JDB1"]
    assert codes(line="CG") == ["110108-CGW"]
    assert codes(q="街道") == ["110108-JDB1"] and codes(q="8-cgw") == ["110108-CGW"]
    assert "110105-CGW" in codes()
    session = app_and_session[1]
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "department")
    ).all()
    assert actions == ["department.create", "department.create", "department.update"]


def test_a_code_is_suggested_in_the_county_convention(client):
    h = login(client)
    assert create(client, h, key="cgw", name="区城管委")["code"] == "110108-CGW"
    assert create(client, h, key="CGW", name="城管委二")["code"] == "110108-CGW2"
    assert create(client, h, name="无简称")["code"] == "110108-D01"
    r = client.get("/api/v1/departments/suggest-code", params={"county": "110108", "key": "CGW"})
    assert r.json() == {"code": "110108-CGW3"}
    assert create(client, h, code="ZF_01", name="自有编码")["code"] == "ZF_01"


def test_bad_departments_are_refused_with_the_reason_in_both_languages(client):
    h = login(client)
    create(client, h, code="110108-CGW", name="区城管委")
    body = refused(client, h, 409, "department_exists", code="110108-CGW", name="再来一个")
    assert "110108-CGW" in body["detail"] and "110108-CGW" in body["detail_en"]
    refused(client, h, 409, "department_exists", code="110105-CGW", name="另一区县的编码")
    refused(client, h, 422, "bad_department_code", code="城管委", name="x")
    refused(client, h, 422, "bad_department_code", code="A", name="x")
    refused(client, h, 422, "bad_level", code="X1", name="x", level="省")
    body = refused(client, h, 422, "bad_phone", code="X1", name="x", duty_phone="请打办公室")
    assert body["field"] == "duty_phone"
    refused(client, h, 422, "bad_credit_code", code="X1", name="x", credit_code="123")
    refused(client, h, 422, "unknown_parent", code="X1", name="x", parent_code="NOPE")
    body = refused(
        client, h, 422, "parent_elsewhere", code="X1", name="x", parent_code="110105-CGW"
    )
    assert "110105" in body["detail"]
    refused(client, h, 422, "unknown_line", code="X1", name="x", business_line="安监")
    refused(client, h, 422, "serves_not_city", code="X1", name="x", serves_counties=["110105"])
    refused(client, h, 422, "bad_code", code="X1", name="x", county_code="110100")
    refused(client, h, 422, "bad_city_code", code="X1", name="x", level="city")
    r = client.post(
        "/api/v1/departments",
        json={"county_code": "110108", "code": "X1", "name": "x", "is_active": False},
        headers=h,
    )
    assert r.status_code == 422 and "is_active" in r.text  # unknown fields are refused
    r = client.patch("/api/v1/departments/110108-CGW", json={"code": "NEW"}, headers=h)
    assert r.status_code == 422  # the code is the identity: never edited


def test_a_parent_that_would_make_a_cycle_is_refused(client):
    h = login(client)
    create(client, h, code="A1", name="甲")
    create(client, h, code="B1", name="乙", parent_code="A1")
    create(client, h, code="C1", name="丙", parent_code="B1")
    r = client.patch("/api/v1/departments/A1", json={"parent_code": "C1"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "parent_cycle"
    assert "A1 → C1 → B1 → A1" in r.json()["detail"]
    r = client.patch("/api/v1/departments/A1", json={"parent_code": "A1"}, headers=h)
    assert r.json()["code"] == "parent_cycle"
    assert client.get("/api/v1/departments/A1").json()["parent_code"] is None


def test_a_city_level_department_serves_the_counties_it_lists(client, app_and_session):
    session = app_and_session[1]
    h = login(client)
    city = create(
        client,
        h,
        county_code="110100",
        code="110100-SZJ",
        name="市住建委",
        level="市",
        serves_counties=["110108", "110105"],
    )
    assert city["level"] == "city" and city["serves_counties"] == ["110105", "110108"]
    # A county department may sit under the city department that serves its county.
    create(client, h, code="110108-ZJW", name="区住建委", parent_code="110100-SZJ")
    require_active(session, "110108", ["110100-SZJ", "110108-ZJW"], field="department")
    with pytest.raises(ValidationFailed) as caught:
        require_active(session, "110109", ["110100-SZJ"], field="department")
    assert caught.value.code == "unknown_department"
    refused(
        client,
        h,
        422,
        "serves_other_city",
        county_code="110100",
        code="X1",
        name="x",
        level="city",
        serves_counties=["350302"],
    )
    # A county's administrator sees the city department serving his county, cannot edit it.
    h = login(client, "jdadmin")
    r = client.get("/api/v1/departments", params={"county": "110108"})
    assert [d["code"] for d in r.json()] == ["110100-SZJ", "110108-ZJW"]
    r = client.patch("/api/v1/departments/110100-SZJ", json={"contact": "李四"}, headers=h)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"


def test_a_deactivated_department_keeps_its_record_but_gets_no_dispatch_post_or_key(
    client, app_and_session
):
    session = app_and_session[1]
    h = login(client)
    create(client, h, code="110108-HBJ", name="区环保局")
    r = client.post("/api/v1/departments/110108-HBJ/actions/deactivate", headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/departments/110108-HBJ").json()["name"] == "区环保局"
    assert [d["code"] for d in client.get("/api/v1/departments?active=false").json()] == [
        "110108-HBJ"
    ]
    with pytest.raises(ValidationFailed):  # dispatch and routing rules check this
        require_active(session, "110108", ["110108-HBJ"], field="department")
    user = client.post(
        "/api/v1/users",
        json={"username": "hbj01", "display_name": "环保", "password": "Handler-Pass-2026"},
        headers=h,
    ).json()
    r = client.post(
        f"/api/v1/users/{user['id']}/posts",
        json={"role": "department", "department": "110108-HBJ"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["code"] == "inactive_department", r.text
    r = client.post(
        "/api/v1/api-keys", json={"name": "环保系统", "department": "110108-HBJ"}, headers=h
    )
    assert r.status_code == 422 and r.json()["code"] == "inactive_department"
    assert "已停用" in r.json()["detail"] and "deactivated" in r.json()["detail_en"]

    r = client.post("/api/v1/departments/110108-HBJ/actions/reactivate", headers=h)
    assert r.json()["is_active"] is True
    require_active(session, "110108", ["110108-HBJ"], field="department")
    r = client.post(
        "/api/v1/api-keys", json={"name": "环保系统", "department": "110108-HBJ"}, headers=h
    )
    assert r.status_code == 201, r.text
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == "110108-HBJ")
    ).all()
    assert actions == ["department.create", "department.deactivate", "department.reactivate"]


def test_a_county_administrator_sees_and_manages_only_his_counties(client):
    h = login(client, "jdadmin")
    create(client, h, code="110108-CGW", name="区城管委")
    assert [d["code"] for d in client.get("/api/v1/departments").json()] == ["110108-CGW"]
    assert client.get("/api/v1/departments/110105-CGW").status_code == 404
    refused(client, h, 403, "out_of_scope", county_code="110105", code="X1", name="x")
    r = client.post("/api/v1/departments/110105-CGW/actions/deactivate", headers=h)
    assert r.status_code == 404
    h = login(client, "wangwu")  # a grid worker reads, does not manage
    assert client.get("/api/v1/departments").status_code == 200
    refused(client, h, 403, "forbidden", code="X1", name="x")
    client.cookies.clear()
    assert client.get("/api/v1/departments").status_code == 401


def test_the_excel_list_round_trips_and_stays_formula_safe(client, app_and_session):
    h = login(client)
    create(client, h, code="110108-CGW", name='=HYPERLINK("http://x","点")', duty_phone="12345")
    r = client.get("/api/v1/departments/export.xlsx", params={"county": "110108"})
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == HEADERS
    assert rows[1][:3] == ["110108-CGW", '\'=HYPERLINK("http://x","点")', "区"]
    assert rows[1][6] == "12345" and rows[1][9] == "在用"
    # The edited export comes back: the name is restored, a new child row is created.
    rows[1][6] = "010-62550000"
    rows.append(["110108-CGW-1", "城管执法队", "区", "110108-CGW", "CG", "", "", "", "", "在用"])
    r = upload(client, h, xlsx(rows[1:]))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == ["110108-CGW-1"] and r.json()["updated"] == ["110108-CGW"]
    dept = client.get("/api/v1/departments/110108-CGW").json()
    assert dept["name"] == '=HYPERLINK("http://x","点")' and dept["duty_phone"] == "010-62550000"
    r = upload(client, h, xlsx(rows[1:]))
    assert r.json()["unchanged"] == 2 and r.json()["updated"] == []  # idempotent
    # Only the columns a file has are changed; 停用 deactivates.
    r = upload(
        client, h, xlsx([["110108-CGW-1", "城管执法队", "停用"]], ["部门编码", "部门名称*", "状态"])
    )
    assert r.status_code == 200, r.text
    child = client.get("/api/v1/departments/110108-CGW-1").json()
    assert child["is_active"] is False and child["parent_code"] == "110108-CGW"
    template = client.get("/api/v1/departments/template.xlsx")
    wb = load_workbook(io.BytesIO(template.content))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS and wb.worksheets[0].max_row == 1
    assert wb.worksheets[1]["A2"].value == "110108-CGW"  # the example row


def test_an_import_with_bad_rows_lists_every_one_and_writes_nothing(client, app_and_session):
    session = app_and_session[1]
    h = login(client)
    before = session.scalar(select(func.count()).select_from(Department))
    rows = [
        ["110108-JD01", "甲街道办", "街道", "110108-CGW", "", "", "", "", "", ""],  # parent below
        ["110108-CGW", "区城管委", "区", "", "", "", "010-62550000", "", "", ""],
        ["110108-XX", "坏电话", "区", "", "", "", "打电话", "", "", ""],
        ["110108-YY", "坏层级", "省", "NOPE", "", "", "", "", "", "作废"],
        ["110105-CGW", "别区编码", "区", "", "", "", "", "", "", ""],
        ["110108-CGW", "重复", "区", "", "", "", "", "", "", ""],
        ["110108-ZZ", "", "区", "110108-ZZ", "", "", "", "", "", ""],
    ]
    r = upload(client, h, xlsx(rows), name="坏部门.xlsx")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "import_failed" and "坏部门.xlsx" in body["detail"]
    found = {(e["row"], e["column"]) for e in body["details"]["errors"]}
    assert found == {
        (4, "值班电话"),
        (5, "层级"),
        (5, "上级部门编码"),
        (5, "状态"),
        (6, "部门编码"),
        (7, "部门编码"),
        (8, "部门名称"),
        (8, "上级部门编码"),
    }
    for e in body["details"]["errors"]:
        assert e["reason_zh"] and e["reason_en"]
    assert session.scalar(select(func.count()).select_from(Department)) == before

    fixed = [rows[0], rows[1]]
    r = upload(client, h, xlsx(fixed))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["created"]) == ["110108-CGW", "110108-JD01"]


def test_an_import_refuses_what_is_not_a_department_list(client):
    h = login(client)
    r = upload(client, h, b"not a workbook")
    assert r.status_code == 422 and r.json()["code"] == "bad_file"
    r = upload(client, h, xlsx([["X1", "x"]], ["编码", "部门名称", "备注"]))
    assert r.status_code == 422 and r.json()["code"] == "bad_headers"
    assert "部门编码" in r.json()["detail"] and "备注" in r.json()["detail"]
    h = login(client, "jdadmin")
    r = upload(client, h, xlsx([["110105-X", "x"]]), county="110105")
    assert r.status_code == 403


def test_the_console_page_lists_departments_and_offers_writes_to_managers_only(client):
    h = login(client)
    create(client, h, code="110108-CGW", name="区城管委", duty_phone="010-62550000")
    page = client.get("/console/departments", params={"county": "110108", "q": "城管"}).text
    assert 'data-code="110108-CGW"' in page and 'id="create-form"' in page
    assert 'data-code="110105-CGW"' not in page
    nav = '<a href="/console/departments" class="'
    assert nav in page
    assert "Department code" in client.get("/console/departments", params={"lang": "en"}).text
    login(client, "wangwu")
    page = client.get("/console/departments", params={"lang": "zh"}).text
    assert 'data-code="110108-CGW"' in page and 'id="create-form"' not in page
    assert nav not in page  # a managers' page: not in his navigation
