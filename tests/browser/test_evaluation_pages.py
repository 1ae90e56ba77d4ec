"""考核 in the browser: a leader reads the demo month and drills from a department's number to
its cases; an administrator publishes the month and anyone reads it without logging in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.browser.conftest import shot
from wangge.evaluation.auto_reports import last_closed_month


def test_a_leader_drills_down_and_an_admin_publishes_the_month_for_the_public(new_page):
    month = last_closed_month(datetime.now(UTC)).label  # the demo month: the 30 days up to now
    leader = new_page("lingdao")
    leader.goto("/console/evaluation")
    assert leader.locator("header nav a[href='/console/evaluation']").count() == 1
    with leader.expect_navigation():
        leader.select_option("#eval-period", month)
    assert f"period={month}" in leader.url
    ranking = leader.locator("#ranking-department")
    ranking.wait_for()
    assert (
        leader.locator("[data-testid=weights-department]").inner_text().startswith("综合指标值 =")
    )
    assert leader.locator("#glossary").get_by_text("按期处置率", exact=True).count() == 1
    leader.locator(".eval-chart[data-type=department] canvas").wait_for()  # the score bars
    shot(leader, "console-evaluation")
    # a department's 应处置数-based rate, as a link to the cases it counts
    link = ranking.locator("a.drill[href*='indicator=handle_on_time_rate']").first
    figure = link.inner_text()
    with leader.expect_navigation():
        link.click()
    assert "按期处置率" in leader.locator("h1").inner_text()
    denominator = leader.locator(".drill-part[data-part=denominator]")
    listed = denominator.locator("tr[data-case]").count()
    numerator = leader.locator(".drill-part[data-part=numerator] tr[data-case]").count()
    assert listed > 0 and abs(100 * numerator / listed - float(figure)) < 0.01
    with leader.expect_navigation():
        denominator.locator("a[href^='/console/cases/']").first.click()
    assert re.search(r"/console/cases/\d+$", leader.url)

    admin = new_page("admin")
    admin.goto(f"/console/evaluation?period={month}")
    county = admin.locator("#eval-picker [name=county]").first.input_value()
    # a shared demo server may hold an earlier publication: a reason is then required
    admin.fill("#publish-reason", "浏览器测试发布")
    admin.click("#publish-submit")
    published = admin.locator("#publish-flash .msg.ok")
    version = published.get_attribute("data-version", timeout=60_000)

    public = new_page()  # a new browser context, nobody logged in
    public.goto(f"/public/evaluation/{county}")
    assert public.locator("#public-period").inner_text() == month
    assert public.locator("#public-version").inner_text() == version
    assert public.locator("#public-department tr").count() > 1
    assert public.locator("#public-credit").count() == 1
    assert public.locator("#public-grid_worker").count() == 0  # people were not chosen
    shot(public, "public-evaluation")
