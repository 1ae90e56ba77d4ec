"""Categories and routing as managed data over HTTP (issue 13).

A district adds local categories (X…), edits standard ones (the changed fields are marked as
its own), and routes each class by area (community > street > area class > anywhere) and
business line; a registered component goes to its owner department; a class with no route
answers `no_route` in plain words instead of failing.
"""

from __future__ import annotations

import pytest

from tests.api import test_cases_api
from tests.api.test_cases_api import ADMIN, new_case, step
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    COUNTY,
    DISPATCHER,
    SHIFT,
    SZSR,
    YLLH,
    person,
    register_component,
)
from wangge.cases.categories import department_code
from wangge.cases.models import Category
from wangge.cases.routing import route
from wangge.departments.models import Department

api = test_cases_api.api  # a world, an app on the test's session, callers
HBJ, JTW, ZJW = (department_code(COUNTY, k) for k in ("HBJ", "JTW", "ZJW"))
COMMUNITY, STREET = "110108001001", "110108001"  # where new_case reports
SCOPED_ADMIN = person(98, "admin", scope={COUNTY})
LOCAL = {
    "code": "X0101",
    "kind": "event",
    "name": "共享单车乱停放",
    "major_name": "街面秩序",
    "limits": {"handle": {"A": 4, "B": 8, "C": 12}},
    "admitted_to_grid": True,
    "minor": True,
    "default_department": "CGW",
    "business_line": "urban",
}


@pytest.fixture
def lines(session):
    from wangge.lines.service import seed_lines

    seed_lines(session, COUNTY)
    session.flush()


def _refused(r, status: int, code: str, field: str | None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body.get("field") == field, body
    assert body["detail"] and body["detail_en"] and body["detail"] != body["detail_en"]
    return body


def _filed(api, **extra) -> dict:
    case = new_case(api, **extra)
    return step(api, SHIFT, step(api, ACCEPTOR, case, "accept"), "file")


def _lead(api, case) -> str:
    parts = api(DISPATCHER).get(f"/api/v1/cases/{case['id']}").json()["parts"]
    return next(p["department_code"] for p in parts if p["lead"])


def _rule(api, who=ADMIN, **rule):
    body = {"county_code": COUNTY, "category_code": "E0102", **rule}
    return api(who).put("/api/v1/case-routing-rules", json=body)


def test_an_admin_adds_a_local_category_that_takes_and_routes_cases(api, lines):
    assert api(DISPATCHER).post("/api/v1/case-categories", json=LOCAL).status_code == 403
    r = api(ADMIN).post("/api/v1/case-categories", json=LOCAL)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["origin"] == "local" and made["release"] is None and made["major_code"] == "X01"
    assert made["limits"]["handle"]["B"] == 8 and made["admitted_to_grid"] and made["minor"]
    admitted = api(ADMIN).get("/api/v1/case-categories", params={"admitted": True}).json()
    assert "X0101" in {c["code"] for c in admitted}
    case = _filed(api, category_code="X0101")
    step(api, DISPATCHER, case, "dispatch")  # no department named: the default key routes it
    assert _lead(api, case) == CGW


def test_an_edit_marks_the_changed_fields_as_the_districts_own(api, lines):
    change = {"name": "暴露垃圾（本区）", "admitted_to_grid": False, "urgent": False}
    r = api(ADMIN).patch("/api/v1/case-categories/E0102", json=change)
    assert r.status_code == 200, r.text
    # urgent was already false: resending a value is not an edit.
    assert r.json()["edited"] == ["admitted_to_grid", "name"]
    r = api(ADMIN).patch("/api/v1/case-categories/E0102", json={"business_line": "governance"})
    assert r.json()["edited"] == ["admitted_to_grid", "business_line", "name"]


def test_a_deactivated_category_leaves_the_lists_but_its_old_cases_still_dispatch(api, lines):
    case = _filed(api)
    r = api(ADMIN).patch("/api/v1/case-categories/E0102", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert "E0102" not in {c["code"] for c in api(ADMIN).get("/api/v1/case-categories").json()}
    inactive = api(ADMIN).get("/api/v1/case-categories", params={"active": "false"}).json()
    assert [c["code"] for c in inactive] == ["E0102"]
    r = api(ACCEPTOR).post("/api/v1/cases", json={"category_code": "E0102", "description": "x",
                                                   "lon": case["lon"], "lat": case["lat"]})  # fmt: skip
    assert r.status_code == 404
    step(api, DISPATCHER, case, "dispatch")
    assert _lead(api, case) == CGW


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"code": "Y0101"}, 422, "bad_category_code", "code"),
        ({"code": "X1"}, 422, "bad_category_code", "code"),
        ({"code": "E0102"}, 422, "bad_category_code", "code"),  # standard codes are not local
        ({"kind": "thing"}, 422, "validation_failed", "kind"),
        ({"limits": {"handle": {"D": 4}}}, 422, "bad_time_limits", "limits"),
        ({"limits": {"nap": {"A": 4}}}, 422, "bad_time_limits", "limits"),
        ({"limits": {"handle": {"A": -1}}}, 422, "bad_time_limits", "limits"),
        ({"default_department": "NOPE"}, 422, "unknown_department", "default_department"),
        ({"business_line": "nope"}, 422, "unknown_business_line", "business_line"),
        ({"major_code": "X77", "major_name": None}, 422, "validation_failed", "major_name"),
    ],
)
def test_bad_category_input_is_refused_naming_the_field(api, lines, change, status, code, field):
    body = {k: v for k, v in {**LOCAL, **change}.items() if v is not None}
    _refused(api(ADMIN).post("/api/v1/case-categories", json=body), status, code, field)
    assert api(ADMIN).get("/api/v1/case-categories", params={"origin": "local"}).json() == []


def test_a_second_local_category_with_the_same_code_or_an_unknown_field_is_refused(api, lines):
    assert api(ADMIN).post("/api/v1/case-categories", json=LOCAL).status_code == 201
    _refused(api(ADMIN).post("/api/v1/case-categories", json=LOCAL), 409, "conflict", "code")
    r = api(ADMIN).post("/api/v1/case-categories", json={**LOCAL, "code": "X0102", "colour": 1})
    assert r.status_code == 422 and "colour" in r.json()["detail_en"]
    r = api(ADMIN).patch("/api/v1/case-categories/E0102", json={"origin": "local"})
    assert r.status_code == 422 and "origin" in r.json()["detail_en"]


def test_only_a_whole_territory_admin_edits_the_shared_categories(api, lines):
    r = api(SCOPED_ADMIN).patch("/api/v1/case-categories/E0102", json={"name": "本区暴露垃圾"})
    _refused(r, 403, "whole_territory_required", None)
    # Routing is per county: the county's administrator sets it.
    assert _rule(api, SCOPED_ADMIN, department_code=SZSR).status_code == 200
    for scope in ("110109", STREET):  # another county; a street sets no county-wide rules
        other = person(97, "admin", scope={scope})
        _refused(_rule(api, other, department_code=SZSR), 403, "out_of_scope", "county_code")
    _refused(_rule(api, DISPATCHER, department_code=SZSR), 403, "forbidden", None)


def test_the_most_specific_rule_routes_community_street_area_class_then_anywhere(
    api, session, lines
):
    for extra, dept in (
        ({}, HBJ),
        ({"area_class": "B"}, JTW),
        ({"area_prefix": STREET}, YLLH),
        ({"area_prefix": COMMUNITY}, ZJW),
    ):
        assert _rule(api, department_code=dept, **extra).status_code == 200
    rules = (
        api(ADMIN)
        .get("/api/v1/case-routing-rules", params={"county_code": COUNTY, "category_code": "E0102"})
        .json()
    )
    assert [r["department_code"] for r in rules] == [ZJW, YLLH, JTW, HBJ]  # most specific first
    category = session.get(Category, "E0102")

    def lead(area: str, community: str | None) -> str | None:
        return route(session, COUNTY, category, area, community_code=community)[0]

    assert lead("B", COMMUNITY) == ZJW
    assert lead("B", "110108001002") == YLLH  # same street, another community
    assert lead("B", "110108002001") == JTW  # another street: the area class
    assert lead("A", "110108002001") == HBJ  # nothing more specific: anywhere
    case = _filed(api)
    step(api, DISPATCHER, case, "dispatch")
    assert _lead(api, case) == ZJW
    community_rule = next(r for r in rules if r["area_prefix"] == COMMUNITY)
    r = api(ADMIN).delete(f"/api/v1/case-routing-rules/{community_rule['id']}")
    assert r.status_code == 204
    assert lead("B", COMMUNITY) == YLLH


def test_a_rule_of_the_cases_business_line_beats_one_for_any_line(api, session, lines):
    assert session.get(Category, "E0102").business_line == "urban"
    assert _rule(api, department_code=HBJ).status_code == 200
    assert _rule(api, department_code=SZSR, business_line="governance").status_code == 200
    category = session.get(Category, "E0102")
    assert route(session, COUNTY, category, "B", community_code=COMMUNITY)[0] == HBJ
    assert _rule(api, department_code=JTW, business_line="urban").status_code == 200
    assert route(session, COUNTY, category, "B", community_code=COMMUNITY)[0] == JTW
    # An area beats a line: the street rule for any line wins over the county's line rule.
    assert _rule(api, department_code=YLLH, area_prefix=STREET).status_code == 200
    assert route(session, COUNTY, category, "B", community_code=COMMUNITY)[0] == YLLH


def test_saving_the_same_rule_again_replaces_it(api, lines):
    first = _rule(api, department_code=HBJ, area_prefix=STREET).json()
    again = _rule(api, department_code=JTW, area_prefix=STREET, assisting=[HBJ]).json()
    assert again["id"] == first["id"] and again["assisting"] == [HBJ]
    rules = api(ADMIN).get("/api/v1/case-routing-rules", params={"county_code": COUNTY}).json()
    assert [(r["department_code"], r["area_prefix"]) for r in rules] == [(JTW, STREET)]


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"area_prefix": "110108009"}, "bad_area_prefix", "area_prefix"),  # no such street
        ({"area_prefix": "110109001"}, "bad_area_prefix", "area_prefix"),  # another county
        ({"area_prefix": STREET, "area_class": "A"}, "two_areas", "area_prefix"),
        ({"business_line": "nope"}, "unknown_business_line", "business_line"),
        ({"assisting": [HBJ, CGW]}, "duplicate_department", "assisting"),
        ({"category_code": "X9999"}, "not_found", "category_code"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(api, lines, extra, code, field):
    body = {"department_code": CGW, **extra}
    r = _rule(api, **body)
    _refused(r, 404 if code == "not_found" else 422, code, field)
    assert api(ADMIN).get("/api/v1/case-routing-rules", params={"county_code": COUNTY}).json() == []


def test_a_rule_pointing_at_a_deactivated_department_is_refused(api, session, lines):
    session.get(Department, HBJ).is_active = False
    session.flush()
    r = _rule(api, department_code=HBJ)
    _refused(r, 422, "unknown_department", "department_code")
    r = _rule(api, department_code=CGW, assisting=[HBJ])
    _refused(r, 422, "unknown_department", "assisting")


def test_a_case_about_a_registered_component_goes_to_its_owner_department(api, session, lines):
    code = register_component(session)
    found = api(ADMIN).get("/api/v1/registry/components", params={"code": code}).json()
    component_id = found["items"][0]["id"]
    patch = f"/api/v1/registry/components/{component_id}"
    r = api(ADMIN).patch(patch, json={"owner_department_code": "110108-NOPE"})
    _refused(r, 422, "unknown_department", "owner_department_code")
    r = api(ADMIN).patch(patch, json={"owner_department_code": SZSR})
    assert r.status_code == 200 and r.json()["owner_department_code"] == SZSR
    assert _rule(api, category_code="C0101", department_code=HBJ).status_code == 200
    about = _filed(api, category_code="C0101", component_code=code)
    other = _filed(api, category_code="C0101")
    step(api, DISPATCHER, about, "dispatch")
    step(api, DISPATCHER, other, "dispatch")
    assert (_lead(api, about), _lead(api, other)) == (SZSR, HBJ)


def test_a_class_with_no_route_asks_the_dispatcher_to_choose_in_plain_words(api, lines):
    body = {**LOCAL, "code": "X0201"}
    del body["default_department"]
    assert api(ADMIN).post("/api/v1/case-categories", json=body).status_code == 201
    case = _filed(api, category_code="X0201")
    r = api(DISPATCHER).post(
        f"/api/v1/cases/{case['id']}/actions/dispatch", json={"expected_version": case["version"]}
    )
    refused = _refused(r, 422, "no_route", "department")
    assert "类别 X0201" in refused["detail"] and "没有处置部门" in refused["detail"]
    assert "choose a department" in refused["detail_en"]
    step(api, DISPATCHER, case, "dispatch", payload={"department": YLLH})
    assert _lead(api, case) == YLLH


def test_a_default_key_with_no_department_in_the_county_is_no_route_not_an_error(
    api, session, lines
):
    session.get(Department, CGW).is_active = False  # E0102's default is CGW
    session.flush()
    case = _filed(api)
    r = api(DISPATCHER).post(
        f"/api/v1/cases/{case['id']}/actions/dispatch", json={"expected_version": case["version"]}
    )
    _refused(r, 422, "no_route", "department")
