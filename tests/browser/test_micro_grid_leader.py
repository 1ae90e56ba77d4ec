"""A 微网格长 (一网多层) on the phone page: exactly his micro grid's households and cases."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from tests.browser.conftest import shot
from tests.browser.test_case_inputs import report

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _inside(page, grid_id: int) -> tuple[float, float]:
    feature = page.request.get(f"/api/v1/grids/{grid_id}/geojson").json()
    point = shape(feature["geometry"]).representative_point()
    return point.x, point.y


def test_a_micro_grid_leader_sees_exactly_his_households_and_cases_on_the_phone(new_page):
    leader = new_page("weiwangge", **PHONE)
    scope = leader.request.get("/api/v1/auth/me").json()["scope_prefixes"]
    assert len(scope) == 1 and len(scope[0]) == 17  # a micro grid: grid code + 2 digits
    mine_code = scope[0]
    other_code = mine_code[:-2] + "02"  # the neighbour micro grid of the same grid
    admin = new_page("admin")
    mine = admin.request.get(f"/api/v1/micro-grids/{mine_code}/records").json()
    other = admin.request.get(f"/api/v1/micro-grids/{other_code}/records").json()
    assert mine["households"] and other["households"]  # the demo put residents in both

    worker = new_page("jiandu")  # the community's grid worker reports in both micro grids
    ours = report(worker, *_inside(admin, mine["grid"]["id"]), "微网格内：楼道堆放杂物")
    theirs = report(worker, *_inside(admin, other["grid"]["id"]), "相邻微网格：楼道堆放杂物")

    leader.goto("/m")
    leader.wait_for_selector("[data-testid=micro-card]:not([hidden])")
    card = leader.locator("[data-testid=micro-grid]")
    assert card.count() == 1 and card.get_attribute("data-code") == mine_code
    shown = {
        int(h)
        for h in leader.locator("[data-testid=micro-household]").evaluate_all(
            "els => els.map(e => e.dataset.household)"
        )
    }
    assert shown == {h["id"] for h in mine["households"]}
    assert not shown & {h["id"] for h in other["households"]}
    cases = {
        int(c)
        for c in leader.locator("[data-testid=micro-case]").evaluate_all(
            "els => els.map(e => e.dataset.case)"
        )
    }
    expected = {c["id"] for c in admin.request.get(
        f"/api/v1/micro-grids/{mine_code}/records").json()["cases"]}  # fmt: skip
    assert ours["id"] in cases and theirs["id"] not in cases and cases == expected
    assert leader.locator("[data-testid=micro-grid-name]").inner_text() == mine["grid"]["name"]
    # "我的网格" draws and names his micro grid, not the whole grid.
    leader.wait_for_function("document.getElementById('mygrid-text').textContent.length > 0")
    assert mine["grid"]["name"] in leader.inner_text("#mygrid-text")
    # The rest of the phone page follows the same scope: his case list has only his cases.
    listed = {c["id"] for c in leader.request.get("/api/v1/cases?limit=200").json()["items"]}
    assert ours["id"] in listed and theirs["id"] not in listed
    shot(leader, "mobile-micro-grid-leader", full_page=True)
