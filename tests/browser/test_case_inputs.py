"""The case page's action inputs: "duplicate of" for reject_duplicate, joint dispatch."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_console import community_point
from tests.browser.test_phone_pages import api_act, upload

pytestmark = pytest.mark.browser


def report(page, lon: float, lat: float, description: str) -> dict:
    """Report a case through the API as the page's user."""
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = page.request.post(
        "/api/v1/cases",
        data={
            "category_code": "E0102",
            "description": description,
            "lon": lon,
            "lat": lat,
            "photos": [upload(page)],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status == 201, r.text()
    return r.json()


def press(page, action: str) -> None:
    page.click(f"button[data-action={action}]")


def test_an_acceptor_rejects_a_case_as_a_duplicate_of_another_by_its_code(new_page):
    worker = new_page("jiandu")
    _community, lon, lat = community_point(worker)
    original = report(worker, lon, lat, "原案卷：人行道井盖缺失")
    dup = report(worker, lon + 0.00005, lat, "重复上报：井盖缺失")

    acceptor = new_page("shouli")
    acceptor.goto(f"/console/cases/{dup['id']}")
    # The original is offered among the likely duplicates nearby; picking one fills the code.
    candidate = f"[data-testid=duplicate-candidate][data-code='{original['code']}']"
    acceptor.click(candidate)
    assert acceptor.input_value("#duplicate-of") == original["code"]

    # Without a code, and with a code that does not exist: refused, in Chinese, field marked.
    acceptor.fill("#duplicate-of", "")
    press(acceptor, "reject_duplicate")
    acceptor.wait_for_selector("#act-msg.err")
    assert "原案卷编号" in acceptor.inner_text("#act-msg")
    acceptor.fill("#duplicate-of", "110108209901010000000")
    press(acceptor, "reject_duplicate")
    acceptor.wait_for_function("document.getElementById('act-msg').textContent.includes('不存在')")
    assert "invalid" in acceptor.get_attribute("#duplicate-of", "class")

    # The same refusal in English.
    acceptor.goto(f"/console/cases/{dup['id']}?lang=en")
    acceptor.fill("#duplicate-of", "110108209901010000000")
    press(acceptor, "reject_duplicate")
    acceptor.wait_for_function(
        "document.getElementById('act-msg').textContent.includes('does not exist')"
    )
    assert acceptor.get_attribute("[data-testid=case-state]", "data-state") == "reported"

    # The original's code typed in: rejected, and the page links to the original.
    acceptor.goto(f"/console/cases/{dup['id']}")
    acceptor.fill("#duplicate-of", original["code"])
    with acceptor.expect_navigation():
        press(acceptor, "reject_duplicate")
    assert acceptor.get_attribute("[data-testid=case-state]", "data-state") == "rejected"
    link = acceptor.locator("a[data-testid=duplicate-of]")
    assert link.inner_text() == original["code"]
    assert link.get_attribute("href") == f"/console/cases/{original['id']}"
    with acceptor.expect_navigation():
        link.click()
    assert acceptor.inner_text("[data-testid=case-code]") == original["code"]
    stored = acceptor.request.get(f"/api/v1/cases/{dup['id']}").json()
    assert stored["state"] == "rejected" and stored["duplicate_of"] == original["id"]


def test_a_dispatcher_dispatches_a_joint_case_to_a_lead_and_an_assisting_department(new_page):
    worker = new_page("jiandu")
    _community, lon, lat = community_point(worker)
    case = report(worker, lon, lat, "联合处置：占道经营并堆放杂物")
    api_act(new_page("shouli"), case["id"], "accept")
    api_act(new_page("zhiban"), case["id"], "file")

    dispatcher = new_page("paiqian")
    dispatcher.goto(f"/console/cases/{case['id']}")
    codes = dispatcher.locator("#department option").evaluate_all("os => os.map(o => o.value)")
    lead, assisting = codes[0], codes[1]
    dispatcher.select_option("#department", lead)
    # The lead cannot also assist; choosing another lead frees it again.
    assert dispatcher.is_disabled(f"#assisting input[value='{lead}']")
    dispatcher.select_option("#department", assisting)
    assert dispatcher.is_enabled(f"#assisting input[value='{lead}']")
    assert dispatcher.is_disabled(f"#assisting input[value='{assisting}']")
    dispatcher.select_option("#department", lead)
    dispatcher.check(f"#assisting input[value='{assisting}']")
    dispatcher.fill("#note", "主办部门牵头，协办部门配合")
    shot(dispatcher, "console-case-dispatch-joint", full_page=True)
    with dispatcher.expect_navigation():
        press(dispatcher, "dispatch")

    assert dispatcher.get_attribute("[data-testid=case-state]", "data-state") == "dispatched"
    parts = dispatcher.locator("[data-testid=part]")
    assert parts.count() == 2
    roles = {p.get_attribute("data-department"): p.get_attribute("data-lead") for p in parts.all()}
    assert roles == {lead: "true", assisting: "false"}
    text = dispatcher.inner_text("[data-testid=part][data-lead=false]")
    assert "（协办）" in text
    stored = dispatcher.request.get(f"/api/v1/cases/{case['id']}").json()
    assert {(p["department_code"], p["lead"]) for p in stored["parts"]} == {
        (lead, True),
        (assisting, False),
    }
