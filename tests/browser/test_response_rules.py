"""Response rules in the browser: an administrator edits them, a citizen is told the promise."""

from __future__ import annotations

from tests.browser.test_console import community_point

SOLVE = "网上诉求：24 小时内办结（金牛）"


def _set_hours(page, name: str, hours: str) -> None:
    row = f'tr[data-rule]:has([data-field=name][value="{name}"])'
    page.locator(f"{row} [data-field=hours]").fill(hours)
    with page.expect_navigation():
        page.locator(f"{row} [data-save]").click()
    assert page.locator(f"{row} [data-field=hours]").input_value() == hours


def test_rules_edited_on_the_console_are_promised_on_the_citizen_page(new_page):
    admin = new_page("admin")
    admin.goto("/console/rules")
    # `wangge init` (run by the demo too) seeded the 金牛 pair: 2 h to answer, 24 h to solve.
    assert admin.locator(f'[data-field=name][value="{SOLVE}"]').count() == 1
    _set_hours(admin, SOLVE, "12")
    admin.fill("#new-name", "重复")
    admin.select_option("#new-source", "online")
    admin.select_option("#new-stage", "respond")
    admin.fill("#new-hours", "3")
    admin.click("#rule-submit")  # a twin of an active rule: refused, the page stays
    refused = admin.locator("#flash .msg.err").inner_text(timeout=10_000)
    assert "已有生效规则" in refused

    supervisor = new_page("jiandu")
    _community, lon, lat = community_point(supervisor)
    citizen = new_page(width=390, height=844)
    citizen.goto("/citizen")
    citizen.wait_for_selector("#category option", state="attached")
    citizen.select_option("#category", "E0102")
    citizen.fill("#description", "路口垃圾桶满溢")
    citizen.fill("#lon", f"{lon:.6f}")
    citizen.fill("#lat", f"{lat:.6f}")
    citizen.click("#report-submit")
    told = citizen.locator("#report-msg [data-testid=promise]").inner_text(timeout=20_000)
    assert "承诺 2 小时内答复 / 12 小时内办结" in told
    citizen.click("#track-btn")
    tracked = citizen.locator("#track-out [data-testid=promise]").inner_text(timeout=20_000)
    assert "承诺 2 小时内答复" in tracked and "答复期限" in tracked

    # Leave the shared demo district as it was for the other browser tests.
    admin.goto("/console/rules")
    _set_hours(admin, SOLVE, "24")
