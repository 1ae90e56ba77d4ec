"""代办 end to end on phone-sized screens: a resident requests a service on the citizen page,
the grid worker of his community takes and closes it on the phone page, the resident sees it
done and rates it."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.browser.test_console import community_point
from wangge.cases.deadlines import SHANGHAI

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_a_resident_requests_a_service_the_grid_worker_closes_it_and_the_resident_rates_it(
    new_page,
):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    where = {"geolocation": {"longitude": lon, "latitude": lat}, "permissions": ["geolocation"]}

    resident = new_page(None, **PHONE, **where)
    resident.goto("/citizen")
    resident.wait_for_selector("#svc-service option[value='YB-01']", state="attached")
    resident.select_option("#svc-service", "YB-01")
    materials = resident.locator("[data-testid=svc-material-list]")
    assert "居民身份证" in materials.inner_text()
    assert "24" in resident.inner_text("[data-testid=svc-rule]")
    resident.fill("#svc-name", "张秀英")
    resident.fill("#svc-phone", "13812345678")
    resident.fill("#svc-description", "帮母亲办理医保缴费")
    resident.click("#svc-locate")
    resident.wait_for_function("document.getElementById('svc-lon').value !== ''")
    resident.click("#svc-submit")
    resident.wait_for_selector("[data-testid=svc-tracking-code]")
    tracking = resident.inner_text("[data-testid=svc-tracking-code]")
    code = tracking.rpartition("-")[0]
    assert "承诺" in resident.inner_text("#svc-msg")

    worker = new_page("jiandu", **PHONE, **where)
    worker.goto("/m")
    item = worker.locator(f"[data-svc-request][data-code='{code}']")
    item.wait_for()
    assert item.locator(".lamp.green, .lamp.yellow, .lamp.red").count() >= 1
    item.click()
    worker.wait_for_selector("#svc-phone")
    assert worker.inner_text("#svc-phone") == "138****5678"  # masked until revealed (audited)
    worker.click("[data-svc-act=take]")
    worker.wait_for_selector("#svc-note")
    worker.fill("#svc-note", "已代缴 2027 年度医保")
    worker.click("[data-svc-act=close]")
    worker.wait_for_function(f"!document.querySelector(\"[data-svc-request][data-code='{code}']\")")
    assert "办结" in worker.inner_text("#svc-detail")

    resident.fill("#svc-tracking", tracking)
    resident.click("#svc-track-btn")
    resident.wait_for_selector("[data-testid=svc-state][data-state=closed]")
    assert "已代缴 2027 年度医保" in resident.inner_text("[data-testid=svc-result]")
    resident.click("[data-svc-rate=satisfied]")
    resident.wait_for_selector("[data-testid=svc-state][data-state=rated]")
    assert "满意" in resident.inner_text("[data-testid=svc-rating]")

    # The evaluation page counts it among the 代办 figures, apart from the problem cases.
    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    admin = new_page("admin")
    admin.goto(f"/console/evaluation?period={month}")
    total = admin.locator("[data-testid=eval-services-total]")
    total.wait_for()
    assert int(total.locator("[data-col=requested]").inner_text()) >= 1
    assert int(total.locator("[data-col=rated]").inner_text()) >= 1
