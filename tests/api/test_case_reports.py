"""What a report may claim over HTTP: its source, its component, its fields; and its code's date.

Issue 14 (8, 10, 11, 19): a citizen could file a "patrol" report that skipped on-site
verification, any text passed as a component code, unknown fields vanished silently, and a
report at 07:00 Beijing time got the previous day's date in its code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api import test_cases_api
from tests.api.test_cases_api import ADMIN, new_case, step
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    GRID_LEADER,
    HANDLER,
    LAT,
    LON,
    SHIFT,
    SUPERVISOR,
    register_component,
)
from wangge.cases.views import get_now

api = test_cases_api.api  # the same fixture: a world, an app on the test's session, callers


def _refused(r, status: int, code: str, field: str, *, named: bool = True) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["field"] == field
    if named:  # the message itself names the field, in both languages
        assert field in body["detail"] and field in body["detail_en"]
    return body


def test_a_citizen_cannot_claim_a_patrol_report_and_so_skip_verification(api):
    body = {"category_code": "E0102", "description": "井盖缺失", "lon": LON, "lat": LAT}
    for source in ("patrol", "video", "department"):
        r = api(CITIZEN).post("/api/v1/cases", json={**body, "source": source})
        refused = _refused(r, 403, "source_not_allowed", "source")
        assert refused["details"]["allowed"] == ["hotline", "online"]
    assert api(CITIZEN).get("/api/v1/cases").json()["total"] == 0

    # Without a source a citizen's report is an online one, verified before it is filed.
    case = new_case(api, CITIZEN)
    assert case["source"] == "online"
    case = step(api, ACCEPTOR, case, "accept")
    r = api(SHIFT).post(
        f"/api/v1/cases/{case['id']}/actions/file", json={"expected_version": case["version"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "verification_required"


@pytest.mark.parametrize(
    ("who", "source", "allowed"),
    [
        (SUPERVISOR, None, "patrol"),  # his usual channel
        (SUPERVISOR, "video", "video"),
        (SUPERVISOR, "hotline", "hotline"),  # public channels are open to every reporter
        (GRID_LEADER, "patrol", "patrol"),
        (ACCEPTOR, None, "hotline"),
        (ACCEPTOR, "online", "online"),
        (ACCEPTOR, "patrol", None),
        (ACCEPTOR, "video", None),
        (HANDLER, None, "department"),
        (HANDLER, "patrol", None),
        (CITIZEN, "hotline", "hotline"),
    ],
)
def test_each_post_reports_only_through_its_own_channels(api, who, source, allowed):
    body = {"category_code": "E0102", "description": "路灯不亮", "lon": LON, "lat": LAT}
    if source is not None:
        body["source"] = source
    r = api(who).post("/api/v1/cases", json=body)
    if allowed is None:
        _refused(r, 403, "source_not_allowed", "source")
    else:
        assert r.status_code == 201, r.text
        assert r.json()["source"] == allowed


def test_a_component_code_must_be_well_formed_and_registered_in_the_county(api, session):
    body = {"category_code": "C0101", "description": "井盖破损", "lon": LON, "lat": LAT}
    r = api(SUPERVISOR).post("/api/v1/cases", json={**body, "component_code": "NOT-A-CODE"})
    assert "'N'" in _refused(r, 422, "bad_component_code", "component_code", named=False)["detail"]
    # Well formed, but no such component here: the case could not reach the owner.
    for unknown in ("1101080101999999", "3205080101000001"):
        r = api(SUPERVISOR).post("/api/v1/cases", json={**body, "component_code": unknown})
        refused = _refused(r, 422, "unknown_component", "component_code", named=False)
        assert unknown in refused["detail"] and unknown in refused["detail_en"]
    assert api(SUPERVISOR).get("/api/v1/cases").json()["total"] == 0

    code = register_component(session)
    case = new_case(api, category_code="C0101", component_code=code)
    assert case["component_code"] == code


def test_an_unknown_field_is_refused_and_named_in_both_languages(api):
    body = {"category_code": "E0102", "description": "噪声扰民", "lon": LON, "lat": LAT}
    r = api(ACCEPTOR).post("/api/v1/cases", json={**body, "caller_name": "张三"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert "caller_name" in problem["detail"] and "未知字段" in problem["detail"]
    assert "caller_name" in problem["detail_en"] and "unknown field" in problem["detail_en"]
    assert [e["field"] for e in problem["errors"]] == ["caller_name"]
    assert api(ACCEPTOR).get("/api/v1/cases").json()["total"] == 0


def test_the_case_code_carries_the_beijing_date_of_the_report(api):
    # 07:00 on 5 November in Beijing is still 4 November in UTC.
    api.client.app.dependency_overrides[get_now] = lambda: datetime(2026, 11, 4, 23, 0, tzinfo=UTC)
    case = new_case(api)
    assert case["code"][6:14] == "20261105"


# Issue 14 (17): configuration inputs that once made the server fail with 500.


@pytest.mark.parametrize("field", ["limits", "is_active", "urgent", "name"])
def test_a_category_field_that_must_hold_a_value_refuses_null(api, field):
    before = api(ADMIN).get("/api/v1/case-categories").json()
    r = api(ADMIN).patch("/api/v1/case-categories/E0103", json={field: None})
    _refused(r, 422, "null_not_allowed", field)
    assert api(ADMIN).get("/api/v1/case-categories").json() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"department_code": ""}, "department_code"),
        ({"department_code": "110108-NOPE"}, "department_code"),
        ({"department_code": "999999-CGW"}, "department_code"),  # another county's key
        ({"assisting": ["110108-NOPE"]}, "assisting"),
    ],
)
def test_a_routing_rule_must_name_departments_of_the_county(api, change, field):
    rule = {"county_code": "110108", "category_code": "E0102", "department_code": CGW, **change}
    r = api(ADMIN).put("/api/v1/case-routing-rules", json=rule)
    assert r.status_code == 422 and r.json()["code"] == "unknown_department", r.text
    assert r.json()["field"] == field
    rules = api(ADMIN).get("/api/v1/case-routing-rules", params={"county_code": "110108"})
    assert rules.json() == []
