"""信息采集 on the grid worker's phone (390×844): a household visit that adds a resident and
edits the room while offline reaches the server exactly once when the phone is back online."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import jpeg, shot, submit_while_storage_refuses, wait_for_text

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _household(page, household_id: int) -> dict:  # type: ignore[no-untyped-def]
    r = page.request.get(f"/api/v1/registry/households/{household_id}")
    assert r.ok, r.text()
    return r.json()


def _unvisited_household(new_page):  # type: ignore[no-untyped-def]
    """The grid worker's phone page and the first household he has not visited this quarter."""
    page = new_page("jiandu", **PHONE)
    page.goto("/m")
    page.wait_for_selector("#collect-list li[data-household][data-visited=false]")
    item = page.locator("#collect-list li[data-household][data-visited=false]").first
    return page, item, int(item.get_attribute("data-household"))


def test_an_offline_household_visit_adds_a_resident_and_edits_the_room_once(new_page, tmp_path):
    page, item, household_id = _unvisited_household(new_page)
    before = _household(page, household_id)
    assert before["room"] is not None
    item.click()
    page.wait_for_selector("#resident-form")
    resident = f"离线住户{uuid.uuid4().hex[:6]}"
    landlord = f"房东{uuid.uuid4().hex[:4]}"

    page.context.set_offline(True)
    wait_for_text(page, "#net", "离线")
    page.fill("#f-notes", "离线走访：了解家庭情况，新增一名住户")
    page.set_input_files("#f-photos", str(jpeg(tmp_path)))
    page.click("#visit-form button[type=submit]")
    wait_for_text(page, "#collect-queued", "1")
    page.fill("#f-name", resident)
    page.select_option("#f-relation", "子女")
    page.select_option("#f-residence_kind", "floating")
    page.click("#resident-form button[type=submit]")
    wait_for_text(page, "#collect-queued", "2")
    page.select_option("#f-use", "rented")
    page.fill("#f-area_m2", "88.5")
    page.fill("#f-landlord_name", landlord)
    page.click("#room-form button[type=submit]")
    wait_for_text(page, "#collect-queued", "3")
    assert "离线保存" in page.inner_text("#room-form .form-msg")
    shot(page, "mobile-collect-offline", full_page=True)

    page.context.set_offline(False)
    page.wait_for_function(
        "document.getElementById('collect-queued').textContent === '0'", timeout=30_000
    )
    # A second sync (another 'online', the 20 s timer) finds nothing left to send.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector(
        f"#collect-list li[data-household='{household_id}'][data-visited=true]", timeout=30_000
    )
    after = _household(page, household_id)
    assert [p["name"] for p in after["people"]].count(resident) == 1
    added = next(p for p in after["people"] if p["name"] == resident)
    assert added["relation"] == "子女" and added["residence_kind"] == "floating"
    assert added["room_id"] == before["room"]["id"] and added["grid_id"] is not None
    assert len(after["visits"]) == len(before["visits"]) + 1
    assert after["visits"][0]["notes"] == "离线走访：了解家庭情况，新增一名住户"
    assert len(after["visits"][0]["photos"]) == 1
    assert page.request.get(after["visits"][0]["photos"][0]).ok  # the uploader sees it
    assert after["room"]["use"] == "rented" and after["room"]["area_m2"] == 88.5
    assert after["room"]["landlord_name"] == landlord
    found = page.request.get("/api/v1/registry/people", params={"q": resident}).json()
    assert found["total"] == 1
    history = page.request.get(f"/api/v1/registry/rooms/{before['room']['id']}/history").json()
    assert [h["changes"].get("landlord_name", [None, None])[1] for h in history].count(
        landlord
    ) == 1
    assert page.inner_text("#collect-refused") == ""


def test_a_bad_id_number_on_the_phone_is_shown_next_to_the_field_and_nothing_is_written(
    new_page,
):
    page, item, household_id = _unvisited_household(new_page)
    item.click()
    page.wait_for_selector("#resident-form")
    name = f"错号{uuid.uuid4().hex[:6]}"
    page.fill("#f-name", name)
    page.fill("#f-id_number", "110108198503071230")
    page.click("#resident-form button[type=submit]")
    error = page.locator("#resident-form .field-err[data-for=id_number] [data-testid=field-error]")
    error.wait_for()
    assert "校验" in error.inner_text() and "check" in error.inner_text().lower()
    names = [p["name"] for p in _household(page, household_id)["people"]]
    assert name not in names


def test_console_forms_refuse_a_bad_credit_code_beside_its_field_and_save_a_room_edit(new_page):
    from tests.registry_factories import credit_code

    page = new_page("admin")
    community = page.request.get("/api/v1/registry/rooms?limit=1").json()["items"][0]
    good = credit_code("55667788", "110108")
    name = f"表单企业{uuid.uuid4().hex[:6]}"
    page.goto("/console/registry/organisations")
    page.click("#form-open")
    page.fill("#rf-name", name)
    page.fill("#rf-credit_code", good[:-1] + ("A" if good[-1] != "A" else "B"))
    page.fill("#rf-community_code", community["community_code"])
    page.click("#form-submit")
    error = page.locator(".field-err[data-for=credit_code] [data-testid=field-error]")
    error.wait_for()
    assert error.inner_text().strip() and "credit code" in error.inner_text().lower()
    listed = page.request.get("/api/v1/registry/organisations", params={"q": name}).json()
    assert listed["total"] == 0

    room_id = community["id"]
    landlord = f"表单房东{uuid.uuid4().hex[:4]}"
    page.goto(f"/console/registry/rooms/{room_id}")
    page.click("#form-open")
    page.fill("#rf-landlord_name", landlord)
    page.click("#form-submit")
    page.wait_for_function(
        f"document.querySelector('[data-testid=history]').textContent.includes('{landlord}')"
    )
    assert page.request.get(f"/api/v1/registry/rooms/{room_id}").json()["landlord_name"] == landlord
    page.goto("/console/visits")
    page.wait_for_selector("#households tr[data-household]")
    assert page.locator("#coverage tr[data-grid]").count() > 0
    page.click("#households tr[data-household] a")
    page.wait_for_selector("#visit-new")
    note = f"控制台走访{uuid.uuid4().hex[:6]}"
    page.fill("#visit-new textarea[name=notes]", note)
    page.click("#visit-new button[type=submit]")
    page.wait_for_function(
        f"document.querySelector('[data-testid=visits]').textContent.includes('{note}')"
    )
    assert note in page.inner_text("[data-testid=household-history]")


def test_the_phone_collects_an_organisation_refusing_a_bad_credit_code_beside_its_field(new_page):
    from tests.registry_factories import credit_code

    page = new_page("jiandu", **PHONE)
    page.goto("/m")
    page.wait_for_selector("#collect-kind option[value=organisations]", state="attached")
    mine = page.request.get("/api/v1/registry/households?mine=true&limit=1").json()["items"][0]
    page.select_option("#collect-kind", "organisations")
    page.wait_for_selector("#record-new-credit_code")
    name = f"手机企业{uuid.uuid4().hex[:6]}"
    good = credit_code(f"{uuid.uuid4().int % 10**8:08d}", "110108")
    page.fill("#record-new-name", name)
    page.fill("#record-new-credit_code", good[:-1] + ("A" if good[-1] != "A" else "B"))
    page.fill("#record-new-community_code", mine["community_code"])
    page.click("#record-new button[type=submit]")
    error = page.locator("#record-new .field-err[data-for=credit_code] [data-testid=field-error]")
    error.wait_for()
    assert "校验码" in error.inner_text() and "check character" in error.inner_text()
    assert (
        page.request.get("/api/v1/registry/organisations", params={"q": name}).json()["total"] == 0
    )

    page.fill("#record-new-name", name)
    page.fill("#record-new-credit_code", good)
    page.fill("#record-new-community_code", mine["community_code"])
    page.click("#record-new button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#record-new .form-msg').textContent === '已同步'"
    )
    found = page.request.get("/api/v1/registry/organisations", params={"q": name}).json()
    assert found["items"][0]["credit_code"] == good


def test_the_phone_corrects_an_existing_building_offline_and_it_syncs_once(new_page):
    page = new_page("jiandu", **PHONE)
    mine = page.request.get("/api/v1/registry/buildings", params={"limit": 1}).json()["items"][0]
    page.goto("/m")
    page.wait_for_selector("#collect-kind option[value=buildings]", state="attached")
    page.select_option("#collect-kind", "buildings")
    page.fill("#collect-find", mine["name"])
    page.locator(f"#collect-found a[data-id='{mine['id']}']").click()
    page.wait_for_selector("#record-edit-floors")
    assert page.input_value("#record-edit-name") == mine["name"]
    floors = (mine.get("floors") or 6) + 1
    address = f"{mine.get('address') or '测试路'}（{uuid.uuid4().hex[:4]}号院）"

    page.context.set_offline(True)
    wait_for_text(page, "#net", "离线")
    page.fill("#record-edit-floors", str(floors))
    page.fill("#record-edit-address", address)
    page.click("#record-edit button[type=submit]")
    wait_for_text(page, "#collect-queued", "1")
    page.context.set_offline(False)
    page.wait_for_function(
        "document.querySelector('#record-edit .form-msg').textContent === '已同步'",
        timeout=30_000,
    )
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second sync sends nothing
    wait_for_text(page, "#collect-queued", "0")
    after = page.request.get(f"/api/v1/registry/buildings/{mine['id']}").json()
    assert after["floors"] == floors and after["address"] == address
    history = page.request.get(f"/api/v1/registry/buildings/{mine['id']}/history").json()
    assert [h["changes"].get("address", [None, None])[1] for h in history].count(address) == 1


def test_a_visit_the_phone_cannot_keep_says_so_keeps_the_notes_and_goes_on_the_next_try(new_page):
    page, item, household_id = _unvisited_household(new_page)
    item.click()
    page.wait_for_selector("#visit-form")
    notes = f"存不下的走访 {uuid.uuid4().hex[:6]}"

    page.fill("#f-notes", notes)
    submit_while_storage_refuses(
        page, "#visit-form button[type=submit]", "#visit-form .form-msg", "#collect-queued"
    )
    assert page.input_value("#f-notes") == notes  # nothing typed is lost
    page.click("#visit-form button[type=submit]")
    wait_for_text(page, "#visit-form .form-msg", "已同步", timeout=30_000)
    visits = _household(page, household_id)["visits"]
    assert [v["notes"] for v in visits].count(notes) == 1
