"""受理登记 in a real browser: a 12345 call registered with caller and work order, walked to
closed and answered back (回访 and reply); a camera case raised by the video supervisor."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import jpeg, shot
from tests.browser.test_console import act, community_point

pytestmark = pytest.mark.browser


def click_map_at(page, lon: float, lat: float) -> None:
    """Centre the intake map on a point and click there, as a user would."""
    page.wait_for_function("window.WG && window.WG.intakeMap")
    page.evaluate(f"void WG.intakeMap.setView([{lat}, {lon}], 17, {{animate: false}})")
    box = page.locator("#intake-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=position][data-lon]")


def test_a_hotline_call_is_registered_dispatched_closed_and_answered_back(new_page, tmp_path):
    photo = jpeg(tmp_path)
    supervisor = new_page("jiandu")
    _community, lon, lat = community_point(supervisor)  # his community: he verifies on site
    acceptor = new_page("shouli")
    acceptor.goto("/console")
    acceptor.click("nav >> text=受理登记")
    acceptor.wait_for_selector("#intake-form[data-mode=call]")
    order = f"GD{int(time.time() * 1000)}"
    acceptor.select_option("#channel", "hotline_12345")
    acceptor.fill("#work_order_no", order)
    acceptor.fill("#caller_name", "赵子龙")
    acceptor.fill("#caller_phone", "139 1234 5678")
    acceptor.select_option("#category_code", "E0102")
    acceptor.fill("#description", "市民来电：小区门口垃圾堆放三天无人清理")
    acceptor.fill("#address", "演示路1号门口")
    click_map_at(acceptor, lon, lat)
    acceptor.wait_for_function(  # the district's basemap drawn before the picture
        "(() => { const t = [...document.querySelectorAll('#intake-map img.leaflet-tile')];"
        " return t.length > 0 && t.every(i => i.classList.contains('leaflet-tile-loaded')); })()"
    )
    acceptor.wait_for_timeout(300)  # the tiles' fade-in
    shot(acceptor, "console-intake-hotline")
    with acceptor.expect_navigation(url=re.compile(r"/console/cases/\d+$")):
        acceptor.click("#intake-submit")
    case_id = int(re.search(r"/console/cases/(\d+)", acceptor.url).group(1))
    card = acceptor.locator("[data-testid=intake-card]")
    assert card.locator("[data-testid=work-order-no]").inner_text() == order
    assert card.locator("[data-testid=caller-phone]").inner_text().startswith("139****5678")
    assert "赵子龙" not in acceptor.content() and "赵**" in card.inner_text()
    assert acceptor.get_attribute("[data-testid=source]", "data-source") == "hotline"

    act(acceptor, case_id, "accept")
    act(acceptor, case_id, "request_verification")
    act(supervisor, case_id, "verify_true", photo=photo)
    shift = new_page("zhiban")
    act(shift, case_id, "file")
    handler = new_page("bumen")
    # to the handler's own department by its code: other tests may add departments before it
    department = handler.request.get("/api/v1/auth/me").json()["department_codes"][0]
    dispatcher = new_page("paiqian")
    dispatcher.goto(f"/console/cases/{case_id}")
    dispatcher.select_option("#department", department)
    with dispatcher.expect_navigation():
        dispatcher.click("button[data-action=dispatch]")
    act(handler, case_id, "department_accept")
    act(handler, case_id, "feed_back", photo=photo)
    act(acceptor, case_id, "request_check")
    act(supervisor, case_id, "check_pass", photo=photo)
    act(shift, case_id, "close")

    acceptor.goto(f"/console/cases/{case_id}")
    acceptor.check("#callback-form input[name=reached][value=true]")
    acceptor.select_option("#satisfaction", "satisfied")
    acceptor.fill("#callback-note", "来电人表示垃圾已清理，满意")
    with acceptor.expect_navigation():
        acceptor.click("#callback-submit")
    assert acceptor.locator("[data-testid=callback][data-reached=true]").count() == 1
    assert acceptor.input_value("#reply-kind") == "final"  # closed: the final reply
    acceptor.select_option("#reply-result", "resolved")
    acceptor.fill("#reply-text", "经核查，垃圾已清运完毕，感谢您的来电。")
    with acceptor.expect_navigation():
        acceptor.click("#reply-submit")
    reply = acceptor.locator("[data-testid=reply][data-kind=final]")
    assert "垃圾已清运完毕" in reply.inner_text()
    assert acceptor.locator("#reply-form").count() == 0  # one final reply per work order
    shot(acceptor, "console-case-hotline-answered", full_page=True)


def test_the_video_supervisor_raises_a_case_from_a_camera(new_page):
    page = new_page("shipin")
    page.goto("/console/intake")
    page.wait_for_selector("#intake-form[data-mode=video]")
    page.fill("#camera_key", "SP00001")
    page.click("#camera-find")
    page.wait_for_selector("[data-testid=camera-info][data-key=SP00001]")
    page.select_option("#category_code", "E0102")
    page.fill("#description", "监控画面发现路边暴露垃圾")
    with page.expect_navigation(url=re.compile(r"/console/cases/\d+$")):
        page.click("#intake-submit")
    camera = page.locator("[data-testid=camera]")
    assert camera.get_attribute("data-key") == "SP00001"
    assert page.get_attribute("[data-testid=source]", "data-source") == "video"
    cam = page.request.get("/api/v1/cameras/SP00001").json()
    case_id = int(re.search(r"/console/cases/(\d+)", page.url).group(1))
    case = page.request.get(f"/api/v1/cases/{case_id}").json()
    assert (round(case["lon"], 6), round(case["lat"], 6)) == (
        round(cam["lon"], 6), round(cam["lat"], 6)
    )  # fmt: skip
    shot(page, "console-case-camera")


def test_the_place_search_sets_the_position_and_the_address(new_page):
    page = new_page("shouli")
    page.goto("/console/intake")
    probe = page.request.get("/api/v1/places?q=社区&limit=1")
    if probe.status == 404:
        pytest.skip("this server has no place index (the form works by map click alone)")
    assert probe.ok, probe.text()
    name = probe.json()["items"][0]["name"]
    page.fill("#place-q", name)
    page.press("#place-q", "Enter")
    page.click("[data-testid=place-hit] >> nth=0")
    page.wait_for_selector("[data-testid=position][data-lon]")
    assert page.input_value("#address")  # the hit's address fills an empty address box
