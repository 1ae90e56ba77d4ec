"""The 1920×1080 dashboard renders its indicators and charts from the demo month."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser

CHARTS = ["c-state", "c-heat", "c-category", "c-source", "c-area"]


def test_the_dashboard_renders_every_chart_with_data_at_1920_by_1080(new_page):
    page = new_page("lingdao", width=1920, height=1080)
    page.goto("/dashboard")
    page.wait_for_selector("body[data-loaded='1']")
    assert int(page.get_attribute("body", "data-total")) > 100
    for chart in CHARTS:
        n = page.evaluate(
            """id => {
                const c = echarts.getInstanceByDom(document.getElementById(id));
                return c ? c.getOption().series[0].data.length : 0;
            }""",
            chart,
        )
        assert n > 0, chart
    # The evaluation's own rates over the same 30 days (tests/api/test_dashboard_figures.py).
    for tile in ("#k-ontime", "#k-closed-ontime", "#k-satisfied"):
        assert page.inner_text(tile).endswith("%"), tile
    assert page.locator("#top tr").count() > 1
    page.wait_for_timeout(800)  # let the chart animations finish before the picture
    shot(page, "dashboard")
