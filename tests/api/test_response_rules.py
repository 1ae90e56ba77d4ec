"""Response rules by channel and urgency (issue 13 item 7) over HTTP, on SQLite and PostgreSQL.

The default rules of `wangge init` promise an online reporter an answer within 2 hours and the
matter solved within 24 (金牛); the hotline and urgent rules are placeholders. The promises
become deadlines with lights, count as overdue, and the sweep escalates each miss once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    COUNTY,
    DISPATCHER,
    LAT,
    LON,
    SHIFT,
    SUPERVISOR,
    T0,
    build_world,
    do,
    jpeg,
    person,
)
from wangge.api.deps import get_principal
from wangge.audit.models import AuditEntry
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Case, CaseEvent, ResponseRule
from wangge.cases.response import seed_rules
from wangge.cases.scheduled import sweep_overdue
from wangge.cases.views import get_now
from wangge.config import Settings
from wangge.main import create_app
from wangge.setup import init_county
from wangge.web.views import page_principal

H = timedelta(hours=1)
ADMIN = person(99, "admin")
STREET_ADMIN = person(98, "admin", scope={"110108001"})


class Api:
    """A client whose caller and clock the test switches between requests."""

    def __init__(self, client: TestClient, holder: dict[str, Any]) -> None:
        self.client, self.holder = client, holder

    def __call__(self, who: Any, at: datetime | None = None) -> TestClient:
        self.holder["who"] = who
        if at is not None:
            self.holder["now"] = at
        return self.client


@pytest.fixture
def api(session, tmp_path) -> Iterator[Api]:
    build_world(session)
    seed_rules(session, COUNTY)
    holder: dict[str, Any] = {"who": SUPERVISOR, "now": T0}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: holder["now"]
    app.dependency_overrides[page_principal] = lambda: holder["who"]
    with TestClient(app) as c:
        yield Api(c, holder)


def report(api: Api, who: Any, at: datetime = T0, **extra: Any) -> dict[str, Any]:
    up = api(who, at).post("/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert up.status_code == 201, up.text
    body = {
        "category_code": "E0102",
        "description": "暴露垃圾",
        "lon": LON,
        "lat": LAT,
        "photos": [f"/api/v1/uploads/{up.json()['id']}"],
        **extra,
    }
    r = api(who, at).post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(SHANGHAI) if text else None


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def _to_handling(session, case_id: int, when: datetime) -> Case:
    """Walk an online report to a department: accept, verify on site, file, dispatch."""
    row = session.get(Case, case_id)
    do(session, row, "accept", ACCEPTOR, when)
    do(session, row, "request_verification", ACCEPTOR, when)
    do(session, row, "verify_true", SUPERVISOR, when, photos=["photo://site"])
    do(session, row, "file", SHIFT, when)
    return do(session, row, "dispatch", DISPATCHER, when, department=CGW)


# --- the promises a case gets ----------------------------------------------------------------


def test_a_citizen_online_report_is_answered_within_2_hours_and_solved_within_24(api):
    case = report(api, CITIZEN)
    assert case["source"] == "online"
    assert at(case["respond_due"]) == T0 + 2 * H
    assert at(case["solve_due"]) == T0 + 24 * H
    # The accept stage (1 working hour) falls due first: the earliest clock is what queues see.
    assert at(case["deadline"]) == T0 + H and at(case["due_at"]) == T0 + H


def test_an_urgent_hotline_report_gets_the_tighter_rule(api):
    ordinary = report(api, ACCEPTOR, source="hotline")
    urgent = report(api, ACCEPTOR, source="hotline", urgent=True)
    # Placeholders: 1 working day to answer and 5 to solve; urgent 1 h and 24 h on the wall clock.
    assert at(ordinary["respond_due"]) == local(2026, 11, 24, 9)
    assert at(ordinary["solve_due"]) == local(2026, 11, 30, 9)
    assert at(urgent["respond_due"]) == T0 + H
    assert at(urgent["solve_due"]) == T0 + 24 * H


def test_a_patrol_report_has_no_channel_promise(api):
    case = report(api, SUPERVISOR)
    assert case["respond_due"] is None and case["solve_due"] is None
    assert case["due_at"] == case["deadline"]


def test_a_channel_stage_rule_wins_only_where_it_is_stricter(api, session):
    stricter = {"county_code": COUNTY, "name": "热线处置 2 小时", "source": "hotline"}
    r = api(ADMIN).post(
        "/api/v1/case-response-rules", json={**stricter, "stage": "handle", "hours": 2}
    )
    assert r.status_code == 201, r.text
    looser = {**stricter, "name": "热线受理 10 小时", "stage": "accept", "hours": 10}
    assert api(ADMIN).post("/api/v1/case-response-rules", json=looser).status_code == 201
    case = report(api, ACCEPTOR, source="hotline")
    assert at(case["deadline"]) == T0 + H  # the class's 1 working hour beats the rule's 10
    row = _to_handling(session, case["id"], T0)
    # E0102 in area B: 16 working hours; the hotline rule's 2 wall-clock hours are stricter.
    assert row.deadline == T0 + 2 * H


# --- lights, queues, the sweep ---------------------------------------------------------------


def test_the_answer_light_turns_yellow_then_red(api):
    case = report(api, CITIZEN)
    path = f"/api/v1/cases/{case['id']}"
    assert api(ACCEPTOR, T0 + 30 * timedelta(minutes=1)).get(path).json()["lights"]["respond"] == (
        "green"
    )
    late = api(ACCEPTOR, T0 + 100 * timedelta(minutes=1)).get(path).json()  # 83 % of 2 h
    assert late["lights"]["respond"] == "yellow" and late["lights"]["solve"] == "green"
    missed = api(ACCEPTOR, T0 + 2 * H + timedelta(minutes=1)).get(path).json()
    assert missed["lights"]["respond"] == "red" and missed["light"] == "red"


def test_the_first_answer_stops_the_answer_clock(api, session):
    case = report(api, CITIZEN)
    do(session, session.get(Case, case["id"]), "accept", ACCEPTOR, T0 + 30 * timedelta(minutes=1))
    got = api(ACCEPTOR, T0 + 5 * H).get(f"/api/v1/cases/{case['id']}").json()
    assert at(got["responded_at"]) == T0 + 30 * timedelta(minutes=1)
    assert "respond" not in got["lights"] and got["lights"]["solve"] == "green"


def test_a_missed_solve_promise_alone_puts_the_case_in_the_overdue_queue(api, session):
    case = report(api, CITIZEN)
    row = _to_handling(session, case["id"], T0 + 30 * timedelta(minutes=1))
    assert row.deadline > T0 + 25 * H  # 16 working hours: Wednesday
    queues = api(DISPATCHER, T0 + 23 * H).get("/api/v1/cases/queues").json()
    assert queues["overdue"]["count"] == 0
    queues = api(DISPATCHER, T0 + 25 * H).get("/api/v1/cases/queues").json()
    assert queues["overdue"]["count"] == 1
    listed = api(DISPATCHER).get("/api/v1/cases", params={"overdue": "true"}).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    assert listed["items"][0]["lights"] == {"stage": "green", "solve": "red"}


def test_the_sweep_escalates_each_missed_promise_once(api, session):
    case = report(api, CITIZEN)
    row = session.get(Case, case["id"])
    # 10:30: only the accept stage (due 10:00) is missed.
    assert sweep_overdue(session, T0 + 1.5 * H).escalated == [row.id]
    # 11:30: the 2-hour answer is missed too; the stage was escalated already.
    second = sweep_overdue(session, T0 + 2.5 * H)
    assert second.escalated == [row.id]
    assert sweep_overdue(session, T0 + 2.5 * H).escalated == []
    assert sweep_overdue(session, T0 + 5 * H).escalated == []
    session.refresh(row)
    assert row.level == "district" and row.overdue_count == 2
    assert row.respond_escalated_for == row.respond_due
    # Next day: the 24-hour solve promise falls due; at district level the sweep urges.
    assert sweep_overdue(session, T0 + 25 * H).urged == [row.id]
    assert sweep_overdue(session, T0 + 26 * H).urged == []
    events = session.scalars(
        select(CaseEvent.payload).where(
            CaseEvent.case_id == row.id, CaseEvent.action.in_(["escalate", "urge"])
        )
    ).all()
    assert [e["missed"] for e in events] == [["stage"], ["respond"], ["solve"]]


def test_a_late_sweep_escalates_clocks_missed_together_in_one_step(api, session):
    case = report(api, CITIZEN)
    result = sweep_overdue(session, T0 + 3 * H)
    row = session.get(Case, case["id"])
    session.refresh(row)
    assert result.escalated == [row.id] and row.level == "street" and row.overdue_count == 1
    assert sweep_overdue(session, T0 + 4 * H).escalated == []


def test_a_reopened_case_gets_the_solving_time_again(api, session):
    case = report(api, CITIZEN)
    row = _to_handling(session, case["id"], T0)
    do(session, row, "department_accept", person(5, "department", dept=CGW), T0)
    do(session, row, "feed_back", person(5, "department", dept=CGW), T0 + H, photos=["p://a"])
    do(session, row, "request_check", ACCEPTOR, T0 + H)
    do(session, row, "check_pass", SUPERVISOR, T0 + 2 * H, photos=["p://b"])
    do(session, row, "close", SHIFT, T0 + 2 * H)
    assert row.due_at is None
    reopened = T0 + 30 * H
    do(session, row, "reopen", CITIZEN, reopened, note="还没清理")
    assert row.solve_due == reopened + 24 * H and row.solve_escalated_for is None


# --- the rules themselves --------------------------------------------------------------------


def test_a_deactivated_rule_stops_applying_to_new_cases(api, session):
    before = report(api, CITIZEN)
    rule = session.scalars(
        select(ResponseRule).where(
            ResponseRule.source == "online",
            ResponseRule.stage == "respond",
            ResponseRule.urgent.is_(None),
        )
    ).one()
    r = api(ADMIN).post(f"/api/v1/case-response-rules/{rule.id}/deactivate")
    assert r.status_code == 200 and r.json()["is_active"] is False
    after = report(api, CITIZEN)
    assert after["respond_due"] is None and after["solve_due"] is not None
    assert at(api(ACCEPTOR).get(f"/api/v1/cases/{before['id']}").json()["respond_due"]) == (
        T0 + 2 * H
    )
    listed = api(ACCEPTOR).get("/api/v1/case-response-rules", params={"county_code": COUNTY})
    assert rule.id not in [x["id"] for x in listed.json()]
    everything = api(ACCEPTOR).get(
        "/api/v1/case-response-rules", params={"county_code": COUNTY, "include_inactive": True}
    )
    assert rule.id in [x["id"] for x in everything.json()]


def test_an_edited_rule_applies_to_the_next_case(api):
    rules = api(ADMIN).get("/api/v1/case-response-rules", params={"county_code": COUNTY}).json()
    solve = next(r for r in rules if r["source"] == "online" and r["stage"] == "solve")
    r = api(ADMIN).patch(f"/api/v1/case-response-rules/{solve['id']}", json={"hours": 12})
    assert r.status_code == 200 and r.json()["hours"] == 12
    assert at(report(api, CITIZEN)["solve_due"]) == T0 + 12 * H


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"source": "wechat"}, 422, "source"),
        ({"stage": "complex"}, 422, "stage"),
        ({"hours": 0}, 422, "hours"),
        ({"hours": -2}, 422, "hours"),
        ({"stage": "respond"}, 409, "stage"),  # the seeded online respond rule is active
        ({"county_code": "999999"}, 422, "county_code"),
        ({"colour": "red"}, 422, "colour"),  # unknown fields are refused, not dropped
    ],
)
def test_bad_rules_are_refused_naming_the_field(api, change, status, field):
    body = {"county_code": COUNTY, "name": "测试", "source": "online", "stage": "file", "hours": 3}
    r = api(ADMIN).post("/api/v1/case-response-rules", json={**body, **change})
    assert r.status_code == status, r.text
    problem = r.json()
    assert field in (problem.get("field") or str(problem.get("errors") or problem))
    assert problem["detail"] and problem["detail_en"]


def test_only_rule_managers_of_the_whole_county_change_rules(api, session):
    body = {"county_code": COUNTY, "name": "x", "source": "video", "stage": "file", "hours": 3}
    assert api(DISPATCHER).post("/api/v1/case-response-rules", json=body).status_code == 403
    assert api(STREET_ADMIN).post("/api/v1/case-response-rules", json=body).status_code == 403
    rule = session.scalars(select(ResponseRule)).first()
    assert (
        api(DISPATCHER)
        .patch(f"/api/v1/case-response-rules/{rule.id}", json={"hours": 1})
        .status_code
        == 403
    )
    assert (
        api(CITIZEN).get("/api/v1/case-response-rules", params={"county_code": COUNTY}).status_code
        == 403
    )


def test_every_write_is_audited(api, session):
    body = {
        "county_code": COUNTY,
        "name": "视频立案",
        "source": "video",
        "stage": "file",
        "hours": 3,
    }
    made = api(ADMIN).post("/api/v1/case-response-rules", json=body).json()
    api(ADMIN).patch(f"/api/v1/case-response-rules/{made['id']}", json={"name": "视频立案 3 小时"})
    api(ADMIN).post(f"/api/v1/case-response-rules/{made['id']}/deactivate")
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_type == "response_rule", AuditEntry.object_id == str(made["id"]))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["response_rule.create", "response_rule.update", "response_rule.disable"]


def test_init_seeds_the_defaults_once_and_keeps_the_countys_edits(session):
    build_world(session)
    first = init_county(session, COUNTY)
    assert first.extra["答复时限规则 / response rules"] == 7
    online = session.scalars(
        select(ResponseRule).where(ResponseRule.source == "online", ResponseRule.stage == "solve")
    ).one()
    online.hours = 48
    session.flush()
    assert init_county(session, COUNTY).extra["答复时限规则 / response rules"] == 0
    session.refresh(online)
    assert online.hours == 48
    names = session.scalars(select(ResponseRule.name).where(ResponseRule.source == "hotline"))
    assert all("占位" in n for n in names)


# --- the citizen page ------------------------------------------------------------------------


def test_the_citizen_page_shows_the_promise(api):
    client = api(CITIZEN)
    body = {"category_code": "E0102", "description": "小区门口垃圾堆放", "lon": LON, "lat": LAT}
    r = client.post("/web/api/citizen/reports", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["promise"]["text_zh"] == "承诺 2 小时内答复 / 24 小时内办结"
    tracked = client.post("/web/api/citizen/track", json={"tracking": r.json()["tracking"]})
    promise = tracked.json()["promise"]
    assert promise["text_en"] == "Promised: answered within 2 hours; solved within 24 hours"
    assert at(promise["solve_due"]) - at(promise["respond_due"]) == 22 * H
    page = client.get("/static/citizen.js").text
    assert 'data-testid="promise"' in page


def test_the_console_page_lists_the_rules(api):
    page = api(ADMIN).get("/console/rules", params={"county": COUNTY})
    assert page.status_code == 200
    assert "网上诉求：2 小时内回应（金牛）" in page.text and 'id="rule-form"' in page.text
    english = api(ADMIN).get("/console/rules", params={"county": COUNTY, "lang": "en"})
    assert "Response rules by channel" in english.text
