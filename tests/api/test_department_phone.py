"""The department handler's phone page and its work queue, through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.case_factories import (
    ACCEPTOR,
    HANDLER,
    OTHER_HANDLER,
    SUPERVISOR,
    SZSR,
    jpeg,
    report,
    to_dispatched,
)
from wangge.auth.principal import ANONYMOUS
from wangge.cases.models import Case, CaseEvent
from wangge.common.models import utcnow


def _as(holder: dict, who) -> None:  # type: ignore[no-untyped-def]
    holder["who"] = who


def _dispatched(session, department: str | None = None) -> Case:  # type: ignore[no-untyped-def]
    now = utcnow()
    case = report(session, at=now)
    return to_dispatched(session, case, now, **({"department": department} if department else {}))


def _worklist(client: TestClient) -> dict:
    r = client.get("/web/api/m/department/worklist")
    assert r.status_code == 200, r.text
    return r.json()


def _ids(section: dict) -> set[int]:
    return {c["id"] for c in section["items"]}


def test_the_page_is_for_department_handlers_and_m_sends_them_there(web):
    client, holder = web
    r = client.get("/m/department", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/m/department"

    _as(holder, HANDLER)
    page = client.get("/m/department")
    assert page.status_code == 200 and 'id="work"' in page.text
    assert "/static/department_mobile.js" in page.text and "/static/outbox.js" in page.text
    r = client.get("/m", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/m/department"
    console = client.get("/console/cases")
    assert 'href="/m/department" data-testid="phone-link"' in console.text

    _as(holder, SUPERVISOR)  # a grid worker keeps /m and is sent back there
    assert client.get("/m", follow_redirects=False).status_code == 200
    r = client.get("/m/department", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/m"
    assert 'href="/m" data-testid="phone-link"' in client.get("/console/cases").text

    _as(holder, ACCEPTOR)  # no department, no grid: refused with a reason
    r = client.get("/m/department", follow_redirects=False)
    assert r.status_code == 403 and "只有专业部门处置人员" in r.text
    r = client.get("/web/api/m/department/worklist")
    assert r.status_code == 403 and r.json()["code"] == "not_a_department_handler"
    _as(holder, ANONYMOUS)
    assert client.get("/web/api/m/department/worklist").status_code == 401


def test_a_handler_sees_his_department_cases_by_queue_and_never_another_department(web, session):
    client, holder = web
    mine = _dispatched(session)  # to the HANDLER's department (城管委)
    theirs = _dispatched(session, SZSR)  # to OTHER_HANDLER's

    _as(holder, HANDLER)
    work = _worklist(client)
    assert mine.id in _ids(work["to_sign"]) and theirs.id not in _ids(work["to_sign"])
    assert not any(theirs.id in _ids(s) for s in work.values())
    row = next(c for c in work["to_sign"]["items"] if c["id"] == mine.id)
    assert row["category_name"] and row["category_name"] != row["category_code"]
    assert row["part_state"] == "dispatched" and row["deadline"] and row["light"]
    assert client.get(f"/api/v1/cases/{theirs.id}").status_code == 404

    _as(holder, OTHER_HANDLER)
    work = _worklist(client)
    assert _ids(work["to_sign"]) == {theirs.id}

    # His part moves through the queues: signed → 处置中; an extension asked → waiting.
    _as(holder, HANDLER)
    version = client.get(f"/api/v1/cases/{mine.id}").json()["version"]
    r = client.post(
        f"/api/v1/cases/{mine.id}/actions/department_accept", json={"expected_version": version}
    )
    assert r.status_code == 200, r.text
    work = _worklist(client)
    assert mine.id in _ids(work["in_progress"]) and mine.id not in _ids(work["to_sign"])
    r = client.post(
        f"/api/v1/cases/{mine.id}/actions/request_extension",
        json={"expected_version": r.json()["version"], "note": "材料未到", "payload": {"hours": 8}},
    )
    assert r.status_code == 200, r.text
    work = _worklist(client)
    assert mine.id in _ids(work["pending"]) and mine.id not in _ids(work["in_progress"])
    waiting = next(c for c in work["pending"]["items"] if c["id"] == mine.id)
    assert waiting["part_state"] == "extension_requested" and work["pending"]["count"] == 1
    assert work["to_sign"]["count"] == len(work["to_sign"]["items"])


def test_a_resent_action_with_its_key_is_done_once_and_a_stale_one_is_a_clear_conflict(
    web, session
):
    client, holder = web
    case = _dispatched(session)
    _as(holder, HANDLER)
    version = client.get(f"/api/v1/cases/{case.id}").json()["version"]
    signed = client.post(
        f"/api/v1/cases/{case.id}/actions/department_accept", json={"expected_version": version}
    ).json()

    # 申请延期 without hours: refused, naming what is missing in both languages.
    r = client.post(
        f"/api/v1/cases/{case.id}/actions/request_extension",
        json={"expected_version": signed["version"], "note": "等材料"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "hours_required"
    assert "时长" in r.json()["detail"] and "hours" in r.json()["detail_en"]

    up = client.post("/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert up.status_code == 201, up.text
    body = {
        "expected_version": signed["version"],
        "note": "已清理",
        "photos": [f"/api/v1/uploads/{up.json()['id']}"],
    }
    headers = {"Idempotency-Key": "phone-row-1"}
    url = f"/api/v1/cases/{case.id}/actions/feed_back"
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)  # the phone never saw the answer
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["state"] == "handled"
    events = session.query(CaseEvent).filter_by(case_id=case.id, action="feed_back").count()
    assert events == 1

    # Without the key, the same stale request is the version conflict the phone shows.
    r = client.post(url, json=body)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    assert (
        "已被他人修改" in r.json()["detail"] and "changed by someone else" in r.json()["detail_en"]
    )
    # A key reused for another request is refused, not replayed.
    r = client.post(url, json={**body, "note": "另一个"}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_mismatch"
