"""The finish of the pages in a real browser: the language switch, one time format, the
citizen's double click and tracking codes, the phone page reloaded without network."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

from tests.browser.conftest import jpeg, set_position, submit_while_storage_refuses, wait_for_text
from tests.browser.test_console import community_point
from tests.browser.test_phone_pages import PHONE, citizen_report_form

pytestmark = pytest.mark.browser
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
FMT = "['2026-12-04T01:30:00Z', '2026-12-04T01:30:00.250+00:00', '2026-12-04'].map(WG.fmt)"


def test_the_language_switch_keeps_the_page_its_query_and_what_a_script_put_there(new_page):
    page = new_page("admin")
    page.goto("/console/cases?queue=all&q=1101")
    assert page.evaluate(FMT) == ["2026-12-04 09:30", "2026-12-04 09:30", "2026-12-04"]
    with page.expect_navigation():
        page.click("#lang-switch")
    assert page.url.endswith("/console/cases?queue=all&q=1101")
    assert page.inner_text("h1") == "Work queues"
    assert page.inner_text("[data-queue=all]") == "All"
    assert page.input_value("input[name=q]") == "1101"
    assert page.evaluate(FMT) == ["2026-12-04 09:30", "2026-12-04 09:30", "2026-12-04"]

    page.evaluate("history.replaceState(null, '', '/console/cases?queue=overdue&q=2026')")
    with page.expect_navigation():
        page.click("#lang-switch")
    assert page.url.endswith("/console/cases?queue=overdue&q=2026")
    assert "工作队列" in page.inner_text("h1")
    assert page.inner_text("[data-queue=overdue]").startswith("超期")


def test_a_double_click_files_one_citizen_report_and_every_tracking_code_stays_shown(new_page):
    description = f"双击不重复：垃圾满溢 {uuid4().hex[:8]}"  # unique on a reused server
    page = citizen_report_form(new_page, description)
    inside = page.input_value("#lon"), page.input_value("#lat")
    page.fill("#lon", "100.000000")  # far outside the district
    page.fill("#lat", "30.000000")
    page.click("#report-submit")
    refusal = page.locator("#report-msg.err").inner_text()
    assert "服务范围" in refusal and "12345" in refusal and "区县" not in refusal

    page.fill("#lon", inside[0])
    page.fill("#lat", inside[1])
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.dblclick("#report-submit")
    first = page.locator("[data-testid=tracking]").inner_text()
    assert len([u for u in posts if u.endswith("/web/api/citizen/reports")]) == 1
    acceptor = new_page("shouli")
    found = acceptor.request.get("/api/v1/cases?category=E0102&state=reported&limit=500").json()
    assert [c["code"] for c in found["items"] if c["description"] == description] == [
        first.rsplit("-", 1)[0]
    ]

    # A second report whose answer never comes: the error shows, the first code stays.
    page.fill("#description", description + "（另一处）")
    page.route("**/web/api/citizen/reports", lambda route: route.abort())
    page.click("#report-submit")
    page.wait_for_selector("#report-msg.err")
    assert first in page.inner_text("[data-testid=my-tracking]")
    page.unroute("**/web/api/citizen/reports")
    page.click("#report-submit")  # the same submission again: now it goes through
    second = page.locator("[data-testid=tracking]").inner_text()
    page.reload()
    kept = page.locator("#my-tracking-list li").all_inner_texts()
    assert kept == [second, first]

    page.click(f"[data-tracking='{first}']")
    page.wait_for_selector("#track-out .timeline .when")
    assert all(STAMP.match(w) for w in page.locator("#track-out .when").all_inner_texts())
    assert page.locator("#track-out [data-state=reported]").inner_text() == "已上报"


def test_the_phone_page_reloaded_offline_still_takes_reports_and_counts_the_queued_one(
    new_page, tmp_path
):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page("jiandu", **PHONE)
    page.goto("/m")
    page.wait_for_selector("#category option[value=E0102]", state="attached")
    page.wait_for_function("navigator.serviceWorker.controller !== null")  # the shell is kept

    page.context.set_offline(True)
    set_position(page, lon, lat)
    page.select_option("#category", "E0102")
    description = f"离线后刷新：垃圾满溢 {uuid4().hex[:8]}"
    page.fill("#description", description)
    page.set_input_files("#photo", str(jpeg(tmp_path)))
    assert page.input_value("#lon") == f"{lon:.6f}"  # still there as it is sent
    page.click("#report-submit")
    wait_for_text(page, "#queued", "1")

    page.reload()  # still offline: the service worker serves the page
    page.wait_for_selector("#category option[value=E0102]", state="attached")
    wait_for_text(page, "#queued", "1")
    assert page.locator("#category option").count() > 10
    assert page.inner_text("[data-testid=net]") == "离线"

    page.context.set_offline(False)
    wait_for_text(page, "#sent", "1", timeout=30_000)
    # The two counters are redrawn one after the other: wait for the queue's to follow.
    wait_for_text(page, "#queued", "0")
    code = page.get_attribute("#sent-list li", "data-code")
    mine = page.request.get("/api/v1/cases?queue=&limit=20").json()["items"]
    assert [c["description"] for c in mine if c["code"] == code] == [description]
    page.wait_for_selector("#tasks .badge")  # what needs the server started once it was back


def test_a_report_the_phone_cannot_keep_says_so_keeps_the_form_and_goes_on_the_next_try(
    new_page, tmp_path
):
    page = new_page("jiandu", **PHONE)
    _community, lon, lat = community_point(page)
    page.goto("/m")
    page.wait_for_selector("#category option[value=E0102]", state="attached")
    set_position(page, lon, lat)
    page.select_option("#category", "E0102")
    description = f"存不下：井盖缺失 {uuid4().hex[:8]}"
    page.fill("#description", description)
    submit_while_storage_refuses(page, "#report-submit", "#report-msg", "#queued")
    assert page.input_value("#description") == description  # nothing typed is lost
    page.click("#report-submit")
    wait_for_text(page, "#sent", "1")
    code = page.get_attribute("#sent-list li", "data-code")
    mine = page.request.get("/api/v1/cases?queue=&limit=20").json()["items"]
    assert [c["description"] for c in mine if c["code"] == code] == [description]
