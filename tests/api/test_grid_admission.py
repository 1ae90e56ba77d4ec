"""准入清单 and 小事清单 over HTTP: what a grid worker may report as grid work, and what the grid
may settle itself; every refusal names the rule that refused it, in Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.case_factories import ACCEPTOR, GRID1, GRID_LEADER, SUPERVISOR, person
from tests.lines_support import TODAY, account, caller, line_world, photo, report_body
from wangge.cases.models import Category

ADMIN = person(99, "admin")
# (admitted to grid work 准入清单, minor 小事清单), set here whatever the catalogue says
FLAGS = {"E0102": (True, True), "E0103": (True, False), "C0101": (False, False)}


@pytest.fixture
def world(session):
    line_world(session)
    for code, (admitted, minor) in FLAGS.items():
        category = session.get(Category, code)
        category.admitted_to_grid, category.minor = admitted, minor
    session.flush()
    return session


def _grid_worker(api, session, username: str = "wangwu"):
    """A 监督员/网格员 post on the community, serving GRID1 as a full-time grid worker."""
    worker = account(session, username, "supervisor", GRID1[:12], name="王五")
    r = api(ADMIN).post(
        "/api/v1/grid-assignments",
        json={"username": username, "grid_code": GRID1, "kind": "full_time",
              "starts_on": str(TODAY - timedelta(days=10))},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return worker


def _names_the_rule(problem: dict, rule: str) -> None:
    assert rule in problem["detail"] and rule in problem["detail_en"], problem
    assert problem["details"]["rule"] == rule


def test_a_grid_workers_patrol_report_outside_the_admission_list_is_refused(
    request, world, tmp_path
):
    api = caller(request, world, tmp_path)
    worker = _grid_worker(api, world)
    r = api(worker).post("/api/v1/cases", json=report_body(api, worker, "C0101"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "not_admitted_to_grid" and problem["field"] == "category_code"
    _names_the_rule(problem, "准入清单")
    assert "C0101" in problem["detail"]
    # an admitted class is grid work; another channel (video) is not grid work
    assert (
        api(worker).post("/api/v1/cases", json=report_body(api, worker, "E0102")).status_code == 201
    )
    video = report_body(api, worker, "C0101", source="video")
    assert api(worker).post("/api/v1/cases", json=video).status_code == 201
    # a supervisor serving no social grid (a 数字城管 监督员) reports the whole catalogue
    assert (
        api(SUPERVISOR)
        .post("/api/v1/cases", json=report_body(api, SUPERVISOR, "C0101"))
        .status_code
        == 201
    )


def test_an_assignment_not_yet_in_force_does_not_make_a_grid_worker(request, world, tmp_path):
    api = caller(request, world, tmp_path)
    later = account(world, "later", "supervisor", GRID1[:12])
    r = api(ADMIN).post(
        "/api/v1/grid-assignments",
        json={"username": "later", "grid_code": GRID1, "kind": "part_time",
              "starts_on": str(TODAY + timedelta(days=3))},
    )  # fmt: skip
    assert r.status_code == 201
    assert (
        api(later).post("/api/v1/cases", json=report_body(api, later, "C0101")).status_code == 201
    )


def test_to_centre_takes_the_report_as_a_centre_matter_that_the_grid_cannot_settle(
    request, world, tmp_path
):
    api = caller(request, world, tmp_path, non_admitted_grid_reports="to_centre")
    worker = _grid_worker(api, world)
    r = api(worker).post("/api/v1/cases", json=report_body(api, worker, "C0101"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["source"] == "patrol" and case["state"] == "reported"
    detail = api(ACCEPTOR).get(f"/api/v1/cases/{case['id']}").json()
    assert detail["timeline"][0]["payload"]["grid_work"] is False
    assert detail["timeline"][0]["payload"]["rule"] == "准入清单"
    assert "accept" in detail["allowed_actions"]  # 受理 as usual
    # the grid leader may not settle it himself: not grid work
    mine = api(GRID_LEADER).get(f"/api/v1/cases/{case['id']}").json()
    assert "self_handle" not in mine["allowed_actions"]
    r = api(GRID_LEADER).post(
        f"/api/v1/cases/{case['id']}/actions/self_handle",
        json={"expected_version": case["version"], "photos": [photo(api, GRID_LEADER)]},
    )
    assert r.status_code == 403 and r.json()["code"] == "not_admitted_to_grid"
    _names_the_rule(r.json(), "准入清单")


def test_only_a_minor_class_may_be_settled_by_the_grid_itself(request, world, tmp_path):
    api = caller(request, world, tmp_path)
    big = api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, "E0103")).json()
    detail = api(GRID_LEADER).get(f"/api/v1/cases/{big['id']}").json()
    assert "self_handle" not in detail["allowed_actions"]
    r = api(GRID_LEADER).post(
        f"/api/v1/cases/{big['id']}/actions/self_handle",
        json={"expected_version": big["version"], "photos": [photo(api, GRID_LEADER)]},
    )
    assert r.status_code == 403 and r.json()["code"] == "not_minor"
    _names_the_rule(r.json(), "小事清单")
    assert "E0103" in r.json()["detail"]

    small = api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, "E0102")).json()
    assert (
        "self_handle"
        in api(GRID_LEADER).get(f"/api/v1/cases/{small['id']}").json()["allowed_actions"]
    )
    r = api(GRID_LEADER).post(
        f"/api/v1/cases/{small['id']}/actions/self_handle",
        json={"expected_version": small["version"], "photos": [photo(api, GRID_LEADER)]},
    )
    assert r.status_code == 200 and r.json()["state"] == "handled"
