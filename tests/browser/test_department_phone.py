"""The department handler's phone page at 390×844: sign, feed back offline with a photo, sync once."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.browser.conftest import jpeg, shot, submit_while_storage_refuses, wait_for_text
from tests.browser.test_console import community_point
from tests.browser.test_phone_pages import PHONE, api_act, upload

pytestmark = pytest.mark.browser


def dispatched_case(new_page, department: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Report a case as the grid worker and walk it to 派遣 to `department` (through the API)."""
    worker = new_page("jiandu")
    _community, lon, lat = community_point(worker)
    csrf = worker.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = worker.request.post(
        "/api/v1/cases",
        data={
            "category_code": "E0102",
            "description": f"部门手机端：垃圾满溢 {uuid4().hex[:6]}",
            "lon": lon,
            "lat": lat,
            "photos": [upload(worker)],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status == 201, r.text()
    case = r.json()
    api_act(new_page("shouli"), case["id"], "accept")
    api_act(new_page("zhiban"), case["id"], "file")
    api_act(new_page("paiqian"), case["id"], "dispatch", payload={"department": department})
    return case["id"], case["code"]


def test_a_handler_signs_feeds_back_offline_with_a_photo_and_it_is_sent_once(new_page, tmp_path):
    page = new_page("bumen", **PHONE)
    department = page.request.get("/api/v1/auth/me").json()["department_codes"][0]
    case_id, code = dispatched_case(new_page, department)

    page.goto("/m")  # the grid workers' address brings him to his own page
    assert page.url.endswith("/m/department")
    item = page.locator(f"li[data-case='{case_id}'][data-section=to_sign]")
    item.wait_for()
    assert "期限" in item.inner_text() and page.locator("[data-count=to_sign]").is_visible()
    page.wait_for_function("navigator.serviceWorker.controller !== null")  # the shell is kept
    shot(page, "mobile-department-queue", full_page=True)

    item.click()
    page.click("[data-act=department_accept]")
    page.wait_for_selector("#act-msg.ok")
    page.wait_for_selector("[data-act=feed_back]")
    assert page.inner_text("[data-testid=part-state]") == "处置中"

    # Refused at once: 申请延期 without hours names what is missing; nothing is queued.
    page.fill("#act-note", "等待配件")
    page.click("[data-act=request_extension]")
    page.wait_for_selector("#act-msg.err")
    assert "时长" in page.inner_text("#act-msg")
    assert page.inner_text("#queued") == "0"

    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url) if r.method == "POST" and "/actions/" in r.url else None,
    )
    page.context.set_offline(True)
    page.fill("#act-note", "已清理完毕")
    page.set_input_files("#act-photo", str(jpeg(tmp_path)))
    shot(page, "mobile-department-feedback", full_page=True)
    page.click("[data-act=feed_back]")
    wait_for_text(page, "#queued", "1")
    assert "离线" in page.inner_text("#act-msg")
    page.wait_for_selector("[data-testid=case-waiting]")  # no second action on a stale version
    assert page.locator("[data-act]").count() == 0

    page.reload()  # still offline: the service worker serves the page, IndexedDB the queue
    wait_for_text(page, "#queued", "1")
    assert page.inner_text("[data-testid=net]") == "离线"
    assert page.locator("#outbox-list li[data-state=queued]").count() == 1
    page.wait_for_selector(f"li[data-case='{case_id}']")  # the queue as last seen

    page.context.set_offline(False)
    wait_for_text(page, "#sent", "1", timeout=30_000)
    wait_for_text(page, "#queued", "0")
    case = page.request.get(f"/api/v1/cases/{case_id}").json()
    feedbacks = [e for e in case["timeline"] if e["action"] == "feed_back"]
    assert len(feedbacks) == 1 and len(sent) == 1  # sent once
    assert feedbacks[0]["attachments"][0].startswith("/api/v1/uploads/")
    assert case["state"] == "handled"

    acceptor = new_page("shouli")  # the centre sees it waiting for 核查
    acceptor.goto(f"/console/cases?queue=to_check&q={code}")
    assert acceptor.locator(f"#case-table tr[data-case-id='{case_id}']").count() == 1

    page.goto("/m/department?lang=en")  # English on the same page
    page.wait_for_selector("[data-count=to_sign]")
    assert "My work" in page.inner_text("main") and "To sign for" in page.inner_text("#counts")


def _case_to_sign(new_page):  # type: ignore[no-untyped-def]
    """The handler's phone page open on a case dispatched to his department, to sign for."""
    page = new_page("bumen", **PHONE)
    department = page.request.get("/api/v1/auth/me").json()["department_codes"][0]
    case_id, _code = dispatched_case(new_page, department)
    page.goto("/m/department")
    page.click(f"li[data-case='{case_id}']")
    page.wait_for_selector("[data-act=department_accept]")
    return page, case_id


def test_an_action_queued_offline_that_the_case_outran_is_shown_as_refused_not_lost(new_page):
    page, case_id = _case_to_sign(new_page)

    page.context.set_offline(True)
    page.click("[data-act=department_accept]")
    wait_for_text(page, "#queued", "1")
    api_act(new_page("bumen"), case_id, "department_accept")  # a colleague signed meanwhile

    page.context.set_offline(False)
    refused = page.locator("#outbox-list li[data-state=refused]")
    refused.wait_for(timeout=30_000)
    assert "已被他人修改" in refused.inner_text() and page.inner_text("#queued") == "0"
    refused.locator("[data-drop]").click()
    page.wait_for_function("document.querySelectorAll('#outbox-list li').length === 0")


def test_an_action_the_phone_cannot_keep_says_so_and_goes_on_the_next_try(new_page):
    page, case_id = _case_to_sign(new_page)

    submit_while_storage_refuses(page, "[data-act=department_accept]", "#act-msg", "#queued")
    assert page.is_enabled("[data-act=department_accept]")  # he can try again
    page.click("[data-act=department_accept]")
    page.wait_for_selector("#act-msg.ok")
    page.wait_for_selector("[data-act=feed_back]")
    case = page.request.get(f"/api/v1/cases/{case_id}").json()
    assert [e["action"] for e in case["timeline"]].count("department_accept") == 1
