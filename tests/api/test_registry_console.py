"""The registry console pages over HTTP, and the API pieces they added (rooms list, component search)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api_support import serve_session
from tests.registry_factories import CENTER, A, B, centre_of, id_number, setup_grids
from wangge.auth import service
from wangge.common.masking import mask_id_number
from wangge.config import Settings
from wangge.main import create_app
from wangge.registry import components, houses, people

PASSWORD = "Grid-Worker-2026"
ADMIN_PASSWORD = "Center-Pass-2026"
MINE = id_number("11010819850307123")
THEIRS = id_number("11010819790512456")


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
    handler = service.create_user(session, username="bumen", password=PASSWORD, display_name="部门")
    service.assign_post(session, handler, "department")
    for community, name, number in ((A, "3号楼", "301"), (B, "5号楼", "501")):
        lon, lat = centre_of(community)
        building = houses.save_building(
            session, CENTER, {"name": name, "community_code": community, "lon": lon, "lat": lat}
        )
        houses.save_room(
            session, CENTER,
            {"building_id": building.id, "number": number, "use": "出租",
             "landlord_name": "房东" + number, "landlord_phone": "13912345678"},
        )  # fmt: skip
    people.save_person(
        session,
        CENTER,
        {"name": "张三", "id_number": MINE, "phone": "13812345678", "community_code": A},
    )
    people.save_person(session, CENTER, {"name": "李四", "id_number": THEIRS, "community_code": B})
    lon, lat = centre_of(A)
    for class_code, name in (("0101", "东门上水井盖"), ("0201", "东门公交站")):
        components.save_component(
            session, CENTER, {"class_code": class_code, "name": name, "lon": lon, "lat": lat},
            county_code="110108",
        )  # fmt: skip
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False))
    serve_session(app, session)
    with TestClient(app) as c:
        yield c


def _login(client: TestClient, username: str = "wangwu", password: str = PASSWORD) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _person_id(client: TestClient, name: str) -> int:
    return client.get("/api/v1/registry/people", params={"q": name}).json()["items"][0]["id"]


# ------------------------------------------------------------------ API additions


def test_rooms_are_listed_in_pages_with_landlord_phones_masked(client):
    _login(client, "admin", ADMIN_PASSWORD)
    page = client.get("/api/v1/registry/rooms", params={"limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["landlord_phone"] == "139****5678"
    second = client.get("/api/v1/registry/rooms", params={"limit": 1, "offset": 1}).json()
    assert second["items"][0]["id"] != page["items"][0]["id"]
    assert "13912345678" not in client.get("/api/v1/registry/rooms").text
    by_building = client.get("/api/v1/registry/rooms", params={"q": "5号楼"}).json()
    assert [r["number"] for r in by_building["items"]] == ["501"]
    by_use = client.get("/api/v1/registry/rooms", params={"use": "vacant"}).json()
    assert by_use["total"] == 0


def test_a_community_worker_lists_only_the_rooms_of_his_community(client):
    _login(client)
    numbers = [r["number"] for r in client.get("/api/v1/registry/rooms").json()["items"]]
    assert numbers == ["301"]
    assert client.get("/api/v1/registry/rooms", params={"q": "501"}).json()["total"] == 0


def test_a_room_detail_names_its_building_and_is_a_404_outside_the_area(client):
    _login(client, "admin", ADMIN_PASSWORD)
    rooms = {r["number"]: r["id"] for r in client.get("/api/v1/registry/rooms").json()["items"]}
    room = client.get(f"/api/v1/registry/rooms/{rooms['301']}").json()
    assert room["building_name"] == "3号楼" and room["landlord_phone"] == "139****5678"
    _login(client)
    assert client.get(f"/api/v1/registry/rooms/{rooms['301']}").status_code == 200
    assert client.get(f"/api/v1/registry/rooms/{rooms['501']}").status_code == 404


def test_components_are_searched_by_code_prefix_or_name_and_the_export_follows(client):
    _login(client, "admin", ADMIN_PASSWORD)
    by_code = client.get("/api/v1/registry/components", params={"q": "11010801"}).json()
    assert [c["code"] for c in by_code["items"]] == ["1101080101000001"]
    by_name = client.get("/api/v1/registry/components", params={"q": "公交"}).json()
    assert [c["class_code"] for c in by_name["items"]] == ["0201"]
    assert client.get("/api/v1/registry/components", params={"q": "东门"}).json()["total"] == 2
    export = client.get("/api/v1/registry/components/export", params={"q": "公交"})
    rows = list(load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(values_only=True))
    assert [r[3] for r in rows[1:]] == ["东门公交站"]


# ------------------------------------------------------------------------- pages


def test_the_people_page_shows_masked_numbers_of_the_workers_community_only(client):
    _login(client)
    page = client.get("/console/registry/people")
    assert page.status_code == 200 and 'href="/console/registry"' in page.text
    assert mask_id_number(MINE) in page.text and "138****5678" in page.text
    assert MINE not in page.text and "13812345678" not in page.text
    assert "张三" in page.text and "李四" not in page.text
    assert "李四" not in _search_page(client, "people", THEIRS).text


def _search_page(client: TestClient, kind: str, q: str, **filters: str):
    """The list page as the search box asks for it: the text in a POST body with CSRF."""
    csrf = client.get("/api/v1/auth/me").json()["csrf_token"]
    return client.post(
        f"/console/registry/{kind}/search", json={"q": q, **filters},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip


def test_the_people_page_finds_an_id_number_sent_in_a_body_and_refuses_it_in_the_url(client):
    _login(client)
    refused = client.get("/console/registry/people", params={"q": MINE})
    assert refused.status_code == 422
    assert "不能放在网址里" in refused.text and "must not travel in a URL" in refused.text
    assert MINE not in refused.text
    found = _search_page(client, "people", MINE)
    assert found.status_code == 200 and MINE not in found.text
    assert "张三" in found.text and 'data-total="1"' in found.text
    # Links on the answer (address bar, pages, export) carry the filters, not the number.
    assert 'data-url="/console/registry/people"' in found.text
    assert 'id="export-link"' not in found.text and 'id="export-private"' in found.text
    by_phone = _search_page(client, "people", "138 1234 5678", residence_kind="registered")
    assert 'data-total="1"' in by_phone.text and "13812345678" not in by_phone.text
    assert 'data-url="/console/registry/people?residence_kind=registered"' in by_phone.text
    by_name = _search_page(client, "people", "张三")
    assert 'data-url="/console/registry/people?q=%E5%BC%A0%E4%B8%89"' in by_name.text
    assert 'id="export-link"' in by_name.text


def test_the_list_links_its_export_to_the_same_filters(client):
    _login(client)
    page = client.get("/console/registry/components", params={"q": "公交", "state": "完好"}).text
    assert 'href="/api/v1/registry/components/export?q=%E5%85%AC%E4%BA%A4&amp;state=' in page
    assert 'data-total="1"' in page and "东门公交站" in page and "东门上水井盖" not in page


def test_only_users_with_the_unmask_permission_are_offered_the_full_details(client):
    _login(client, "admin", ADMIN_PASSWORD)
    pid = _person_id(client, "张三")
    admin_page = client.get(f"/console/registry/people/{pid}").text
    assert 'id="unmask-open"' in admin_page and MINE not in admin_page
    _login(client)
    worker_page = client.get(f"/console/registry/people/{pid}").text
    assert "张三" in worker_page and 'id="unmask-open"' not in worker_page
    assert client.get(f"/api/v1/registry/people/{pid}/personal?reason=核实").status_code == 403


def test_a_record_outside_the_area_is_not_shown_on_its_page(client):
    _login(client, "admin", ADMIN_PASSWORD)
    theirs = _person_id(client, "李四")
    _login(client)
    page = client.get(f"/console/registry/people/{theirs}").text
    assert "李四" not in page and f"人员 {theirs} 不存在" in page


def test_the_detail_page_shows_the_history_with_personal_values_masked(client):
    headers = _login(client)
    pid = _person_id(client, "张三")
    r = client.patch(
        f"/api/v1/registry/people/{pid}", json={"phone": "13900001111"}, headers=headers
    )
    assert r.status_code == 200
    page = client.get(f"/console/registry/people/{pid}").text
    assert 'data-action="update"' in page and 'data-change="phone"' in page
    assert "139****1111" in page and "13900001111" not in page


def test_a_user_without_registry_read_has_no_registry_entry_or_list(client):
    _login(client, "bumen")
    assert 'href="/console/registry"' not in client.get("/console/cases").text
    page = client.get("/console/registry/people").text
    assert "没有查看基础数据的权限" in page and "张三" not in page


def test_every_tab_and_its_first_record_render(client):
    _login(client, "admin", ADMIN_PASSWORD)
    for kind in ("people", "buildings", "rooms", "components", "organisations"):
        page = client.get(f"/console/registry/{kind}")
        assert page.status_code == 200, kind
    room = client.get("/api/v1/registry/rooms", params={"q": "301"}).json()["items"][0]
    page = client.get(f"/console/registry/rooms/{room['id']}").text
    assert "3号楼" in page and "139****5678" in page
    assert 'id="residents"' in page and 'id="tenancies"' in page
