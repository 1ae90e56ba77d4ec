"""Place search on the grid worker's phone page sets the report's position and address."""

from __future__ import annotations

import pytest

from tests.browser.conftest import jpeg, shot, wait_for_text
from tests.browser.test_console import community_point

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _house_number_in_my_community(page) -> dict:  # type: ignore[no-untyped-def]
    """A building with a house number (门牌) in the logged-in grid worker's community."""
    community, _lon, _lat = community_point(page)
    grids = page.request.get(f"/api/v1/places?q={community}&limit=50").json()["items"]
    roads = []
    for g in grids:
        parts = page.request.get(f"/api/v1/places/reverse?lon={g['lon']}&lat={g['lat']}").json()
        if parts.get("road") and parts["road"] not in roads:
            roads.append(parts["road"])
    for road in roads:
        items = page.request.get(f"/api/v1/places?q={road}&limit=50").json()["items"]
        hits = [i for i in items if i["kind"] == "building" and i["name"].startswith(road)]
        if hits:
            return hits[0]
    raise AssertionError(f"no numbered building along {roads} in {community}")


def test_a_place_found_on_the_phone_gives_the_report_its_address_and_grid(new_page, tmp_path):
    page = new_page("jiandu", **PHONE)
    target = _house_number_in_my_community(page)
    page.goto("/m")
    page.wait_for_selector("#category option", state="attached")

    page.fill("#place-q", target["name"][:-1])  # "振兴路19" for "振兴路199号"
    hit = page.locator("#place-hits li", has_text=target["name"]).first
    hit.wait_for()
    hit.click()
    page.wait_for_function(
        "want => document.getElementById('lon').value === want", arg=f"{target['lon']:.6f}"
    )
    page.wait_for_function(
        "n => document.getElementById('address').value.includes(n)", arg=target["name"]
    )
    address = page.input_value("#address")
    assert target["community_name"] in address
    page.select_option("#category", "E0102")
    page.fill("#description", "门牌旁垃圾桶满溢")
    page.set_input_files("#photo", str(jpeg(tmp_path)))
    shot(page, "mobile-address-search", full_page=True)
    page.click("#report-submit")
    wait_for_text(page, "#sent", "1", timeout=30_000)
    code = page.get_attribute("#sent-list li", "data-code")
    page.context.set_offline(True)  # offline, the search says so (the report would queue)
    page.fill("#place-q", target["name"][:-1])
    page.wait_for_function("document.getElementById('place-status').textContent.includes('离线')")
    page.context.set_offline(False)

    console = new_page("jiandu")
    found = console.request.get(f"/api/v1/cases?q={code}&queue=&limit=5").json()["items"]
    case = next(c for c in found if c["code"] == code)
    assert case["address"] == address
    console.goto(f"/console/cases/{case['id']}")
    assert target["name"] in console.inner_text("[data-testid=case-address]")
    assert target["community_name"] in console.inner_text("[data-testid=place-community]")
    assert target["grid_code"] in console.inner_text("[data-testid=place-grid]")
    assert console.locator("[data-testid=place-street]").count() == 1
