"""代办 resident services over HTTP: the catalogue, a resident's request with its clocks on the
official calendar, take/handle/close by the grid's workers, rating, scope, refused input, and
the separate figures (problem-case indicators unchanged)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    FAR_SUPERVISOR,
    GRID1,
    GRID_LEADER,
    LAT,
    LEADER,
    LON,
    SUPERVISOR,
    T0,
    build_world,
    person,
    report,
)
from wangge.api.deps import get_principal
from wangge.audit.labels import action_label
from wangge.audit.models import AuditEntry
from wangge.auth.principal import ANONYMOUS
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.views import get_now
from wangge.config import Settings
from wangge.main import create_app
from wangge.resident_services.catalogue import DEFAULTS, seed_catalogue
from wangge.resident_services.models import ServiceItem, ServiceRequest, ServiceRequestEvent
from wangge.web.views import page_principal

NOW = T0 + timedelta(hours=1)  # Monday 23 November 2026, 10:00 in Beijing
ADMIN = replace(person(30, "admin", scope={"110108"}), permissions=frozenset({"*"}))
SOCIAL_SECURITY = "YB-01"  # 城乡居民医保参保缴费


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


class Client:
    def __init__(self, client: TestClient, holder: dict[str, Any]) -> None:
        self.client, self.holder = client, holder

    def __call__(self, principal: Any = ANONYMOUS, at: datetime | None = None) -> TestClient:
        self.holder["who"] = principal
        if at is not None:
            self.holder["now"] = at
        return self.client


@pytest.fixture
def api(session, tmp_path) -> Iterator[Client]:
    build_world(session)
    seed_catalogue(session, "110108")
    holder: dict[str, Any] = {"who": ANONYMOUS, "now": NOW}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[page_principal] = lambda: (
        None if holder["who"] is ANONYMOUS else holder["who"]
    )
    app.dependency_overrides[get_now] = lambda: holder["now"]
    with TestClient(app) as c:
        yield Client(c, holder)


def ask(api: Client, at: datetime = NOW, **over: Any) -> Any:
    body = {
        "service_code": SOCIAL_SECURITY, "applicant_name": "张秀英", "phone": "13812345678",
        "description": "帮母亲办理医保缴费", "lon": LON, "lat": LAT, "crs": "EPSG:4490",
        "address": "幸福里 3 号楼",
    }  # fmt: skip
    body.update(over)
    return api(ANONYMOUS, at).post("/web/api/citizen/services", json=body)


def step(api: Client, who: Any, rid: int, action: str, **body: Any) -> Any:
    return api(who).post(f"/api/v1/resident-services/requests/{rid}/actions/{action}", json=body)


def test_the_default_catalogue_lists_services_with_their_materials_and_rules(api):
    items = api().get("/web/api/citizen/services").json()
    assert len(items) == len(DEFAULTS)
    families = {i["family_zh"] for i in items}
    assert {"社保", "医保", "证照", "养老", "残疾人", "就业"} <= families
    ybk = next(i for i in items if i["code"] == SOCIAL_SECURITY)
    assert ybk["name"] == "城乡居民医保参保缴费" and "居民身份证" in ybk["materials"]
    assert (ybk["respond_hours"], ybk["answer_hours"], ybk["complex_hours"]) == (2, 24, 72)
    assert ybk["around_the_clock"] is False


def test_a_request_is_filed_in_the_residents_grid_with_clocks_in_working_hours(api, session):
    r = ask(api)
    assert r.status_code == 201, r.text
    out = r.json()
    code, _, secret = out["tracking"].rpartition("-")
    assert code == out["code"] and len(secret) >= 8
    assert out["state"] == "requested" and out["state_zh"] == "待接单"
    assert "居民身份证" in out["materials"]
    # Monday 10:00 + 2 working hours; + 24 working hours = Thursday 10:00 (08-12, 14-18).
    assert datetime.fromisoformat(out["promise"]["respond_due"]) == bj(2026, 11, 23, 12, 0)
    assert datetime.fromisoformat(out["promise"]["solve_due"]) == bj(2026, 11, 26, 10, 0)
    assert out["promise"]["text_zh"] == "承诺 2 个工作小时内答复 / 3 个工作日内办结"
    row = session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))
    assert row.grid_code == GRID1 and row.county_code == "110108"
    assert secret not in row.secret_hash  # only a hash is kept


def test_a_friday_evening_request_is_due_after_the_weekend(api):
    out = ask(api, at=bj(2026, 11, 27, 17, 0)).json()  # Friday 17:00
    assert datetime.fromisoformat(out["promise"]["respond_due"]) == bj(2026, 11, 30, 9, 0)


def test_the_grid_worker_takes_handles_and_closes_and_the_resident_rates(api, session):
    tracking = ask(api).json()["tracking"]
    queue = api(GRID_LEADER, NOW + timedelta(minutes=30)).get(
        "/api/v1/resident-services/requests?state=open"
    )
    assert queue.status_code == 200
    [item] = queue.json()["items"]
    rid = item["id"]
    assert item["applicant_phone"] == "138****5678" and item["applicant_name"] != "张秀英"
    assert item["lights"] == {"respond": "green", "solve": "green"}
    # 1 h 40 min of the 2 h used: the answer light turns yellow (80 %), as for cases.
    late = api(GRID_LEADER, NOW + timedelta(minutes=100)).get(
        "/api/v1/resident-services/requests?state=open"
    )
    assert late.json()["items"][0]["lights"]["respond"] == "yellow"

    taken = step(api, GRID_LEADER, rid, "take")
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "in_progress" and "respond" not in taken.json()["lights"]
    again = step(api, GRID_LEADER, rid, "take")
    assert again.status_code == 409 and "办理中" in again.json()["detail"]

    no_note = step(api, GRID_LEADER, rid, "handle")
    assert no_note.status_code == 422 and no_note.json()["field"] == "note"
    complex_ = step(api, GRID_LEADER, rid, "handle", note="需社保局补录缴费记录", complex=True)
    assert complex_.status_code == 200
    # 72 working hours from Monday 10:00 (6 h that day, 8 h a day after) → Friday 4 December 10:00.
    assert datetime.fromisoformat(complex_.json()["answer_due"]) == bj(2026, 12, 4, 10, 0)

    api.holder["now"] = NOW + timedelta(days=1)
    closed = step(api, GRID_LEADER, rid, "close", note="已代缴 2027 年度医保")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert [e["action"] for e in closed.json()["timeline"]] == [
        "request", "take", "handle", "close",
    ]  # fmt: skip

    seen = api().post("/web/api/citizen/services/track", json={"tracking": tracking}).json()
    assert seen["state_zh"] == "已办结" and seen["result"] == "已代缴 2027 年度医保"
    assert seen["complex"] and seen["complex_reason"] == "需社保局补录缴费记录"
    assert seen["can_rate"] and all("actor" not in e for e in seen["timeline"])
    no_rating = api().post("/web/api/citizen/services/rate", json={"tracking": tracking})
    assert no_rating.status_code == 422 and no_rating.json()["code"] == "rating_required"
    rated = api().post(
        "/web/api/citizen/services/rate", json={"tracking": tracking, "rating": "satisfied"}
    )
    assert rated.status_code == 200 and rated.json()["state"] == "rated"
    twice = api().post(
        "/web/api/citizen/services/rate", json={"tracking": tracking, "rating": "unsatisfied"}
    )
    assert twice.status_code == 409
    wrong = api().post("/web/api/citizen/services/track", json={"tracking": tracking[:-2] + "zz"})
    assert wrong.status_code == 404
    events = session.scalar(
        select(func.count()).select_from(ServiceRequestEvent).where(
            ServiceRequestEvent.request_id == rid
        )
    )  # fmt: skip
    assert events == 5
    assert_audit_named(session, {"request", "take", "handle", "close", "rate"})


def test_only_workers_of_the_area_see_and_act_and_the_phone_reveal_is_audited(api, session):
    rid = session.scalar(
        select(ServiceRequest.id).where(ServiceRequest.code == ask(api).json()["code"])
    )
    far = api(FAR_SUPERVISOR).get(f"/api/v1/resident-services/requests/{rid}")
    assert far.status_code == 404
    assert api(FAR_SUPERVISOR).get("/api/v1/resident-services/requests").json()["items"] == []
    refused = step(api, ACCEPTOR, rid, "take")  # 受理员: not a grid worker
    assert refused.status_code == 403 and refused.json()["code"] == "role_not_allowed"
    assert step(api, LEADER, rid, "take").status_code == 403
    stale = step(api, SUPERVISOR, rid, "take", version=7)
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    contact = api(SUPERVISOR).get(f"/api/v1/resident-services/requests/{rid}/contact")
    assert contact.json() == {"applicant_name": "张秀英", "applicant_phone": "13812345678"}
    audited = session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "resident_service.reveal_contact", AuditEntry.object_id == str(rid)
        )
    )  # fmt: skip
    assert audited == 1


@pytest.mark.parametrize(
    ("over", "status", "code", "words"),
    [
        ({"service_code": "XX-99"}, 422, "unknown_service", "未知的代办事项"),
        ({"applicant_name": "  "}, 422, "required", "申请人姓名"),
        ({"phone": "12345"}, 422, None, None),
        ({"lon": 100.0, "lat": 30.0}, 422, "outside_service_area", "服务范围"),
        ({"service_code": "ZZ-99"}, 422, "service_outside_county", "不在您所在的区县"),
    ],
)
def test_bad_requests_are_refused_in_both_languages_and_nothing_is_written(
    api, session, over, status, code, words
):
    session.add(
        ServiceItem(
            county_code="110101", code="ZZ-99", family="certificates", name="外区事项",
            name_en="elsewhere", materials=[], respond_hours=2, answer_hours=24,
            complex_hours=72, around_the_clock=False, is_active=True,
        )
    )  # fmt: skip
    session.flush()
    r = ask(api, **over)
    assert r.status_code == status, r.text
    body = r.json()
    if code is not None:
        assert body["code"] == code and words in body["detail"] and body["detail_en"]
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_a_request_without_required_fields_is_refused_naming_the_field(api, session):
    r = api().post("/web/api/citizen/services", json={"service_code": SOCIAL_SECURITY})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"applicant_name", "phone", "lon", "lat"} <= fields
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_an_administrator_edits_the_catalogue_and_promises_made_stand(api, session):
    rid_code = ask(api).json()["code"]
    items = api(ADMIN).get("/api/v1/resident-services/catalogue?county=110108").json()
    ybk = next(i for i in items if i["code"] == SOCIAL_SECURITY)
    edit = api(ADMIN).patch(
        f"/api/v1/resident-services/catalogue/{ybk['id']}",
        json={"answer_hours": 16, "materials": ["居民身份证", "医保卡"]},
    )
    assert edit.status_code == 200 and edit.json()["materials"] == ["居民身份证", "医保卡"]
    old = session.scalar(select(ServiceRequest).where(ServiceRequest.code == rid_code))
    assert old.answer_hours == 24  # the promise already made stands
    new = ask(api).json()
    assert datetime.fromisoformat(new["promise"]["solve_due"]) == bj(2026, 11, 25, 10, 0)
    bad = api(ADMIN).patch(
        f"/api/v1/resident-services/catalogue/{ybk['id']}", json={"respond_hours": 100}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "bad_hours"
    created = api(ADMIN).post(
        "/api/v1/resident-services/catalogue",
        json={"county_code": "110108", "code": "mz-01", "family": "civil_affairs",
              "name": "低保申请", "materials": ["居民身份证", "收入证明"]},
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["code"] == "MZ-01"
    twin = api(ADMIN).post(
        "/api/v1/resident-services/catalogue",
        json={"county_code": "110108", "code": "MZ-01", "family": "civil_affairs", "name": "x"},
    )
    assert twin.status_code == 409 and twin.json()["code"] == "duplicate_service"
    family = api(ADMIN).post(
        "/api/v1/resident-services/catalogue",
        json={"county_code": "110108", "code": "MZ-02", "family": "tax", "name": "x"},
    )
    assert family.status_code == 422 and family.json()["code"] == "unknown_family"
    not_admin = api(GRID_LEADER).patch(
        f"/api/v1/resident-services/catalogue/{ybk['id']}", json={"is_active": False}
    )
    assert not_admin.status_code == 403
    off = api(ADMIN).patch(
        f"/api/v1/resident-services/catalogue/{ybk['id']}", json={"is_active": False}
    )
    assert off.status_code == 200
    assert ask(api).json()["code"] == "unknown_service"
    assert api(ADMIN).post("/api/v1/resident-services/catalogue/seed?county=110108").json() == {
        "added": 0
    }
    assert_audit_named(session, {"request", "create", "update"})


def assert_audit_named(session, steps: set[str]) -> None:
    """Every audit action written is named in both languages on the audit page."""
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("resident_serv%")))
    )
    assert {a.rpartition(".")[2] for a in actions} == steps
    for a in actions:
        zh, en = action_label(a, "zh"), action_label(a, "en")
        assert zh and en and "·" in zh and zh.startswith("代办"), a


def test_the_figures_count_services_apart_and_leave_case_indicators_unchanged(api, session):
    report(session, SUPERVISOR, at=T0)
    before = api(LEADER).get("/api/v1/evaluation/periods/2026-11?compare=false").json()
    codes = [ask(api).json()["tracking"] for _ in range(3)]
    ids = [
        session.scalar(select(ServiceRequest.id).where(ServiceRequest.code == c.rpartition("-")[0]))
        for c in codes
    ]
    step(api, GRID_LEADER, ids[0], "take")  # on time (10:00)
    api.holder["now"] = NOW + timedelta(days=1)  # Tuesday 10:00: past the 2 h answer
    step(api, GRID_LEADER, ids[1], "take")
    for rid in ids[:2]:
        step(api, GRID_LEADER, rid, "close", note="已办结")
    api().post("/web/api/citizen/services/rate", json={"tracking": codes[0], "rating": "satisfied"})
    api.holder["now"] = NOW + timedelta(days=10)
    figures = api(LEADER).get("/api/v1/resident-services/figures?period=2026-11").json()
    total = figures["total"]
    assert (total["requested"], total["answered"], total["answered_on_time"]) == (3, 2, 1)
    assert (total["closed"], total["closed_on_time"], total["open_overdue"]) == (2, 2, 1)
    assert (total["rated"], total["satisfied"], total["satisfaction_rate"]) == (1, 1, 1.0)
    assert figures["communities"][0]["community_code"] == "110108001001"
    api.holder["now"] = NOW
    after = api(LEADER).get("/api/v1/evaluation/periods/2026-11?compare=false").json()
    assert after == before
    far = api(FAR_SUPERVISOR).get("/api/v1/resident-services/figures?period=2026-11").json()
    assert far["total"]["requested"] == 0
    bad = api(LEADER).get("/api/v1/resident-services/figures?period=2026-13x")
    assert bad.status_code == 422 and bad.json()["code"] == "bad_period"


def test_the_console_page_shows_catalogue_figures_and_requests(api):
    ask(api)
    page = api(ADMIN).get("/console/resident-services?period=2026-11")
    assert page.status_code == 200
    assert "代办事项目录" in page.text and "城乡居民医保参保缴费" in page.text
    assert 'data-save="' in page.text and "138****5678" in page.text
    read_only = api(SUPERVISOR).get("/console/resident-services")
    assert read_only.status_code == 200 and 'data-save="' not in read_only.text
    evaluation = api(LEADER).get("/console/evaluation?period=2026-11")
    assert evaluation.status_code == 200 and 'id="eval-services"' in evaluation.text
    assert 'data-period="2026-11"' in evaluation.text
    citizen = api().get("/citizen")
    assert 'id="svc-form"' in citizen.text and "citizen_services.js" in citizen.text


def test_a_citizen_report_in_a_service_category_points_to_the_service_section(api):
    r = api().post(
        "/web/api/citizen/reports",
        json={"category_code": "S0402", "description": "想办医保", "lon": LON, "lat": LAT},
    )
    assert r.status_code == 422 and r.json()["code"] == "bad_category"
    assert "代办服务" in r.json()["detail"] and "Resident services" in r.json()["detail_en"]


def test_the_workers_assigned_to_the_grid_are_told_of_a_new_request(api, session):
    from datetime import date

    from wangge.assignments.models import GridAssignment
    from wangge.auth.models import User
    from wangge.cases.models import OutboxMessage

    session.add(User(id=40, username="wgy40", display_name="网格员小李"))
    session.flush()
    session.add(
        GridAssignment(
            user_id=40, grid_code=GRID1, county_code="110108", layer="social", kind="full_time",
            starts_on=date(2026, 1, 1),
        )
    )  # fmt: skip
    session.flush()
    code = ask(api).json()["code"]
    told = session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "resident_service.requested")
    ).all()
    assert [m.recipient for m in told] == ["40"]
    assert code in told[0].body["title"] and "城乡居民医保参保缴费" in told[0].body["title"]
