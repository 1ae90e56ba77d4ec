"""矛盾纠纷 on the grid worker's phone (390×844): a dispute registered in his grid with masked
parties, mediated, settled with an uploaded agreement and followed up; then the console lists
it and counts it by grid and by community."""

from __future__ import annotations

import pytest

from tests.browser.conftest import jpeg, shot
from tests.browser.test_console import community_point

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def step(page, form: str, state: str) -> None:
    page.click(f"#{form} button")
    page.wait_for_selector(f"#m-dispute-state[data-state={state}]")


def test_a_dispute_is_registered_mediated_and_followed_up_on_the_phone(new_page, tmp_path):
    probe = new_page("jiandu")
    community, lon, lat = community_point(probe)
    page = new_page(
        "jiandu", **PHONE, geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
    )  # fmt: skip
    page.goto("/m")
    page.click("#dispute-new summary")
    page.click("#dispute-locate")
    page.wait_for_function("document.getElementById('dispute-lon').value !== ''")
    page.select_option("#dispute-kind", "property")
    page.fill("#dispute-summary", "手机登记：业主与物业因车位费争执")
    parties = page.locator("#dispute-parties-in .party")
    parties.nth(0).locator(".p-name").fill("孙悟净")
    parties.nth(0).locator(".p-phone").fill("13912345678")
    parties.nth(0).locator(".p-id").fill("110108198506123015")
    parties.nth(1).locator(".p-name").fill("某物业服务公司")
    page.click("#dispute-submit")
    page.wait_for_selector("#m-dispute-state[data-state=registered]")
    assert "已登记纠纷" in page.inner_text("#dispute-msg")
    shown = page.inner_text("#m-dispute-parties")
    assert "孙**" in shown and "139****5678" in shown and "110108********3015" in shown
    assert "孙悟净" not in page.content() and "13912345678" not in page.content()
    did = page.inner_text("#dispute-detail h3").split("#")[1].split(" ")[0]
    assert page.locator(f"#dispute-list li[data-dispute-id='{did}']").count() == 1

    # the outcome needs a session first: the server's reason is shown, nothing changes
    page.fill("#m-form-session [name=place]", "社区调解室")
    page.fill("#m-form-session [name=notes]", "双方陈述，物业同意核对车位收费标准")
    step(page, "m-form-session", "mediating")
    assert "社区调解室" in page.inner_text("#m-dispute-sessions")
    page.select_option("#m-form-outcome [name=outcome]", "settled")
    page.click("#m-form-outcome button")
    page.wait_for_function(
        "document.getElementById('dispute-msg').textContent.includes('调解协议书')"
    )
    assert page.get_attribute("#m-dispute-state", "data-state") == "mediating"

    page.set_input_files("#m-form-agreement [name=file]", str(jpeg(tmp_path, "agreement.jpg")))
    page.click("#m-form-agreement button")
    page.wait_for_selector("#m-dispute-agreement")
    assert (
        page.request.get(page.get_attribute("#m-dispute-agreement", "href")).headers["content-type"]
        == "image/jpeg"
    )
    page.select_option("#m-form-outcome [name=outcome]", "settled")
    page.fill("#m-form-outcome [name=note]", "物业退还多收的车位费")
    step(page, "m-form-outcome", "settled")
    page.fill("#m-form-follow-up [name=result]", "已退费，双方满意")
    step(page, "m-form-follow-up", "followed_up")
    assert "已退费，双方满意" in page.inner_text("#m-dispute-follow-up")
    assert page.locator("#dispute-detail form").count() == 0  # closed: no more steps
    pdf = page.request.get(page.get_attribute("#m-dispute-pdf", "href"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    page.wait_for_selector(f"#dispute-list li[data-dispute-id='{did}'][data-state=followed_up]")
    shot(page, "mobile-dispute", full_page=True)

    # the console lists it and counts it by grid and by community
    console = new_page("jiandu")
    console.goto("/console/disputes?level=grid")
    row = console.locator(f"#dispute-table tr[data-dispute-id='{did}']")
    assert row.get_attribute("data-state") == "followed_up"
    grid = row.locator("td").nth(3).inner_text().strip()
    counted = console.locator(f"#dispute-counts tr[data-grid='{grid}'] td")
    assert int(counted.nth(1).inner_text()) >= 1  # registered this month
    assert int(counted.nth(2).inner_text()) >= 1  # settled this month
    console.click("#dispute-levels >> text=按社区")
    counted = console.locator(f"#dispute-counts tr[data-community='{community}'] td")
    assert int(counted.nth(1).inner_text()) >= 1


def test_the_console_registers_a_dispute_and_names_a_bad_phone(new_page):
    page = new_page("jiandu")
    _community, lon, lat = community_point(page)
    page.goto("/console/disputes")
    page.click("#dispute-register summary")
    form = page.locator("#dispute-register-form")
    form.locator("[name=kind]").select_option("neighbour")
    form.locator("[name=lon]").fill(str(lon))
    form.locator("[name=lat]").fill(str(lat))
    form.locator("[name=summary]").fill("控制台登记：楼道堆物引发争吵")
    form.locator("[name=party_name]").nth(0).fill("周邻居")
    form.locator("[name=party_phone]").nth(0).fill("12345")
    form.locator("button").click()
    error = page.locator("#dispute-register-error")
    error.wait_for(state="visible")
    assert "电话" in error.inner_text()
    form.locator("[name=party_phone]").nth(0).fill("13700001111")
    with page.expect_navigation(url="**/console/disputes/*"):
        form.locator("button").click()
    assert page.get_attribute("#dispute-state", "data-state") == "registered"
    assert "周**" in page.inner_text("#dispute-parties")
