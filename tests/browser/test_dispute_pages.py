"""矛盾纠纷 in a real browser: a grid worker's dispute mediated, settled with an uploaded
agreement and followed up on the console's dispute page; a refused step shows its reason."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import jpeg, shot
from tests.browser.test_console import community_point

pytestmark = pytest.mark.browser


def submit(page, form: str) -> None:
    """Submit one of the page's step forms and wait for the page to come back."""
    with page.expect_navigation():
        page.click(f"#{form} button")


def test_a_dispute_is_mediated_settled_and_followed_up_on_the_console(new_page, tmp_path):
    worker = new_page("jiandu")
    community, lon, lat = community_point(worker)
    worker.goto("/console")
    created = worker.evaluate(
        """async ([lon, lat]) => WG.api('POST', '/api/v1/disputes', {
             kind: '物业纠纷', summary: '业主与物业因停车费争执', lon, lat,
             parties: [{name: '钱多多', phone: '13912345678'}, {name: '某物业公司'}]})""",
        [lon, lat],
    )
    assert created["community_code"] == community
    worker.click("nav >> text=矛盾纠纷")
    row = worker.locator(f"tr[data-dispute-id='{created['id']}']")
    assert row.get_attribute("data-state") == "registered"
    with worker.expect_navigation(url=re.compile(rf"/console/disputes/{created['id']}$")):
        row.locator("a").click()
    parties = worker.locator("#dispute-parties").inner_text()
    assert "钱**" in parties and "139****5678" in parties and "钱多多" not in worker.content()

    # no outcome before a session: the server's reason is shown, nothing changes
    worker.fill("#form-session [name=place]", "社区调解室")
    worker.fill("#form-session [name=notes]", "双方各自陈述，物业同意核对收费标准")
    submit(worker, "form-session")
    assert worker.get_attribute("#dispute-state", "data-state") == "mediating"
    worker.select_option("#form-outcome [name=outcome]", "settled")
    worker.click("#form-outcome button")
    error = worker.locator("#dispute-error")
    error.wait_for(state="visible")
    assert "调解协议书" in error.inner_text()
    assert worker.get_attribute("#dispute-state", "data-state") == "mediating"

    worker.set_input_files("#form-agreement [name=file]", str(jpeg(tmp_path, "agreement.jpg")))
    submit(worker, "form-agreement")
    href = worker.get_attribute("#dispute-agreement", "href")
    assert worker.request.get(href).headers["content-type"] == "image/jpeg"
    worker.select_option("#form-outcome [name=outcome]", "settled")
    worker.fill("#form-outcome [name=note]", "物业退还多收费用")
    submit(worker, "form-outcome")
    assert worker.get_attribute("#dispute-state", "data-state") == "settled"
    worker.fill("#form-follow-up [name=result]", "已退费，双方满意")
    submit(worker, "form-follow-up")
    assert worker.get_attribute("#dispute-state", "data-state") == "followed_up"
    assert "已退费，双方满意" in worker.locator("#dispute-follow-up").inner_text()
    assert worker.locator("#dispute-actions").count() == 0  # closed: no more steps
    history = worker.locator("#dispute-history").inner_text()
    for action in ("register", "session", "agreement", "outcome", "follow_up"):
        assert action in history
    shot(worker, "console-dispute")
