"""Business lines (9+X) over HTTP: seeded by `wangge init`, local lines, switched on and off,
and the case queues, the case list and reports following the line of a case's category."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.case_factories import ACCEPTOR, COUNTY, SUPERVISOR, person
from tests.lines_support import caller, line_world, report_body
from wangge.audit.models import AuditEntry
from wangge.cases.models import Category
from wangge.lines.models import BusinessLine
from wangge.lines.service import STANDARD_CODES
from wangge.setup import init_county

ADMIN = person(99, "admin")
STREET_ADMIN = person(98, "admin", scope={"110108001"})
NINE = {"governance", "urban", "safety", "labour", "market", "fire", "civil_affairs", "health",
        "environment"}  # fmt: skip


@pytest.fixture
def api(request, session, tmp_path):
    line_world(session)
    return caller(request, session, tmp_path)


def _line(api, code: str) -> dict:
    lines = api(ADMIN).get("/api/v1/business-lines", params={"county_code": COUNTY}).json()
    return next(x for x in lines if x["code"] == code)


def test_init_gives_a_new_county_the_nine_standard_lines_once(session):
    report = init_county(session, "320508", "姑苏区")
    assert report.extra["lines_added"] == 9 and report.county_added
    codes = set(
        session.scalars(select(BusinessLine.code).where(BusinessLine.county_code == "320508"))
    )
    assert codes == NINE == STANDARD_CODES and all(c.isascii() for c in codes)
    # every category with a line names one of the county's lines
    used = set(
        session.scalars(select(Category.business_line).where(Category.business_line.is_not(None)))
    )
    assert used and used <= codes
    again = init_county(session, "320508")
    assert again.extra["lines_added"] == 0 and again.extra["categories_given_a_line"] == 0


def test_the_lines_are_listed_with_their_categories_and_readers_need_no_admin_right(api):
    lines = api(SUPERVISOR).get("/api/v1/business-lines").json()
    assert {x["code"] for x in lines} == NINE
    urban = next(x for x in lines if x["code"] == "urban")
    assert urban["standard"] and urban["is_active"] and urban["categories"] >= 3
    one = api(SUPERVISOR).get(f"/api/v1/business-lines/{urban['id']}/categories").json()
    assert {"E0102", "C0101"} <= set(one)


def test_an_administrator_adds_a_local_line_with_its_categories_audited(api, session):
    body = {"county_code": COUNTY, "code": "school_safety", "name": "校园安全", "roles": ["supervisor"],
            "categories": ["S0102"]}  # fmt: skip
    r = api(ADMIN).post("/api/v1/business-lines", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["standard"] is False and r.json()["categories"] == 1
    assert session.get(Category, "S0102").business_line == "school_safety"
    assert "business_line" in session.get(Category, "S0102").edited
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "line.create"))
    dup = api(ADMIN).post("/api/v1/business-lines", json=body)
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_line"
    bad = api(ADMIN).post("/api/v1/business-lines", json={**body, "code": "校园"})
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    role = api(ADMIN).post(
        "/api/v1/business-lines", json={**body, "code": "x1", "roles": ["nobody"]}
    )
    assert role.status_code == 422 and role.json()["field"] == "roles"
    # a standard line cannot be deleted; a local one in use neither; unused, it can
    urban = _line(api, "urban")
    assert api(ADMIN).delete(f"/api/v1/business-lines/{urban['id']}").status_code == 409
    local = _line(api, "school_safety")
    assert api(ADMIN).delete(f"/api/v1/business-lines/{local['id']}").status_code == 409
    session.get(Category, "S0102").business_line = "governance"
    session.flush()
    assert api(ADMIN).delete(f"/api/v1/business-lines/{local['id']}").status_code == 204


def test_only_a_county_wide_administrator_changes_lines(api):
    urban = _line(api, "urban")
    for who in (SUPERVISOR, STREET_ADMIN):
        r = api(who).patch(f"/api/v1/business-lines/{urban['id']}", json={"is_active": False})
        assert r.status_code == 403, r.text
    assert _line(api, "urban")["is_active"] is True


def test_a_switched_off_line_leaves_the_queues_and_refuses_reports_naming_the_line(api, session):
    r = api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, "E0102"))
    assert r.status_code == 201, r.text
    api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, "S0101"))
    assert api(ACCEPTOR).get("/api/v1/cases/queues").json()["to_accept"]["count"] == 2

    urban = _line(api, "urban")
    r = api(ADMIN).patch(f"/api/v1/business-lines/{urban['id']}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "line.disable"))

    assert api(ACCEPTOR).get("/api/v1/cases/queues").json()["to_accept"]["count"] == 1
    queue = api(ACCEPTOR).get("/api/v1/cases", params={"queue": "to_accept"}).json()
    assert [c["category_code"] for c in queue["items"]] == ["S0101"]
    # the case itself is not gone: the plain list still finds it
    assert api(ACCEPTOR).get("/api/v1/cases").json()["total"] == 2

    refused = api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, "E0102"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "line_switched_off" and problem["field"] == "category_code"
    assert "城管" in problem["detail"] and "urban" in problem["detail_en"]

    api(ADMIN).patch(f"/api/v1/business-lines/{urban['id']}", json={"is_active": True})
    assert api(ACCEPTOR).get("/api/v1/cases/queues").json()["to_accept"]["count"] == 2


def test_queues_and_the_case_list_filter_by_line(api):
    for category in ("E0102", "C0101", "S0101"):
        r = api(SUPERVISOR).post("/api/v1/cases", json=report_body(api, SUPERVISOR, category))
        assert r.status_code == 201, r.text
    urban = api(ACCEPTOR).get("/api/v1/cases", params={"line": "urban"}).json()
    assert sorted(c["category_code"] for c in urban["items"]) == ["C0101", "E0102"]
    gov = api(ACCEPTOR).get("/api/v1/cases/queues", params={"line": "governance"}).json()
    assert gov["to_accept"]["count"] == 1
    none = api(ACCEPTOR).get("/api/v1/cases/queues", params={"line": "health"}).json()
    assert none["to_accept"]["count"] == 0
