"""Notifications walked as the centre lives them: a dispatch made on the case page reaches the
department's WeCom group robot and a handler's phone (Aliyun SMS) with nobody running a job;
a send the gateways refuse becomes a dead letter that the administrator retries from the page.

The demo server delivers by itself to local stand-ins that check the real services' request
formats and signatures (`tests.notify_support.Gateways`, `conftest.delivery_env`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.browser.conftest import shot
from tests.browser.test_case_inputs import press, report
from tests.browser.test_console import community_point
from tests.browser.test_phone_pages import api_act
from wangge.demo import DEMO_COUNTY

pytestmark = pytest.mark.browser
MOBILE = "13800138000"


def _until(done: Callable[[], object], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


def _post(page, path: str, body: dict) -> dict:
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = page.request.post(path, data=body, headers={"X-CSRF-Token": csrf})
    assert r.ok, r.text()
    return r.json()


def _filed_case(new_page, description: str) -> dict:
    worker = new_page("jiandu")
    _community, lon, lat = community_point(worker)
    case = report(worker, lon, lat, description)
    api_act(new_page("shouli"), case["id"], "accept")
    api_act(new_page("zhiban"), case["id"], "file")
    return case


def _heard(gateways, kind: str, code: str) -> list[dict]:
    found = []
    for r in list(gateways.received):
        text = r.get("content") or " ".join(str(v) for v in r.get("params", {}).values())
        if r["kind"] == kind and code in text:
            found.append(r)
    return found


def test_a_dispatch_reaches_the_robot_and_the_phone_and_a_dead_letter_is_retried_from_the_page(
    new_page, notify_gateways
):
    gateways = notify_gateways
    admin = new_page("admin")
    department = new_page("bumen").request.get("/api/v1/auth/me").json()["department_codes"][0]
    # A handler with a mobile phone, and the department's robot and SMS routes.
    _post(
        admin,
        "/api/v1/users",
        {
            "username": "duanxin",
            "display_name": "短信处置员",
            "password": "Notify-Walk-2026",
            "phone": MOBILE,
            "posts": [{"role": "department", "department": department}],
        },
    )
    for channel, name, ref in (
        ("wecom", "处置部门值班群", "cgw_wecom"),
        ("sms", "处置部门短信", None),
    ):
        route = {"county_code": DEMO_COUNTY, "department_code": department, "channel": channel}
        _post(admin, "/api/v1/notification-routes", {**route, "name": name, "url_ref": ref})

    case = _filed_case(new_page, "通知演练：道路积水")
    dispatcher = new_page("paiqian")
    dispatcher.goto(f"/console/cases/{case['id']}")
    dispatcher.select_option("#department", department)
    with dispatcher.expect_navigation():
        press(dispatcher, "dispatch")
    assert dispatcher.get_attribute("[data-testid=case-state]", "data-state") == "dispatched"

    code = case["code"]
    _until(lambda: _heard(gateways, "wecom", code), "the WeCom robot hears the dispatch")
    _until(lambda: _heard(gateways, "sms", code), "the handler's phone gets the SMS")
    assert "派遣" in _heard(gateways, "wecom", code)[0]["content"]
    assert _heard(gateways, "sms", code)[0]["phones"] == [MOBILE]
    assert gateways.violations == []

    # The gateways refuse: the messages become dead letters, listed with the error.
    second = _filed_case(new_page, "通知演练：井盖缺失")
    gateways.mode = "fail"
    try:
        api_act(dispatcher, second["id"], "dispatch", payload={"department": department})

        def dead() -> list[dict]:
            rows = admin.request.get(f"/api/v1/notifications/dead?county={DEMO_COUNTY}").json()
            return [d for d in rows if d["case_id"] == second["id"]]

        _until(lambda: len(dead()) == 2, "both sends given up")
    finally:
        gateways.mode = "ok"
    admin.goto("/console/notifications")
    rows = admin.locator(f"#dead-letters tr:has(a[href='/console/cases/{second['id']}'])")
    assert rows.count() == 2
    errors = " ".join(rows.locator("[data-col=error]").all_inner_texts())
    assert "45009" in errors and "BUSINESS_LIMIT_CONTROL" in errors  # the gateways' answers
    shot(admin, "console-notifications-dead-letters")

    for button in rows.locator("[data-retry]").all():
        button.click()
    admin.wait_for_selector("[data-testid=flash]:not(:empty)")
    code = second["code"]
    _until(lambda: _heard(gateways, "wecom", code), "the retried robot message")
    _until(lambda: _heard(gateways, "sms", code), "the retried SMS")
    _until(lambda: not dead(), "no dead letter left")
    admin.reload()
    assert admin.locator(f"#dead-letters a[href='/console/cases/{second['id']}']").count() == 0
    assert gateways.violations == []
