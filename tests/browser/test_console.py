"""The center console in a real browser: a citizen report walked to closed by five users."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PASSWORD, jpeg, shot

pytestmark = pytest.mark.browser


def community_point(page) -> tuple[str, float, float]:
    """Return the supervisor's community and a point inside it (asked as the logged-in user)."""
    me = page.request.get("/api/v1/auth/me").json()
    community = me["scope_prefixes"][0]
    hit = next(
        h
        for h in page.request.get(f"/web/api/search?q={community}").json()
        if h["kind"] == "division" and h["code"] == community
    )
    return community, hit["lon"], hit["lat"]


def act(page, case_id: int, action: str, *, photo=None, department: bool = False) -> None:
    """Open the case page and press one action button; wait for the reload."""
    page.goto(f"/console/cases/{case_id}")
    if photo is not None:
        page.set_input_files("#photo", str(photo))
    if department:
        page.select_option("#department", index=0)
    with page.expect_navigation():
        page.click(f"button[data-action={action}]")
    msg = page.locator("#act-msg")
    assert not msg.is_visible() or "err" not in (msg.get_attribute("class") or "")


def state_of(page, case_id: int) -> str:
    page.goto(f"/console/cases/{case_id}")
    return page.get_attribute("[data-testid=case-state]", "data-state")


def test_a_citizen_report_walks_through_accept_file_dispatch_handle_check_and_close(
    new_page, tmp_path
):
    photo = jpeg(tmp_path)
    supervisor = new_page("jiandu")
    _community, lon, lat = community_point(supervisor)

    citizen = new_page(width=390, height=844)
    citizen.goto("/citizen")
    citizen.wait_for_selector("#category option", state="attached")
    citizen.select_option("#category", "E0102")
    citizen.fill("#description", "小区门口垃圾堆放三天无人清理")
    citizen.fill("#lon", f"{lon:.6f}")
    citizen.fill("#lat", f"{lat:.6f}")
    citizen.fill("#address", "演示路1号门口")
    citizen.set_input_files("#photo", str(photo))
    citizen.click("#report-submit")
    tracking = citizen.locator("[data-testid=tracking]").inner_text(timeout=20_000)
    code = tracking.rsplit("-", 1)[0]
    shot(citizen, "citizen-reported")

    acceptor = new_page("shouli")
    acceptor.goto(f"/console/cases?queue=all&q={code}")
    acceptor.click(f"text={code}")
    case_id = int(re.search(r"/console/cases/(\d+)", acceptor.url).group(1))
    acceptor.wait_for_selector("#duplicate-candidates li")  # likely duplicates loaded
    shot(acceptor, "console-case-reported")
    act(acceptor, case_id, "accept")
    act(acceptor, case_id, "request_verification")
    act(supervisor, case_id, "verify_true", photo=photo)
    shift = new_page("zhiban")
    act(shift, case_id, "file")
    dispatcher = new_page("paiqian")
    act(dispatcher, case_id, "dispatch", department=True)
    handler = new_page("bumen")
    act(handler, case_id, "department_accept")
    act(handler, case_id, "feed_back", photo=photo)
    act(acceptor, case_id, "request_check")
    act(supervisor, case_id, "check_pass", photo=photo)
    act(shift, case_id, "close")
    assert state_of(shift, case_id) == "closed"
    actions = shift.locator("[data-testid=timeline] li").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )
    assert actions == [
        "report",
        "accept",
        "request_verification",
        "verify_true",
        "file",
        "dispatch",
        "department_accept",
        "feed_back",
        "request_check",
        "check_pass",
        "close",
    ]
    assert shift.locator(".timeline img").count() >= 3  # the on-site photos are shown
    shot(shift, "console-case-closed", full_page=True)

    citizen.fill("#tracking", tracking)
    citizen.click("#track-btn")
    citizen.wait_for_selector("[data-rate=satisfied]")
    citizen.click("[data-rate=satisfied]")
    citizen.wait_for_selector("#track-out [data-state=rated]")
    shot(citizen, "citizen-tracking")


def test_the_queue_page_shows_each_queue_with_the_count_the_api_gives(new_page):
    page = new_page("zhiban")
    page.goto("/console/cases")
    api = page.request.get("/api/v1/cases/queues").json()
    for key, q in api.items():
        n = page.locator(f"[data-queue={key}] .n").inner_text()
        assert int(n) == q["count"], key
    assert page.locator("#case-table tr[data-case-id]").count() > 0
    shot(page, "console-queues")


def test_the_map_draws_the_district_grids_and_cases_and_drills_down_by_search(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.wait_for_function("document.getElementById('map').dataset.grids > 0")
    page.wait_for_function("document.getElementById('map').dataset.cases > 0")
    county_grids = int(page.get_attribute("#map", "data-grids"))
    assert page.evaluate("window.WG.mapFirstRenderMs") > 0
    shot(page, "console-map")
    street = page.request.get("/api/v1/divisions?level=street").json()[0]["code"]
    page.fill("#search", street)
    page.click("#search-form button")
    page.click("#hits li >> nth=0")
    page.wait_for_function(f"document.getElementById('div-name').textContent.includes('{street}')")
    assert 0 < int(page.get_attribute("#map", "data-grids")) < county_grids
    page.check("input[value=unit]")
    page.wait_for_function(f"document.getElementById('map').dataset.grids > {county_grids}")


def test_grid_versions_can_be_compared_and_validated(new_page):
    page = new_page("admin")
    page.goto("/console/grids")
    assert page.locator("#versions tr[data-version]").count() >= 2
    page.select_option(
        "#new", index=0
    )  # the demo has one version per layer: compare it with itself
    page.click("#compare")
    page.wait_for_function("document.getElementById('report-title').textContent.includes('→')")
    page.wait_for_function("!document.getElementById('report').textContent.startsWith('…')")
    page.wait_for_selector("#report h3, #report p")
    assert page.locator("#report .msg.err").count() == 0
    page.click("[data-validate] >> nth=0")
    page.wait_for_function("document.getElementById('report-title').textContent.includes('#')")
    page.wait_for_function("!document.getElementById('report').textContent.startsWith('…')")
    assert page.locator("#report table, #report .msg.ok").count() >= 1
    assert page.locator("#report .msg.err").count() == 0
    shot(page, "console-grids")


def test_the_admin_sees_every_demo_user_and_others_are_refused(new_page):
    page = new_page("admin")
    page.goto("/console/users")
    body = page.locator("#users").inner_text()
    for name in ("shouli", "zhiban", "paiqian", "jiandu", "bumen"):
        assert name in body
    shot(page, "console-users")
    other = new_page("shouli")
    other.goto("/console/users")
    assert other.locator("#users").count() == 0


def test_the_console_switches_to_english_and_back(new_page):
    page = new_page("admin")
    page.goto("/console/cases")
    assert "工作队列" in page.inner_text("h1")
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Work queues"
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert "工作队列" in page.inner_text("h1")


def test_a_console_page_without_login_goes_to_the_login_page(new_page):
    page = new_page()
    page.goto("/console/cases")
    assert page.url.endswith("/login?next=/console/cases")
    shot(page, "login")
    page.fill("#username", "shouli")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    assert page.url.endswith("/console/cases")
