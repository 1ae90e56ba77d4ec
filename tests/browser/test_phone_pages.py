"""The grid-worker PWA (offline reports, patrol) and the citizen page, on a phone-sized screen."""

from __future__ import annotations

import pytest

from tests.browser.conftest import jpeg, set_position, shot, wait_for_text
from tests.browser.test_console import community_point
from tests.case_factories import jpeg as jpeg_bytes

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
    wait_for_text(page, "#queued", "1")
    assert page.inner_text("#sent") == "0"
    assert "离线" in page.inner_text("#report-msg")
    shot(page, "mobile-offline-queued", full_page=True)

    page.context.set_offline(False)
    wait_for_text(page, "#sent", "1", timeout=30_000)
    # the counter is recounted once the pass has removed the row it sent
    wait_for_text(page, "#queued", "0")
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
    wait_for_text(page, "#patrol-state", "")
    patrol = page.request.get(f"/api/v1/patrols/{patrol_id}").json()
    assert patrol["ended_at"] is not None


def test_patrol_points_taken_offline_reach_the_server_once_when_back_online(new_page):
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page(
        "jiandu",
        **PHONE,
        geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
        service_workers="block",  # so the route below sees the page's requests
    )
    page.goto("/m")
    page.wait_for_selector("#category option", state="attached")
    page.click("#patrol-btn")
    page.wait_for_function("document.getElementById('patrol-state').textContent.includes('#')")
    patrol_id = int(page.evaluate("localStorage.getItem('wg.patrol')"))

    page.context.set_offline(True)
    fed = [round(lon + 0.0003 * (i + 1), 6) for i in range(4)]
    for x in fed:
        page.context.set_geolocation({"longitude": x, "latitude": lat})
        page.wait_for_timeout(300)
    page.wait_for_function("Number(document.getElementById('track-queued').textContent) >= 4")
    queued = page.evaluate("Outbox.all().then(rows => rows.filter(r => r.kind === 'points'))")
    assert {round(p["lon"], 6) for r in queued for p in r["points"]} >= set(fed)

    # Back online, the first batch is stored but its answer is lost: the phone must resend
    # it with the same Idempotency-Key, and the server must not store it twice.
    keys: list[str] = []

    def lose_first_answer(route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        response = route.fetch()
        if len(keys) == 1:
            route.abort()
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/patrols/*/points", lose_first_answer)
    page.context.set_offline(False)
    for _ in range(300):  # the 'online' event (or the 20 s timer) starts sending
        if keys:
            break
        page.wait_for_timeout(100)
    page.click("#patrol-btn")
    wait_for_text(page, "#patrol-state", "")
    wait_for_text(page, "#track-queued", "0")

    assert len(keys) > len(set(keys))  # a batch was resent with its key
    patrol = page.request.get(f"/api/v1/patrols/{patrol_id}").json()
    assert patrol["ended_at"] is not None
    track = page.request.get(f"/api/v1/patrols/{patrol_id}/points").json()
    lons = [round(p["lon"], 6) for p in track]
    assert all(lons.count(x) == 1 for x in fed), lons
    assert len({(p["at"], p["lon"], p["lat"]) for p in track}) == len(track)
    assert patrol["point_count"] == len(track)


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


def upload(page) -> str:
    """Upload a small photo as the page's user; return the reference reports and actions carry."""
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = page.request.post(
        "/api/v1/uploads",
        multipart={"file": {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.ok, r.text()
    return "/api/v1/uploads/" + r.json()["id"]


def api_act(page, case_id: int, action: str, **body) -> dict:
    """Act through the API as the page's user (cookie + CSRF header)."""
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    version = page.request.get(f"/api/v1/cases/{case_id}").json()["version"]
    r = page.request.post(
        f"/api/v1/cases/{case_id}/actions/{action}",
        data={"expected_version": version, **body},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.ok, r.text()
    return r.json()


def test_the_grid_worker_checks_a_handled_case_on_the_phone_with_a_fresh_photo(new_page, tmp_path):
    worker = new_page("jiandu", **PHONE)
    _community, lon, lat = community_point(worker)
    csrf = worker.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = worker.request.post(
        "/api/v1/cases",
        data={
            "category_code": "E0102",
            "description": "待核查：垃圾",
            "lon": lon,
            "lat": lat,
            "photos": [upload(worker)],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status == 201, r.text()
    case_id = r.json()["id"]
    acceptor, shift = new_page("shouli"), new_page("zhiban")
    dispatcher, handler = new_page("paiqian"), new_page("bumen")
    department = handler.request.get("/api/v1/auth/me").json()["department_codes"][0]
    api_act(acceptor, case_id, "accept")
    api_act(shift, case_id, "file")
    api_act(dispatcher, case_id, "dispatch", payload={"department": department})
    api_act(handler, case_id, "department_accept")
    api_act(handler, case_id, "feed_back", photos=[upload(handler)])
    api_act(acceptor, case_id, "request_check")

    worker.goto("/m")
    worker.click(f"#tasks li[data-case='{case_id}']")
    worker.wait_for_selector("[data-act=check_pass]")
    worker.set_input_files("#task-photo", str(jpeg(tmp_path, "check.jpg")))
    worker.click("[data-act=check_pass]")
    worker.wait_for_selector("#task-msg.ok")
    case = worker.request.get(f"/api/v1/cases/{case_id}").json()
    assert case["state"] == "checked"
    assert case["timeline"][-1]["attachments"][0].startswith("/api/v1/uploads/")


def citizen_report_form(new_page, description: str):  # type: ignore[no-untyped-def]
    """Open the citizen page with a report of 暴露垃圾 filled in, inside the demo's community."""
    probe = new_page("jiandu")
    _community, lon, lat = community_point(probe)
    page = new_page(**PHONE)
    page.goto("/citizen")
    page.wait_for_selector("#category option", state="attached")
    page.select_option("#category", "E0102")
    page.fill("#description", description)
    set_position(page, lon, lat)
    return page


def test_a_double_click_or_a_resend_after_a_lost_answer_files_the_citizen_report_once(
    new_page, tmp_path
):
    description = f"双击提交：垃圾桶满溢 {tmp_path.name}"
    page = citizen_report_form(new_page, description)
    page.set_input_files("#photo", str(jpeg(tmp_path)))
    sent, uploads = [], []

    def count(request) -> None:  # type: ignore[no-untyped-def]
        if request.method == "POST" and request.url.endswith("/web/api/citizen/reports"):
            sent.append(request)
        elif request.method == "POST" and request.url.endswith("/api/v1/uploads"):
            uploads.append(request)

    page.on("request", count)

    # The server files the first report but its answer is lost on the way back.
    answered: list[int] = []

    def lose_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        answer = route.fetch()
        answered.append(answer.status)
        if len(answered) == 1:
            route.abort()
        else:
            route.fulfill(response=answer)

    page.route("**/web/api/citizen/reports", lose_first_answer)
    page.dblclick("#report-submit")
    page.wait_for_selector("#report-msg.err")
    assert page.is_enabled("#report-submit")  # disabled only while sending
    page.dblclick("#report-submit")  # the citizen tries again
    tracking = page.locator("[data-testid=tracking]").inner_text(timeout=20_000)

    assert answered == [201, 201]  # the second answer is the first report's, replayed
    assert len(sent) == 2  # one request per attempt, however often the button was clicked
    assert len({r.headers["idempotency-key"] for r in sent}) == 1
    assert len(uploads) == 1  # the photo is not uploaded again for the retry
    acceptor = new_page("shouli")
    found = acceptor.request.get("/api/v1/cases?category=E0102&state=reported&limit=500").json()
    mine = [c for c in found["items"] if c["description"] == description]
    assert [c["code"] for c in mine] == [tracking.rsplit("-", 1)[0]]  # filed once
