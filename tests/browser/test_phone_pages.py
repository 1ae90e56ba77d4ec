"""The grid-worker PWA (offline reports, patrol) and the citizen page, on a phone-sized screen."""

from __future__ import annotations

import pytest

from tests.browser.conftest import jpeg, shot
from tests.browser.test_console import community_point

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_the_mobile_page_queues_a_report_while_offline_and_sends_it_when_back_online(
    new_page, tmp_path
):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page(
        "jiandu",
        **PHONE,
        geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
    )
    page.goto("/m")
    page.wait_for_selector("#category option", state="attached")
    page.wait_for_function("document.getElementById('mygrid-text').textContent.length > 0")
    assert page.locator("link[rel=manifest]").count() == 1
    manifest = page.request.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m" and manifest["display"] == "standalone"

    page.context.set_offline(True)
    page.click("#locate")
    page.wait_for_function("document.getElementById('lon').value !== ''")
    page.select_option("#category", "E0102")
    page.fill("#description", "离线上报：路口垃圾满溢")
    page.set_input_files("#photo", str(jpeg(tmp_path)))
    page.click("#report-submit")
    page.wait_for_function("document.getElementById('queued').textContent === '1'")
    assert page.inner_text("#sent") == "0"
    assert "离线" in page.inner_text("#report-msg")
    shot(page, "mobile-offline-queued", full_page=True)

    page.context.set_offline(False)
    page.wait_for_function("document.getElementById('sent').textContent === '1'", timeout=30_000)
    assert page.inner_text("#queued") == "0"
    code = page.get_attribute("#sent-list li", "data-code")
    found = page.request.get("/api/v1/cases?queue=&limit=5").json()["items"]
    mine = [c for c in found if c["code"] == code]
    assert mine and mine[0]["description"] == "离线上报：路口垃圾满溢"
    assert mine[0]["photos"] and mine[0]["photos"][0].startswith("/api/v1/uploads/")


def test_the_mobile_page_starts_and_stops_a_patrol_that_records_the_track(new_page):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page(
        "jiandu",
        **PHONE,
        geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
    )
    page.goto("/m")
    page.wait_for_selector("#category option", state="attached")
    page.click("#patrol-btn")
    page.wait_for_function("document.getElementById('patrol-state').textContent.includes('#')")
    patrol_id = int(page.evaluate("localStorage.getItem('wg.patrol')"))
    for i in range(5):
        page.context.set_geolocation({"longitude": lon + 0.0002 * (i + 1), "latitude": lat})
        page.wait_for_timeout(300)
    shot(page, "mobile-patrol", full_page=True)
    page.click("#patrol-btn")
    page.wait_for_function("document.getElementById('patrol-state').textContent === ''")
    patrol = page.request.get(f"/api/v1/patrols/{patrol_id}").json()
    assert patrol["ended_at"] is not None


def test_the_citizen_page_finds_the_grid_and_its_posted_grid_workers(new_page):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page(**PHONE)
    page.goto("/citizen")
    page.fill("#g-lon", f"{lon:.6f}")
    page.fill("#g-lat", f"{lat:.6f}")
    page.click("#grid-btn")
    page.wait_for_selector("[data-testid=grid-name]")
    workers = page.locator("[data-testid=worker]").all_inner_texts()
    assert any("王建国" in w and "010-6288-0101" in w for w in workers)
    assert any("李秀英" in w for w in workers)
    page.locator("#grid-out").scroll_into_view_if_needed()
    shot(page, "citizen-my-grid-worker", full_page=True)


def test_a_wrong_tracking_code_says_so_without_revealing_anything(new_page):
    page = new_page(**PHONE)
    page.goto("/citizen")
    page.fill("#tracking", "110108202611260000001-notmysecret")
    page.click("#track-btn")
    page.wait_for_selector("#track-out .msg.err")
    assert "查询编码不正确" in page.inner_text("#track-out")
