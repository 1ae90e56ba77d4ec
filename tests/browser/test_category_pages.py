"""Case categories in a real browser (issue 13).

The admin opens 案件类别, edits a category's handling limit and its admission (准入清单),
adds a local category, and adds a routing rule for it limited to a street; the API then shows
every change. The edited category is put back at the end, since the demo district is shared
by the other browser tests.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
EDITED = "E0118"  # an event class the demo month hardly uses
LOCAL = "X0901"


def _category(page, code: str) -> dict:  # type: ignore[no-untyped-def]
    rows = page.request.get("/api/v1/case-categories?active=all").json()
    return next(c for c in rows if c["code"] == code)


def test_an_admin_edits_a_category_adds_a_local_one_and_routes_it(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.click("header nav a[href='/console/categories']")
    page.wait_for_selector("#categories tr[data-code]")
    before = _category(page, EDITED)

    # Filters: only the admission list (准入清单) of events.
    page.select_option("#filter-kind", "event")
    page.select_option("#filter-admitted", "1")
    with page.expect_navigation():
        page.click("#filter-submit")
    shown = page.locator("#categories tr[data-code]")
    assert shown.count() > 0
    assert all(
        shown.nth(i).get_attribute("data-code").startswith("E") for i in range(shown.count())
    )
    page.goto("/console/categories?kind=event")

    # Edit: handling limit of area class B to 10 working hours, off the admission list.
    page.click(f"[data-edit='{EDITED}']")
    page.wait_for_selector("#edit-dialog[open]")
    page.fill("#edit-limits input[data-stage='handle'][data-area='B']", "10")
    if page.is_checked("#edit-admitted"):
        page.uncheck("#edit-admitted")
    else:
        page.check("#edit-admitted")
    shot(page, "console-category-edit")
    with page.expect_navigation():
        page.click("#edit-submit")
    assert EDITED in page.inner_text("#flash")
    row = page.locator(f"#categories tr[data-code='{EDITED}']")
    assert "/ 10" in row.locator("[data-col=handle]").inner_text()
    assert "limits" in row.locator("[data-col=edited]").inner_text()
    edited = _category(page, EDITED)
    assert edited["limits"]["handle"]["B"] == 10
    assert edited["admitted_to_grid"] is (not before["admitted_to_grid"])
    assert set(edited["edited"]) >= {"limits", "admitted_to_grid"}

    # A local category; a bad code is refused on the server, in the page's language.
    page.fill("#new-code", "X9")
    page.fill("#new-name", "共享单车乱停放")
    page.fill("#new-major", "街面秩序")
    page.evaluate("document.getElementById('create-form').noValidate = true")
    page.click("#create-submit")
    page.wait_for_selector("#create-msg .msg.err")
    assert "X" in page.inner_text("#create-msg")
    page.fill("#new-code", LOCAL)
    page.fill("#new-limits input[data-stage='handle'][data-area='A']", "4")
    page.fill("#new-limits input[data-stage='handle'][data-area='B']", "8")
    page.fill("#new-limits input[data-stage='handle'][data-area='C']", "12")
    page.check("#new-admitted")
    page.check("#new-minor")
    if page.locator("#new-line option[value='urban']").count():
        page.select_option("#new-line", "urban")
    page.fill("#new-department", "CGW")
    with page.expect_navigation():
        page.click("#create-submit")
    assert LOCAL in page.inner_text("#flash")
    local = _category(page, LOCAL)
    assert local["origin"] == "local" and local["admitted_to_grid"] and local["minor"]
    assert local["limits"] == {"handle": {"A": 4, "B": 8, "C": 12}}

    # A routing rule for the local category in the county's first street.
    page.goto(f"/console/categories?kind=event&major={LOCAL[:3]}")
    page.click(f"[data-routes='{LOCAL}']")
    page.wait_for_selector("#routes-dialog[open]")
    page.wait_for_selector("#rules tr[data-rule]")
    page.select_option("#rule-scope", "street")
    street = page.eval_on_selector("#rule-area", "s => s.value")
    lead = page.eval_on_selector("#rule-lead", "s => s.options[1].value")
    page.select_option("#rule-lead", lead)
    page.locator("#rule-assisting input").first.check()
    page.click("#rule-submit")
    page.wait_for_selector("#rule-msg .msg.ok")
    assert page.locator("#rules tr[data-rule]").count() == 1
    assert street in page.inner_text("#rules")
    shot(page, "console-category-routing")
    county = page.eval_on_selector("#route-county", "s => s.value")
    rules = page.request.get(
        f"/api/v1/case-routing-rules?county_code={county}&category_code={LOCAL}"
    ).json()
    assert [(r["area_prefix"], r["department_code"]) for r in rules] == [(street, lead)]
    assert len(rules[0]["assisting"]) == 1

    # Put the shared demo category back as it was (its fields stay marked as edited).
    back = {"limits": before["limits"], "admitted_to_grid": before["admitted_to_grid"]}
    headers = {"X-CSRF-Token": page.request.get("/api/v1/auth/me").json()["csrf_token"]}
    assert page.request.patch(f"/api/v1/case-categories/{EDITED}", data=back, headers=headers).ok
