"""The grid worker's phone page holds nine cards; the row of links at its top brings each one
into view with one tap (390×844)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_each_link_at_the_top_brings_its_card_into_view(new_page):
    page = new_page("jiandu", width=390, height=844)
    page.goto("/m")
    links = page.locator("[data-testid=jump] a")
    assert links.count() == 7
    for i in range(links.count()):
        target = links.nth(i).get_attribute("href")
        page.evaluate("window.scrollTo(0, 0)")
        links.nth(i).click()
        page.wait_for_function(
            "sel => { const r = document.querySelector(sel).getBoundingClientRect();"
            " return r.top >= -1 && r.top < window.innerHeight; }",
            arg=target,
        )
