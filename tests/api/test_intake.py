"""受理登记 over HTTP: hotline/counter intake with caller and 12345 work order (masked, audited),
回访 and the reply delivered to a 12345 stub, camera cases and video-analytics events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    DISPATCHER,
    HANDLER,
    LAT,
    LON,
    OTHER_LAT,
    OTHER_LON,
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
from wangge.cases.models import Case, OutboxMessage
from wangge.cases.outbox import deliver_pending
from wangge.cases.views import get_now
from wangge.config import Settings
from wangge.grids.locating import locate_refs
from wangge.grids.models import LocatedPoint
from wangge.main import create_app
from wangge.notifications.worker import build_channels
from wangge.web.views import page_principal

NOW = T0 + timedelta(hours=1)
UNMASKER = replace(
    person(31, "acceptor", scope={"110108"}),
    permissions=person(31, "acceptor").permissions | {"personal.unmask"},
)
VIDEO = person(32, "video_supervisor", scope={"110108001001"})
PHONE = "13812345678"


class As:
    def __init__(self, client: TestClient, holder: dict) -> None:
        self.client, self.holder = client, holder

    def __call__(self, principal):
        self.holder["who"] = principal
        return self.client


def add_camera(session, key: str, lon: float, lat: float) -> None:
    found = locate_refs(session, lon, lat)
    grid, unit = found.get("social"), found.get("unit")
    session.add(
        LocatedPoint(
            county_code="110108", layer="视频监控", key=key, lon=lon, lat=lat,
            grid_id=grid.id if grid else None, unit_grid_id=unit.id if unit else None,
            properties={"名称": f"监控点{key[-2:]}"},
        )
    )  # fmt: skip
    session.flush()


@pytest.fixture
def api(session, tmp_path) -> Iterator[As]:
    build_world(session)
    add_camera(session, "SP00001", LON, LAT)  # in community 110108001001
    add_camera(session, "SP00002", OTHER_LON, OTHER_LAT)  # in street 002
    holder: dict[str, Any] = {"who": ACCEPTOR}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[page_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: holder.get("now", NOW)
    with TestClient(app) as c:
        yield As(c, holder)


def call(api, who=ACCEPTOR, **intake):
    body = {
        "category_code": "E0102", "description": "来电反映路边垃圾堆积", "lon": LON, "lat": LAT,
        "intake": {"channel": "hotline_12345", **intake},
    }  # fmt: skip
    return api(who).post("/api/v1/cases", json=body)


def hotline_case(api, **intake) -> dict:
    intake = {"work_order_no": "GD20261123000001", "caller_name": "张三丰",
              "caller_phone": PHONE, **intake}  # fmt: skip
    r = call(api, **intake)
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------- intake rules


def test_a_hotline_call_stores_caller_and_work_order_masked_on_every_read(api, session):
    case = hotline_case(api)
    assert case["source"] == "hotline"
    detail = api(ACCEPTOR).get(f"/api/v1/cases/{case['id']}").json()
    intake = detail["intake"]
    assert intake["channel"] == "hotline_12345" and intake["channel_zh"] == "12345热线"
    assert intake["work_order_no"] == "GD20261123000001"
    assert intake["caller_name"] == "张**" and intake["caller_phone"] == "138****5678"
    assert intake["masked"] is True
    # the separate intake read, the case list and the page never show the full values
    assert api(ACCEPTOR).get(f"/api/v1/cases/{case['id']}/intake").json()["caller_phone"] == (
        "138****5678"
    )
    listing = api(ACCEPTOR).get("/api/v1/cases").text
    page = api(ACCEPTOR).get(f"/console/cases/{case['id']}").text
    for text in (listing, page, json.dumps(detail, ensure_ascii=False)):
        assert PHONE not in text and "张三丰" not in text
    assert "138****5678" in page and "GD20261123000001" in page
    # an administrator with personal.unmask is masked too unless he asks, with a reason
    assert api(UNMASKER).get(f"/api/v1/cases/{case['id']}").json()["intake"]["masked"] is True


def test_full_caller_details_need_a_reason_are_audited_and_are_for_intake_posts_or_unmask(
    api, session
):
    """The 受理员 dials the caller for the 回访: he may see the number (with a reason, audited)
    without unmasking the registry; a dispatcher may not."""
    case = hotline_case(api)
    url = f"/api/v1/cases/{case['id']}/intake/personal"
    refused = api(DISPATCHER).get(url, params={"reason": "想看看"})
    assert refused.status_code == 403
    no_reason = api(ACCEPTOR).get(url)
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    for who in (ACCEPTOR, UNMASKER):
        r = api(who).get(url, params={"reason": "回访来电人"})
        assert r.status_code == 200, r.text
        assert r.json()["caller_name"] == "张三丰" and r.json()["caller_phone"] == PHONE
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "personal.unmask", AuditEntry.object_id == str(case["id"])
        )
    ).all()
    assert {(e.actor, e.reason) for e in entries} == {
        (ACCEPTOR.name, "回访来电人"), (UNMASKER.name, "回访来电人"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("intake", "code", "field"),
    [
        ({"channel": "phone"}, "unknown_channel", "channel"),
        ({"caller_phone": "12345"}, "bad_phone", "caller_phone"),
        ({"caller_phone": "138-1234-567"}, "bad_phone", "caller_phone"),
        ({"work_order_no": "工单1"}, "bad_work_order_no", "work_order_no"),
        ({"channel": "counter", "work_order_no": "GD20261123000009"},
         "work_order_needs_hotline", "work_order_no"),
        ({"channel": "video", "caller_phone": PHONE, "camera_key": "SP00001"},
         "caller_needs_hotline_channel", "caller_phone"),
        ({"camera_key": "SP00001"}, "camera_needs_video_channel", "camera_key"),
    ],
)  # fmt: skip
def test_bad_intake_details_are_refused_naming_the_field(api, session, intake, code, field):
    body = {"channel": "hotline_12345", **intake}
    r = call(api, **body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == code and problem["field"] == field
    assert problem["detail"] and problem.get("detail_en")
    assert session.scalar(select(Case.id)) is None  # nothing half-stored


def test_a_caller_on_a_patrol_report_is_refused(api, session):
    body = {"category_code": "E0102", "description": "巡查发现", "lon": LON, "lat": LAT,
            "source": "patrol", "intake": {"channel": "counter", "caller_phone": PHONE}}  # fmt: skip
    r = api(SUPERVISOR).post("/api/v1/cases", json=body)
    assert r.status_code == 422 and r.json()["code"] == "channel_source_mismatch"
    assert session.scalar(select(Case.id)) is None


def test_a_counter_visit_takes_a_landline_and_the_same_work_order_twice_is_refused(api):
    visit = call(api, channel="counter", caller_name="李四", caller_phone="010 6288 0101")
    assert visit.status_code == 201, visit.text
    intake = api(ACCEPTOR).get(f"/api/v1/cases/{visit.json()['id']}/intake").json()
    assert intake["channel_zh"] == "窗口来访" and intake["caller_phone"] == "010-****0101"
    hotline_case(api)
    again = call(api, work_order_no="GD20261123000001")
    assert again.status_code == 409 and again.json()["code"] == "work_order_taken"


# ---------------------------------------------------------------- 回访 and the 12345 reply


class Hotline12345:
    """A stand-in for the 12345 platform: records JSON posts, answers 200 or 503."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(size))
                status = 503 if outer.fail else 200
                if not outer.fail:
                    outer.received.append({"path": self.path, "body": body,
                                           "ctype": self.headers.get("Content-Type")})  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"code":0}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/workorder/reply?token=s3"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def platform() -> Iterator[Hotline12345]:
    stub = Hotline12345()
    yield stub
    stub.server.shutdown()


def close(session, case_id: int) -> None:
    case = session.get(Case, case_id)
    at = T0 + timedelta(hours=2)
    for action, who, extra in (
        ("accept", ACCEPTOR, {}), ("request_verification", ACCEPTOR, {}),
        ("verify_true", SUPERVISOR, {"photos": ["p"]}), ("file", SHIFT, {}),
        ("dispatch", DISPATCHER, {"department": CGW}), ("department_accept", HANDLER, {}),
        ("feed_back", HANDLER, {"photos": ["p"]}), ("request_check", ACCEPTOR, {}),
        ("check_pass", SUPERVISOR, {"photos": ["p"]}), ("close", SHIFT, {}),
    ):  # fmt: skip
        case = do(session, case, action, who, at, **extra)
        at += timedelta(minutes=10)
    assert case.state == "closed"


def test_callback_and_final_reply_reach_the_12345_platform_as_json(api, session, platform):
    case = hotline_case(api)
    cid = case["id"]
    reply = {"kind": "final", "result": "resolved", "text": "已清理完毕，感谢来电。"}
    early = api(ACCEPTOR).post(f"/api/v1/cases/{cid}/hotline-replies", json=reply)
    assert early.status_code == 409 and early.json()["code"] == "case_not_closed"
    progress = api(ACCEPTOR).post(
        f"/api/v1/cases/{cid}/hotline-replies", json={"kind": "progress", "text": "已派遣处置"}
    )
    assert progress.status_code == 201, progress.text
    close(session, cid)
    api.holder["now"] = T0 + timedelta(hours=5)
    cb = {"reached": True, "satisfaction": "satisfied", "note": "来电人表示满意"}
    assert api(ACCEPTOR).post(f"/api/v1/cases/{cid}/callbacks", json=cb).status_code == 201
    r = api(ACCEPTOR).post(f"/api/v1/cases/{cid}/hotline-replies", json=reply)
    assert r.status_code == 201, r.text
    twice = api(ACCEPTOR).post(f"/api/v1/cases/{cid}/hotline-replies", json=reply)
    assert twice.status_code == 409 and twice.json()["code"] == "final_reply_sent"
    queued = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.topic == "hotline.reply")
        .order_by(OutboxMessage.id)
    ).all()
    assert [m.channel for m in queued] == ["hotline", "hotline"]
    # delivered by the outbox machinery; a failing platform is retried, not lost
    settings = Settings(notify_secrets={"hotline12345": platform.url})
    channels = build_channels(settings, timeout=5.0)
    platform.fail = True
    first = deliver_pending(session, channels, now=T0 + timedelta(hours=6), timeout=5.0)
    assert first.failed == 2 and platform.received == []
    platform.fail = False
    later = deliver_pending(session, channels, now=T0 + timedelta(hours=7), timeout=5.0)
    assert later.sent == 2
    bodies = [p["body"] for p in platform.received]
    assert platform.received[0]["path"].startswith("/api/workorder/reply")
    assert platform.received[0]["ctype"] == "application/json"
    final = next(b for b in bodies if b["kind"] == "final")
    assert final["work_order_no"] == "GD20261123000001" and final["result"] == "resolved"
    assert final["reply"] == "已清理完毕，感谢来电。" and final["case_code"] == case["code"]
    assert final["callback"]["reached"] is True and final["callback"]["satisfaction"] == "satisfied"
    assert next(b for b in bodies if b["kind"] == "progress")["result"] == "in_progress"
    assert PHONE not in json.dumps(bodies)  # the platform knows its caller: no personal data sent
    shown = api(ACCEPTOR).get(f"/api/v1/cases/{cid}/intake").json()
    assert [x["delivery"] for x in shown["replies"]] == ["sent", "sent"]
    assert shown["callbacks"][0]["satisfaction"] == "satisfied" and shown["final_reply_sent"]


def test_a_reply_without_a_secret_dead_letters_after_its_attempts(api, session):
    case = hotline_case(api)
    api(ACCEPTOR).post(f"/api/v1/cases/{case['id']}/hotline-replies",
                       json={"kind": "progress", "text": "处理中"})  # fmt: skip
    channels = build_channels(Settings(), timeout=2.0)
    at = T0 + timedelta(hours=2)
    for _ in range(3):
        deliver_pending(session, channels, now=at, timeout=2.0, max_attempts=3)
        at += timedelta(days=1)
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "hotline.reply")).one()
    assert msg.status == "dead" and "hotline12345" in (msg.last_error or "")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"reached": False, "satisfaction": "satisfied"}, 422, "satisfaction_without_contact"),
        ({"reached": True}, 422, "satisfaction_required"),
        ({"reached": True, "satisfaction": "great"}, 422, "unknown_satisfaction"),
    ],
)
def test_bad_callbacks_are_refused(api, body, status, code):
    case = hotline_case(api)
    r = api(ACCEPTOR).post(f"/api/v1/cases/{case['id']}/callbacks", json=body)
    assert r.status_code == status and r.json()["code"] == code


def test_callbacks_and_replies_need_a_caller_case_a_work_order_and_an_acceptor(api):
    patrol = api(SUPERVISOR).post("/api/v1/cases", json={
        "category_code": "E0102", "description": "巡查", "lon": LON, "lat": LAT})  # fmt: skip
    pid = patrol.json()["id"]
    r = api(ACCEPTOR).post(f"/api/v1/cases/{pid}/callbacks", json={"reached": False})
    assert r.status_code == 422 and r.json()["code"] == "not_hotline_case"
    counter = call(api, channel="counter", caller_phone=PHONE).json()
    r = api(ACCEPTOR).post(f"/api/v1/cases/{counter['id']}/hotline-replies",
                           json={"kind": "progress", "text": "x"})  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "not_hotline_case"
    no_number = call(api).json()
    r = api(ACCEPTOR).post(f"/api/v1/cases/{no_number['id']}/hotline-replies",
                           json={"kind": "progress", "text": "x"})  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "no_work_order"
    r = api(SUPERVISOR).post(f"/api/v1/cases/{counter['id']}/callbacks", json={"reached": False})
    assert r.status_code == 403 and r.json()["code"] == "acceptor_required"


# ---------------------------------------------------------------- cameras and video events


def test_the_video_supervisor_raises_a_case_at_the_camera(api):
    body = {"category_code": "E0102", "description": "摄像头发现垃圾", "lon": 0.0, "lat": 0.0,
            "source": "video", "intake": {"channel": "video", "camera_key": "SP00001"}}  # fmt: skip
    r = api(VIDEO).post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["source"] == "video"
    assert (round(case["lon"], 6), round(case["lat"], 6)) == (round(LON, 6), round(LAT, 6))
    detail = api(VIDEO).get(f"/api/v1/cases/{case['id']}").json()
    assert detail["intake"]["camera"]["key"] == "SP00001"
    page = api(VIDEO).get(f"/console/cases/{case['id']}").text
    assert 'data-testid="camera" data-key="SP00001"' in page
    far = api(VIDEO).post("/api/v1/cases", json={**body, "intake": {"channel": "video",
                                                                     "camera_key": "SP00002"}})  # fmt: skip
    assert far.status_code == 403 and far.json()["code"] == "camera_outside_area"
    unknown = api(VIDEO).post("/api/v1/cases", json={**body, "intake": {"channel": "video",
                                                                         "camera_key": "SP99999"}})  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_camera"
    hotline = api(VIDEO).post("/api/v1/cases", json={**body, "source": "patrol"})
    assert hotline.status_code == 403  # a video post does not patrol
    cams = api(VIDEO).get(
        "/api/v1/cameras", params={"bbox": f"{LON - 0.1},{LAT - 0.1},{LON + 0.1},{LAT + 0.1}"}
    )
    assert [c["key"] for c in cams.json()["items"]] == ["SP00001"]  # SP00002 lies outside his area


def event(api, who=VIDEO, **kw):
    body = {"camera_key": "SP00001", "category_code": "E0102",
            "event_at": (T0 + timedelta(minutes=30)).isoformat(), "external_id": "ev-1", **kw}  # fmt: skip
    return api(who).post("/api/v1/video-events", json=body)


def test_video_events_open_one_case_per_camera_and_category_while_it_is_open(api, session):
    first = event(api)
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["opened_case"] and opened["event_count"] == 1
    same = event(api)  # the platform retried: the same answer, nothing counted
    assert same.status_code == 200 and same.json()["repeated"]
    assert same.json()["case_id"] == opened["case_id"] and same.json()["event_count"] == 1
    later = (T0 + timedelta(minutes=50)).isoformat()
    repeat = event(api, external_id="ev-2", event_at=later)
    assert repeat.status_code == 200
    assert repeat.json()["case_id"] == opened["case_id"] and repeat.json()["event_count"] == 2
    other = event(api, external_id="ev-3", category_code="E0103")
    assert other.status_code == 201 and other.json()["case_id"] != opened["case_id"]
    detail = api(VIDEO).get(f"/api/v1/cases/{opened['case_id']}").json()
    assert detail["intake"]["channel"] == "video_ai" and detail["intake"]["event_count"] == 2
    assert detail["intake"]["external_event_id"] == "ev-1"
    assert session.scalar(select(Case.source).where(Case.id == opened["case_id"])) == "video"
    # once the case is closed and the window has passed, the camera opens a new case
    case = session.get(Case, opened["case_id"])
    case.state = "closed"
    session.flush()
    api.holder["now"] = T0 + timedelta(days=1)
    fresh = event(api, external_id="ev-4", event_at=(T0 + timedelta(days=1)).isoformat())
    assert fresh.status_code == 201 and fresh.json()["case_id"] not in (
        opened["case_id"],
        other.json()["case_id"],
    )


def test_a_repeat_within_the_window_joins_even_a_closed_case(api, session):
    opened = event(api).json()
    session.get(Case, opened["case_id"]).state = "closed"
    session.flush()
    api.holder["now"] = NOW + timedelta(minutes=30)  # inside the default 120 minutes
    again = event(api, external_id="ev-9")
    assert again.status_code == 200 and again.json()["case_id"] == opened["case_id"]


def test_video_events_with_a_snapshot_attach_the_photo(api):
    up = api(VIDEO).post("/api/v1/uploads", files={"file": ("s.jpg", jpeg(), "image/jpeg")})
    ref = f"/api/v1/uploads/{up.json()['id']}"
    r = event(api, snapshot=ref)
    assert r.status_code == 201, r.text
    assert api(VIDEO).get(f"/api/v1/cases/{r.json()['case_id']}").json()["photos"] == [ref]


@pytest.mark.parametrize(
    ("change", "who", "status", "code"),
    [
        ({"camera_key": "SP99999"}, VIDEO, 422, "unknown_camera"),
        ({"camera_key": "SP00002"}, VIDEO, 403, "camera_outside_area"),
        ({"category_code": "Z9999"}, VIDEO, 422, "unknown_category"),
        ({}, ACCEPTOR, 403, "video_post_required"),
        ({"event_at": "2026-11-23T09:30:00"}, VIDEO, 422, "naive_datetime"),
        ({"event_at": "2026-11-24T09:30:00+08:00"}, VIDEO, 422, "event_in_future"),
    ],
)
def test_bad_video_events_are_refused_in_both_languages(api, session, change, who, status, code):
    r = event(api, who=who, **change)
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem["code"] == code and problem["detail"] and problem["detail_en"]
    assert session.scalar(select(Case.id)) is None
