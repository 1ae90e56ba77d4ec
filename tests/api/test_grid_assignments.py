"""Grid assignments (网格员配置) over HTTP: record, list, end; refusals; and what reads them:
"我的网格员", the grid worker's task list and the phone page's "my grids"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import ACCEPTOR, GRID1, LAT, LON, OTHER_LAT, OTHER_LON, SUPERVISOR, person
from tests.lines_support import TODAY, account, caller, line_world, report_body
from wangge.api.deps import get_principal
from wangge.audit.models import AuditEntry

ADMIN = person(99, "admin")
STREET2_ADMIN = person(97, "admin", scope={"110108002"})
GRID2 = "110108001001002"
FAR_GRID = "110108002001001"
START = str(TODAY - timedelta(days=30))


@pytest.fixture
def api(request, session, tmp_path):
    line_world(session)
    account(session, "wangwu", "supervisor", GRID1[:12], name="王五", phone="010-5555-0001")
    account(session, "zhaoliu", "grid_leader", GRID1[:12], name="赵六", phone="010-5555-0002")
    return caller(request, session, tmp_path)


def _add(api, who=ADMIN, **body):
    payload = {"username": "wangwu", "grid_code": GRID1, "kind": "full_time", "starts_on": START}
    return api(who).post("/api/v1/grid-assignments", json=payload | body)


def test_an_assignment_is_recorded_listed_and_ended_with_audit(api, session):
    r = _add(api)
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["grid_code"], a["layer"], a["kind"], a["kind_zh"]) == (
        GRID1, "social", "full_time", "专职网格员",
    )  # fmt: skip
    assert a["name"] == "王五" and a["in_force"] and a["county_code"] == "110108"
    assert _add(api, username="zhaoliu", kind="leader").status_code == 201
    assert _add(api, grid_code=GRID2, kind="part_time").status_code == 201

    by_grid = api(ADMIN).get("/api/v1/grid-assignments", params={"grid": GRID1}).json()
    assert sorted(x["username"] for x in by_grid) == ["wangwu", "zhaoliu"]
    by_user = api(ADMIN).get("/api/v1/grid-assignments", params={"user_id": a["user_id"]}).json()
    assert sorted(x["grid_code"] for x in by_user) == [GRID1, GRID2]
    county = api(ADMIN).get("/api/v1/grid-assignments", params={"county": "110108"}).json()
    assert len(county) == 3

    r = api(ADMIN).post(
        f"/api/v1/grid-assignments/{a['id']}/actions/end",
        json={"ends_on": str(TODAY - timedelta(days=1))},
    )
    assert r.status_code == 200 and r.json()["in_force"] is False
    today = api(ADMIN).get("/api/v1/grid-assignments", params={"on": str(TODAY)}).json()
    assert {(x["username"], x["grid_code"]) for x in today} == {
        ("zhaoliu", GRID1),
        ("wangwu", GRID2),
    }
    before = api(ADMIN).get(
        "/api/v1/grid-assignments", params={"on": str(TODAY - timedelta(days=2))}
    )
    assert len(before.json()) == 3
    actions = set(
        session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "grid_assignment")
        )
    )
    assert actions == {"assignment.create", "assignment.end"}


def test_refusals_name_the_field(api):
    r = _add(api, grid_code="110108001001099")
    assert (
        r.status_code == 422
        and r.json()["code"] == "unknown_grid"
        and r.json()["field"] == "grid_code"
    )
    # a social grid's code is not a unit grid (no active unit layer in this world)
    r = _add(api, layer="unit")
    assert r.status_code == 422 and r.json()["field"] == "grid_code"
    r = _add(api, ends_on=str(TODAY - timedelta(days=40)))
    assert r.status_code == 422 and r.json()["field"] == "ends_on"
    assert "ends_on" in r.json()["detail"] and "ends_on" in r.json()["detail_en"]
    r = _add(api, kind="volunteer")
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = _add(api, username="nobody")
    assert r.status_code == 422 and r.json()["field"] == "user_id"

    assert _add(api).status_code == 201
    dup = _add(api, starts_on=str(TODAY))
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_assignment"
    # another kind on the same grid, or the same kind on another grid, is not a duplicate
    assert _add(api, kind="leader").status_code == 201
    assert _add(api, grid_code=GRID2).status_code == 201


def test_an_end_before_the_start_and_a_second_end_later_are_refused(api):
    a = _add(api).json()
    end = f"/api/v1/grid-assignments/{a['id']}/actions/end"
    r = api(ADMIN).post(end, json={"ends_on": str(TODAY - timedelta(days=31))})
    assert r.status_code == 422 and r.json()["code"] == "ends_before_start"
    assert api(ADMIN).post(end, json={"ends_on": str(TODAY)}).status_code == 200
    r = api(ADMIN).post(end, json={"ends_on": str(TODAY + timedelta(days=5))})
    assert r.status_code == 409 and r.json()["code"] == "already_ended"
    # ended, the same person may serve the same grid again afterwards
    assert _add(api, starts_on=str(TODAY + timedelta(days=1))).status_code == 201


def test_a_scoped_administrator_sees_and_assigns_only_inside_his_area(api):
    assert _add(api).status_code == 201
    assert api(STREET2_ADMIN).get("/api/v1/grid-assignments").json() == []
    r = _add(api, who=STREET2_ADMIN, grid_code=GRID2)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert _add(api, who=STREET2_ADMIN, grid_code=FAR_GRID).status_code == 201
    assert [x["grid_code"] for x in api(STREET2_ADMIN).get("/api/v1/grid-assignments").json()] == [
        FAR_GRID
    ]
    mine = api(ADMIN).get("/api/v1/grid-assignments", params={"grid": GRID1}).json()[0]
    end = api(STREET2_ADMIN).post(
        f"/api/v1/grid-assignments/{mine['id']}/actions/end", json={"ends_on": str(TODAY)}
    )
    assert end.status_code == 404
    assert _add(api, who=SUPERVISOR, grid_code=GRID2).status_code == 403


def test_my_grid_shows_the_people_assigned_today_and_falls_back_to_posts(api):
    client = api(ADMIN)
    client.app.dependency_overrides.pop(get_principal)  # the public route, anonymous
    url = f"/web/api/public/my-grid?lon={LON}&lat={LAT}&crs=EPSG:4490"
    body = client.get(url).json()
    assert body["source"] == "posts"  # no assignment yet: the posts on the community
    assert sorted(w["name"] for w in body["workers"]) == ["王五", "赵六"]

    holder = api.holder
    client.app.dependency_overrides[get_principal] = lambda: holder["who"]
    assert _add(api, username="zhaoliu", kind="leader").status_code == 201
    gone = _add(
        api, starts_on=str(TODAY - timedelta(days=60)), ends_on=str(TODAY - timedelta(days=1))
    )
    assert gone.status_code == 201
    client.app.dependency_overrides.pop(get_principal)
    body = client.get(url).json()
    assert body["source"] == "assignments"
    assert body["workers"] == [
        {"name": "赵六", "phone": "010-5555-0002", "post": "网格长", "post_en": "grid leader"}
    ]
    # another grid of the community, without assignments, still shows the posts
    other = client.get(f"/web/api/public/my-grid?lon={LON + 0.005}&lat={LAT}&crs=EPSG:4490").json()
    assert other["grid"]["code"] != GRID1 and other["source"] == "posts"
    client.app.dependency_overrides[get_principal] = lambda: holder["who"]


def test_the_task_list_holds_the_cases_of_the_assigned_grids(api, session):
    worker = account(session, "sunqi", "supervisor", "110108", name="孙七")
    for lon, lat in ((LON, LAT), (OTHER_LON, OTHER_LAT)):
        body = report_body(api, ACCEPTOR, "E0102", lon=lon, lat=lat, source="hotline")
        assert api(ACCEPTOR).post("/api/v1/cases", json=body).status_code == 201
    everything = api(worker).get("/api/v1/cases").json()
    assert everything["total"] == 2
    # no assignment: "assigned" means nothing to do
    assert api(worker).get("/api/v1/cases", params={"assigned": "true"}).json()["total"] == 0
    assert _add(api, username="sunqi").status_code == 201
    mine = api(worker).get("/api/v1/cases", params={"assigned": "true"}).json()
    assert mine["total"] == 1 and mine["items"][0]["lon"] == pytest.approx(LON, abs=1e-6)
    assert [a["grid_code"] for a in api(worker).get("/api/v1/grid-assignments/mine").json()] == [
        GRID1
    ]
    queues = api(ACCEPTOR).get("/api/v1/cases/queues").json()
    assert queues["to_accept"]["count"] == 2
    assert api(worker).get("/api/v1/cases/queues", params={"assigned": "true"}).status_code == 200


def test_the_console_page_lists_the_assignments_for_administrators_only(api):
    from wangge.web.views import page_principal

    assert _add(api).status_code == 201
    client = api(ADMIN)
    client.app.dependency_overrides[page_principal] = lambda: api.holder["who"]
    page = client.get("/console/users/assignments")
    assert page.status_code == 200 and GRID1 in page.text and "王五" in page.text
    assert "专职网格员" in page.text and 'id="assign-form"' in page.text
    assert "网格员配置" in api(ADMIN).get("/console/users").text  # the tab on the users page
    other = api(STREET2_ADMIN).get("/console/users/assignments")
    assert other.status_code == 200 and GRID1 not in other.text
    refused = api(SUPERVISOR).get("/console/users/assignments")
    assert 'id="assign-form"' not in refused.text
