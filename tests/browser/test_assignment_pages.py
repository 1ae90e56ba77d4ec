"""Grid assignments (网格员配置) on the console, and the grid worker's phone reading them."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_an_administrator_assigns_a_grid_worker_and_ends_the_assignment(new_page):
    page = new_page("admin")
    page.goto("/console/users")
    page.click("#assignments-link")
    page.wait_for_selector("[data-testid=assignments]")
    table = page.inner_text("#assignments")
    # the demo's 监督员 and 网格长 serve every grid of their community
    assert "王建国" in table and "李秀英" in table and "专职网格员" in table and "网格长" in table
    grid = page.locator("tr[data-assignment] td").first.inner_text().strip()

    page.fill("#assign-user", "shouli")
    page.fill("#assign-grid", grid)
    page.select_option("#assign-kind", "part_time")
    page.click("#assign-submit")
    page.wait_for_selector("#flash .msg.ok")
    row = page.locator("tr[data-assignment]", has_text="shouli")
    assert row.count() == 1 and "兼职网格员" in row.inner_text()

    # the same person, kind and grid again: refused with the reason, nothing added
    page.fill("#assign-user", "shouli")
    page.fill("#assign-grid", grid)
    page.select_option("#assign-kind", "part_time")
    page.click("#assign-submit")
    page.wait_for_selector("#assign-msg .msg.err")
    assert "shouli" in page.inner_text("#assign-msg") or "受理员" in page.inner_text("#assign-msg")
    shot(page, "console-grid-assignments", full_page=True)

    row.locator("[data-end]").click()
    page.click("#end-submit")
    page.wait_for_selector("#flash .msg.ok")
    ended = page.locator("tr[data-assignment]", has_text="shouli").inner_text()
    today = page.input_value("#assign-start")
    assert today in ended  # its last day is today


def test_the_grid_workers_phone_shows_his_assigned_grids_and_filters_tasks_by_line(new_page):
    page = new_page("jiandu", **PHONE)
    page.goto("/m")
    page.wait_for_function("document.querySelectorAll('#task-line option').length > 1")
    options = page.locator("#task-line option").all_inner_texts()
    assert "城管" in options and any("综治" in o for o in options)
    page.wait_for_function(
        "document.getElementById('mygrid-text').textContent.includes('专职网格员')"
    )
    page.wait_for_selector("#tasks .badge")
    page.select_option("#task-line", "urban")
    page.wait_for_selector("#tasks .badge")
    assert "Error" not in page.inner_text("#tasks")
