"""The case API per role: a case walked from report to close over HTTP, scopes and queues."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    DISPATCHER,
    FAR_SUPERVISOR,
    HANDLER,
    LAT,
    LEADER,
    LON,
    OTHER_HANDLER,
    OTHER_LAT,
    OTHER_LON,
    SHIFT,
    SUPERVISOR,
    T0,
    build_world,
    jpeg,
    person,
)
from wangge.api.deps import get_principal
from wangge.cases.views import get_now
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.main import create_app

ADMIN = person(99, "admin")


class As:
    """Switch the caller between requests."""

    def __init__(self, client: TestClient, holder: dict) -> None:
        self.client, self.holder = client, holder

    def __call__(self, principal):
        self.holder["who"] = principal
        return self.client


@pytest.fixture
def api(session, tmp_path) -> Iterator[As]:
    build_world(session)
    holder = {"who": SUPERVISOR}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(hours=1)
    with TestClient(app) as c:
        yield As(c, holder)


def upload(api, who) -> str:
    """Upload a photo as `who`; return the reference a report or an action carries."""
    r = api(who).post("/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 201, r.text
    return f"/api/v1/uploads/{r.json()['id']}"


def new_case(api, who=SUPERVISOR, lon=LON, lat=LAT, **extra):
    body = {
        "category_code": "E0102",
        "description": "暴露垃圾",
        "lon": lon,
        "lat": lat,
        "photos": [upload(api, who)],
        **extra,
    }
    r = api(who).post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def step(api, who, case, action, **body):
    r = api(who).post(
        f"/api/v1/cases/{case['id']}/actions/{action}",
        json={"expected_version": case["version"], **body},
    )
    assert r.status_code == 200, r.text
    return r.json()


def walk_to_dispatched(api, case):
    case = step(api, ACCEPTOR, case, "accept")
    case = step(api, SHIFT, case, "file")
    return step(api, DISPATCHER, case, "dispatch", payload={"department": CGW})


def test_a_case_walks_from_report_to_close_through_the_api(api):
    case = new_case(api)
    assert case["state"] == "reported" and case["code"] and case["light"] in ("green", "red")
    detail = api(ACCEPTOR).get(f"/api/v1/cases/{case['id']}").json()
    assert "accept" in detail["allowed_actions"] and "file" not in detail["allowed_actions"]
    case = walk_to_dispatched(api, case)
    case = step(api, HANDLER, case, "department_accept")
    after = upload(api, HANDLER)
    case = step(api, HANDLER, case, "feed_back", note="已清理", photos=[after])
    case = step(api, ACCEPTOR, case, "request_check")
    case = step(api, SUPERVISOR, case, "check_pass", photos=[upload(api, SUPERVISOR)])
    case = step(api, SHIFT, case, "close")
    assert case["state"] == "closed" and case["state_zh"] == "已结案"
    detail = api(SUPERVISOR).get(f"/api/v1/cases/{case['id']}").json()
    assert [e["action"] for e in detail["timeline"]] == [
        "report",
        "accept",
        "file",
        "dispatch",
        "department_accept",
        "feed_back",
        "request_check",
        "check_pass",
        "close",
    ]
    assert detail["timeline"][5]["attachments"] == [after]
    assert detail["timeline"][1]["action_zh"] == "受理"
    assert detail["parts"][0]["department_code"] == CGW


def test_a_refused_action_is_a_bilingual_problem(api):
    case = new_case(api)
    r = api(DISPATCHER).post(
        f"/api/v1/cases/{case['id']}/actions/accept", json={"expected_version": 1}
    )
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "role_not_allowed" and "受理员" in body["detail"]
    assert "roles" in body["detail_en"]


def test_a_stale_version_gets_409(api):
    case = new_case(api)
    step(api, ACCEPTOR, case, "accept")
    r = api(SHIFT).post(f"/api/v1/cases/{case['id']}/actions/file", json={"expected_version": 1})
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"


def test_a_department_handler_sees_only_cases_dispatched_to_him(api):
    mine = walk_to_dispatched(api, new_case(api))
    new_case(api)  # not dispatched
    listed = api(HANDLER).get("/api/v1/cases").json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert api(OTHER_HANDLER).get("/api/v1/cases").json()["total"] == 0
    assert api(OTHER_HANDLER).get(f"/api/v1/cases/{mine['id']}").status_code == 404
    detail = api(HANDLER).get(f"/api/v1/cases/{mine['id']}").json()
    assert detail["allowed_actions"] == ["department_accept", "return_dispatch"]


def test_a_supervisor_sees_only_his_grid_area(api):
    here = new_case(api, CITIZEN)
    there = new_case(api, CITIZEN, lon=OTHER_LON, lat=OTHER_LAT)
    assert {c["id"] for c in api(SUPERVISOR).get("/api/v1/cases").json()["items"]} == {here["id"]}
    far = api(FAR_SUPERVISOR).get("/api/v1/cases").json()["items"]
    assert {c["id"] for c in far} == {there["id"]}
    assert api(SUPERVISOR).get(f"/api/v1/cases/{there['id']}").status_code == 404


def test_a_citizen_sees_only_his_own_reports(api):
    mine = new_case(api, CITIZEN, source="online")
    new_case(api, SUPERVISOR)
    listed = api(CITIZEN).get("/api/v1/cases").json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]]


def test_queue_counts_follow_the_cases(api):
    a = new_case(api)
    new_case(api)
    step(api, ACCEPTOR, a, "accept")
    q = api(ACCEPTOR).get("/api/v1/cases/queues").json()
    assert q["to_accept"] == {"label": "待受理", "count": 1}
    assert "to_file" not in q and q["to_check"]["count"] == 0
    assert api(SHIFT).get("/api/v1/cases/queues").json()["to_file"]["count"] == 1
    assert api(LEADER).get("/api/v1/cases/queues").json() == {
        "overdue": {"label": "超期", "count": 0}
    }


def test_the_overdue_queue_and_filter_show_late_cases(api):
    new_case(api)
    api.holder["who"] = ACCEPTOR
    app = api.client.app
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(days=3)
    assert api(ACCEPTOR).get("/api/v1/cases/queues").json()["overdue"]["count"] == 1
    late = api(ACCEPTOR).get("/api/v1/cases", params={"overdue": True}).json()
    assert late["total"] == 1 and late["items"][0]["light"] == "red"


def test_search_filters_by_state_category_prefix_and_source(api):
    a = new_case(api)
    new_case(api, CITIZEN, source="online", lon=OTHER_LON, lat=OTHER_LAT)
    step(api, ACCEPTOR, a, "accept")
    get = lambda **p: api(ACCEPTOR).get("/api/v1/cases", params=p).json()["total"]  # noqa: E731
    assert get(state="accepted") == 1 and get(state="reported") == 1
    assert get(category="E0102") == 2 and get(category="E01") == 2 and get(category="C") == 0
    assert get(prefix="110108001") == 1 and get(prefix="110108001001001") == 1
    assert get(source="online") == 1
    assert get(since=(T0 + timedelta(days=1)).isoformat()) == 0
    assert get(queue="to_accept") == 1


def test_the_idempotency_key_returns_the_first_case(api):
    body = {"category_code": "E0102", "description": "x", "lon": LON, "lat": LAT}
    headers = {"Idempotency-Key": "abc-1"}
    first = api(SUPERVISOR).post("/api/v1/cases", json=body, headers=headers).json()
    again = api(SUPERVISOR).post("/api/v1/cases", json=body, headers=headers).json()
    assert first["id"] == again["id"]
    assert api(SUPERVISOR).get("/api/v1/cases").json()["total"] == 1


def test_categories_are_listed_and_the_admission_list_filters(api):
    all_ = api(CITIZEN).get("/api/v1/case-categories").json()
    names = {c["name"] for c in all_}
    assert {"暴露垃圾", "邻里纠纷", "证照代办"} <= names
    admitted = api(CITIZEN).get("/api/v1/case-categories", params={"admitted": True}).json()
    assert 0 < len(admitted) < len(all_) and all(c["admitted_to_grid"] for c in admitted)


def test_only_an_admin_edits_routing_rules_and_dispatch_follows_them(api):
    rule = {
        "county_code": "110108",
        "category_code": "E0102",
        "area_class": None,
        "department_code": "110108-HBJ",
    }
    assert api(DISPATCHER).put("/api/v1/case-routing-rules", json=rule).status_code == 403
    r = api(ADMIN).put("/api/v1/case-routing-rules", json=rule)
    assert r.status_code == 200 and r.json()["department_code"] == "110108-HBJ"
    rules = api(DISPATCHER).get("/api/v1/case-routing-rules", params={"county_code": "110108"})
    assert [x["category_code"] for x in rules.json()] == ["E0102"]
    case = step(api, SHIFT, step(api, ACCEPTOR, new_case(api), "accept"), "file")
    step(api, DISPATCHER, case, "dispatch")
    detail = api(DISPATCHER).get(f"/api/v1/cases/{case['id']}").json()
    assert detail["parts"][0]["department_code"] == "110108-HBJ"


def test_a_patrol_through_the_api_links_its_reports_and_serves_its_track(api):
    p = api(SUPERVISOR).post("/api/v1/patrols", json={"lon": LON, "lat": LAT})
    assert p.status_code == 201
    pid = p.json()["id"]
    at = (T0 + timedelta(minutes=70)).isoformat()
    r = api(SUPERVISOR).post(
        f"/api/v1/patrols/{pid}/points", json=[{"lon": LON + 0.001, "lat": LAT, "at": at}]
    )
    assert r.json() == {"stored": 1}
    case = new_case(api)
    assert case["patrol_id"] == pid
    api(SUPERVISOR).post(f"/api/v1/patrols/{pid}/end")
    info = api(SUPERVISOR).get(f"/api/v1/patrols/{pid}").json()
    assert info["case_ids"] == [case["id"]] and info["ended_at"] is not None
    grid = case["grid_id"]
    track = api(SUPERVISOR).get(f"/api/v1/patrols/tracks/{grid}", params={"day": "2026-11-23"})
    assert len(track.json()["features"][0]["geometry"]["coordinates"]) == 2


def test_duplicates_are_offered_for_a_new_report(api):
    first = new_case(api)
    second = new_case(api, CITIZEN, source="online")
    found = api(ACCEPTOR).get(f"/api/v1/cases/{second['id']}/duplicates").json()
    assert [c["id"] for c in found] == [first["id"]]
    merged = step(api, ACCEPTOR, second, "reject_duplicate", payload={"duplicate_of": first["id"]})
    assert merged["duplicate_of"] == first["id"] and merged["state"] == "rejected"


def test_only_an_admin_changes_a_category_and_bad_limits_are_refused(api):
    change = {"limits": {"handle": {"A": 4, "B": 8, "C": 12}}, "urgent": True}
    assert api(DISPATCHER).patch("/api/v1/case-categories/E0102", json=change).status_code == 403
    r = api(ADMIN).patch("/api/v1/case-categories/E0102", json=change)
    assert r.status_code == 200 and r.json()["limits"]["handle"]["B"] == 8 and r.json()["urgent"]
    bad = api(ADMIN).patch("/api/v1/case-categories/E0102", json={"limits": {"nap": {"A": 1}}})
    assert bad.status_code == 422 and bad.json()["code"] == "bad_time_limits"
    case = new_case(api)
    assert case["urgent"] is True


def test_a_dispatched_department_reads_its_message_after_delivery(api, session):
    from wangge.cases.outbox import InAppChannel, deliver_pending

    walk_to_dispatched(api, new_case(api))
    assert api(HANDLER).get("/api/v1/messages").json() == []
    deliver_pending(session, {"in_app": InAppChannel()}, now=T0 + timedelta(hours=2))
    inbox = api(HANDLER).get("/api/v1/messages").json()
    assert len(inbox) == 1 and "已派遣" in inbox[0]["title"]
    assert api(OTHER_HANDLER).get("/api/v1/messages").json() == []


def test_a_hotline_operator_enters_a_report_for_a_caller(api):
    case = new_case(api, ACCEPTOR, source="hotline")
    assert case["source"] == "hotline" and case["reporter_id"] == "1"


def test_an_original_photo_is_seen_only_by_its_uploader_and_those_who_see_its_case(api):
    photo = upload(api, SUPERVISOR)
    assert api(ACCEPTOR).get(photo).status_code == 404  # not attached yet: the uploader's alone
    assert api(SUPERVISOR).get(photo).status_code == 200
    case = new_case(api, photos=[photo])
    assert case["photos"] == [photo]
    assert api(ACCEPTOR).get(photo).status_code == 200  # the case lies in his county
    # A supervisor of another street sees neither the case nor its original (GPS inside).
    assert api(FAR_SUPERVISOR).get(f"/api/v1/cases/{case['id']}").status_code == 404
    far = api(FAR_SUPERVISOR).get(photo)
    assert far.status_code == 404 and far.json()["code"] == "not_found"
    assert api(OTHER_HANDLER).get(photo).status_code == 404
    # The copy without location data stays public.
    public = api(FAR_SUPERVISOR).get(f"{photo}/public")
    assert public.status_code == 200 and public.headers["content-type"] == "image/jpeg"
    # A handler's feed-back photo follows the case, which the supervisor of the grid sees.
    case = step(api, HANDLER, walk_to_dispatched(api, case), "department_accept")
    after = upload(api, HANDLER)
    step(api, HANDLER, case, "feed_back", photos=[after])
    assert api(SUPERVISOR).get(after).status_code == 200
    assert api(FAR_SUPERVISOR).get(after).status_code == 404


def _refused(r, code: str, ref: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code and body["field"] == "photos"
    assert ref in body["detail"] and ref in body["detail_en"]


def test_a_report_and_actions_accept_only_real_uploads_of_the_actor(api):
    body = {"category_code": "E0102", "description": "x", "lon": LON, "lat": LAT}
    r = api(SUPERVISOR).post("/api/v1/cases", json={**body, "photos": ["not-an-upload"]})
    _refused(r, "unknown_photo", "not-an-upload")
    theirs = upload(api, ACCEPTOR)
    r = api(SUPERVISOR).post("/api/v1/cases", json={**body, "photos": [theirs]})
    _refused(r, "photo_not_yours", theirs)
    assert api(SUPERVISOR).get("/api/v1/cases").json()["total"] == 0

    case = step(api, HANDLER, walk_to_dispatched(api, new_case(api)), "department_accept")
    for bad, code in (
        ("not-an-upload", "unknown_photo"),
        (upload(api, SUPERVISOR), "photo_not_yours"),
    ):
        r = api(HANDLER).post(
            f"/api/v1/cases/{case['id']}/actions/feed_back",
            json={"expected_version": case["version"], "photos": [bad]},
        )
        _refused(r, code, bad)
    # A photo already attached to another case cannot be attached again.
    other = new_case(api)
    used = other["photos"][0]
    r = api(SUPERVISOR).post("/api/v1/cases", json={**body, "photos": [used]})
    _refused(r, "photo_not_yours", used)
    assert api(SUPERVISOR).get(f"/api/v1/cases/{case['id']}").json()["state"] == "in_progress"


def test_the_check_needs_a_photo_uploaded_after_the_handling_was_reported(api):
    api.client.app.dependency_overrides[get_now] = utcnow  # uploads and actions on one clock
    case = step(api, HANDLER, walk_to_dispatched(api, new_case(api)), "department_accept")
    early = upload(api, SUPERVISOR)  # taken before the department reported its work
    case = step(api, HANDLER, case, "feed_back", photos=[upload(api, HANDLER)])
    case = step(api, ACCEPTOR, case, "request_check")
    for bad, code in (("also-fake", "unknown_photo"), (early, "stale_photo")):
        r = api(SUPERVISOR).post(
            f"/api/v1/cases/{case['id']}/actions/check_pass",
            json={"expected_version": case["version"], "photos": [bad]},
        )
        _refused(r, code, bad)
    case = step(api, SUPERVISOR, case, "check_pass", photos=[upload(api, SUPERVISOR)])
    assert case["state"] == "checked"
