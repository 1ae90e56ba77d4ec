"""Grid management and user administration in a real browser.

A draft is imported from a small GeoJSON through the page (a bad file first: the error list,
nothing stored), validated (its gap is reported), activated with the confirmation and its
activation report, then rolled back; unit grids are generated and a community divided from
the page; the admin creates a user with a post, who then sees only his role's pages; a
non-admin is refused. Areas are one community, so each step takes seconds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from shapely.geometry import box, mapping, shape

from tests.browser.conftest import PASSWORD, login, shot

pytestmark = pytest.mark.browser
COMMUNITY = "110108001001"  # the demo's first community (about 1 km²)


def community_shape(page, code: str = COMMUNITY):  # type: ignore[no-untyped-def]
    """The community boundary, asked through the API as the logged-in user."""
    data = page.request.get(f"/api/v1/divisions/{code}/geojson?grids=false").json()
    return shape(next(f for f in data["features"] if f["properties"]["code"] == code)["geometry"])


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def two_grids_with_a_gap(boundary) -> list[dict]:  # type: ignore[no-untyped-def]
    """West and east halves of the community, the east one shrunk: a gap between them."""
    minx, miny, maxx, maxy = boundary.bounds
    mid = (minx + maxx) / 2
    west = boundary.intersection(box(minx, miny, mid, maxy))
    east = boundary.intersection(box(mid + 0.0008, miny, maxx, maxy))
    return [
        {"type": "Feature", "properties": {"名称": name}, "geometry": mapping(g)}
        for name, g in (("西网格", west), ("东网格", east))
    ]


def version_rows(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Version id → status, as the page lists them."""
    rows = page.locator("#versions tr[data-version]")
    return {
        rows.nth(i).get_attribute("data-version"): rows.nth(i).get_attribute("data-status")
        for i in range(rows.count())
    }


def wait_report(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "(() => { const r = document.getElementById('report'); "
        "return r.textContent.length > 1 && !r.textContent.startsWith('…'); })()"
    )


def activate(page, version_id: str, reason: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Press the version's activate (or roll back) button, read the confirmation, confirm.

    With `reason`, the version has validation problems: the page asks for the reason to put
    it in force anyway and refuses to go on without one.
    """
    page.click(f"[data-activate='{version_id}']")
    confirm = page.locator("#confirm")
    confirm.wait_for(state="visible")
    page.wait_for_selector("#confirm-body table")
    assert int(confirm.locator("[data-diff=new]").inner_text()) >= 0
    if reason is not None:
        page.wait_for_selector("[data-testid=override]", state="visible")
        assert "问题" in page.inner_text("#override-problems")
        page.click("#confirm-yes")  # no reason: refused on the page, nothing is sent
        page.wait_for_selector("#confirm-body .msg.err")
        assert "理由" in page.inner_text("#confirm-body")
        page.fill("#override-reason", reason)
    else:
        assert page.locator("[data-testid=override]").is_hidden()
    with page.expect_navigation(timeout=120_000):
        page.click("#confirm-yes")
    page.wait_for_selector("[data-testid=activation-summary]", timeout=60_000)


def test_a_draft_is_imported_validated_activated_and_rolled_back(new_page, tmp_path):
    page = new_page("admin")
    page.goto("/console/grids")
    before = version_rows(page)
    active_social = next(
        v
        for v, status in before.items()
        if status == "active"
        and page.get_attribute(f"#versions tr[data-version='{v}']", "data-layer") == "social"
    )
    good = two_grids_with_a_gap(community_shape(page))

    # A bad file: every bad feature is listed with its field, and nothing is stored.
    bad = [dict(f, properties=dict(f["properties"])) for f in good]
    bad[0]["properties"]["户数"] = "很多"
    bad[1]["properties"]["类型"] = "沙漠网格"
    page.set_input_files("#import-file", str(write_geojson(tmp_path / "坏网格.geojson", bad)))
    page.fill("#import-name", "页面导入测试")
    page.click("#import-submit")
    errors = page.locator("[data-testid=import-errors]")
    errors.wait_for()
    text = errors.inner_text()
    assert "户数" in text and "kind" in text and "不是整数" in text
    assert "坏网格.geojson" in page.inner_text("#import-msg")
    page.goto("/console/grids")
    assert version_rows(page) == before

    # The good file becomes a draft, listed, with its report and a map preview.
    page.set_input_files("#import-file", str(write_geojson(tmp_path / "网格.geojson", good)))
    page.fill("#import-name", "页面导入测试")
    with page.expect_navigation():
        page.click("#import-submit")
    wait_report(page)
    after = version_rows(page)
    (draft,) = set(after) - set(before)
    assert after[draft] == "draft"
    assert "网格.geojson" in page.inner_text("[data-testid=made-by]")
    page.wait_for_function("document.getElementById('vmap').dataset.features == '2'")

    # Validation reports the gap between the two halves and marks it on the map.
    page.click(f"[data-validate='{draft}']")
    page.wait_for_selector("[data-testid=problem-count]")
    assert "缝隙" in page.inner_text("#report")
    page.wait_for_function("Number(document.getElementById('vmap').dataset.problems) >= 1")
    shot(page, "console-grid-import", full_page=True)

    # Activation: the confirmation shows what changes and, since the draft has a gap, asks why
    # it must go into force anyway; the report shows what moved and the reason.
    activate(page, draft, reason="缝隙处为河道，已与街道确认")
    assert "缝隙处为河道" in page.inner_text("[data-testid=activation-override]")
    assert version_rows(page)[draft] == "active"
    assert version_rows(page)[active_social] == "retired"
    summary = page.inner_text("[data-testid=activation-summary]")
    number = page.get_attribute(f"#versions tr[data-version='{draft}']", "data-number")
    assert f"第 {number} 版" in summary
    assert int(page.inner_text("[data-diff=retired]")) > 0  # the other grids of the county
    assert page.locator("[data-moved=cases]").count() == 1

    # Rollback: the old version is in force again and the records come back to it.
    activate(page, active_social)
    assert version_rows(page)[active_social] == "active"
    assert version_rows(page)[draft] == "retired"
    assert int(page.inner_text("[data-diff=new]")) > 0


def test_unit_grids_are_generated_and_a_community_divided_from_the_page(new_page, tmp_path):
    page = new_page("admin")
    page.goto("/console/grids")
    before = set(version_rows(page))

    page.click(".tabs [data-tab=generate]")
    page.select_option("#generate-area", f"community:{COMMUNITY}")
    page.fill("#generate-cell", "40000")
    with page.expect_navigation(timeout=120_000):
        page.click("#generate-submit")
    wait_report(page)
    made = page.inner_text("[data-testid=made-by]")
    assert "40,000" in made and "1 个社区" in made
    (generated,) = set(version_rows(page)) - before
    assert page.get_attribute(f"#versions tr[data-version='{generated}']", "data-layer") == "unit"
    page.wait_for_function("Number(document.getElementById('vmap').dataset.features) > 10")

    # Automatic division: 36 buildings of 20-40 households, 300 per grid ±10 %.
    boundary = community_shape(page)
    rng = random.Random(6)
    minx, miny, maxx, maxy = boundary.bounds
    buildings = []
    while len(buildings) < 36:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if boundary.contains(shape({"type": "Point", "coordinates": [x, y]})):
            buildings.append(
                {
                    "type": "Feature",
                    "properties": {"编号": f"B{len(buildings)}", "户数": rng.randint(20, 40)},
                    "geometry": {"type": "Point", "coordinates": [x, y]},
                }
            )
    households = sum(b["properties"]["户数"] for b in buildings)
    page.click(".tabs [data-tab=divide]")
    page.select_option("#divide-communities", [COMMUNITY])
    page.set_input_files(
        "#divide-buildings", str(write_geojson(tmp_path / "楼栋.geojson", buildings))
    )
    page.fill("#divide-target", "300")
    page.fill("#divide-tolerance", "10")
    # An expressway across the middle, in a class the table does not know: the user maps it
    # to a barrier on the form, and no grid may cross it.
    mid = (miny + maxy) / 2
    expressway = {
        "type": "Feature",
        "properties": {"等级": "城市快速路"},
        "geometry": {
            "type": "LineString",
            "coordinates": [[minx - 0.001, mid], [maxx + 0.001, mid]],
        },
    }
    page.set_input_files(
        "#divide-lines", str(write_geojson(tmp_path / "道路.geojson", [expressway]))
    )
    page.fill("#divide-line-roles", "城市快速路=barrier")
    with page.expect_navigation(timeout=180_000):
        page.click("#divide-submit")
    wait_report(page)
    grids = int(page.inner_text("[data-testid=division-grids]"))
    assert round(households / 300) - 1 <= grids <= round(households / 300) + 2
    assert page.inner_text("[data-testid=share-within]").endswith("%")
    assert page.inner_text("[data-testid=barrier-grids]") == "0"
    assert str(households) in page.inner_text("#report").replace(",", "")
    divided = set(version_rows(page)) - before - {generated}
    assert len(divided) == 1 and version_rows(page)[divided.pop()] == "draft"
    page.wait_for_function(f"document.getElementById('vmap').dataset.features == '{grids}'")
    shot(page, "console-grid-divide", full_page=True)


def test_the_admin_creates_a_user_with_a_post_who_sees_only_his_pages(new_page):
    page = new_page("admin")
    page.goto("/console/users")
    page.fill("#new-username", "xinwangge")
    page.fill("#new-display", "新网格员")
    page.fill("#new-password", "short")
    page.select_option("#new-role", "supervisor")
    page.fill("#new-scope", COMMUNITY)
    page.click("#create-submit")
    page.wait_for_selector("#create-msg .msg.err")
    assert "密码不符合要求" in page.inner_text("#create-msg")
    assert page.locator("tr[data-username=xinwangge]").count() == 0

    page.fill("#new-password", "Xin-Grid-2026")
    with page.expect_navigation():
        page.click("#create-submit")
    assert "xinwangge" in page.inner_text("[data-testid=flash]")
    row = page.locator("tr[data-username=xinwangge]")
    assert COMMUNITY in row.inner_text()

    # A street administrator, made from the page, cannot grant beyond his street.
    page.fill("#new-username", "jdguanli")
    page.fill("#new-display", "街道管理员")
    page.fill("#new-password", "Street-Admin-2026")
    page.select_option("#new-role", "admin")
    page.fill("#new-scope", "110108001")
    with page.expect_navigation():
        page.click("#create-submit")
    street = new_page()
    street.goto("/login")
    street.fill("#username", "jdguanli")
    street.fill("#password", "Street-Admin-2026")
    with street.expect_navigation():
        street.click("#login-submit")
    street.goto("/console/users")
    street.click("tr[data-username=xinwangge] [data-add-post]")
    street.select_option("#post-role", "supervisor")
    street.fill("#post-scope", "110108002001")
    street.click("#post-submit")
    street.wait_for_selector("#post-msg .msg.err")
    assert "超出您的管辖范围" in street.inner_text("#post-msg")
    street.click("#post-dialog [data-close]")

    # A second post through the dialog, then removed again.
    page.goto("/console/users")
    page.click("tr[data-username=xinwangge] [data-add-post]")
    page.select_option("#post-role", "grid_leader")
    page.fill("#post-scope", COMMUNITY)
    shot(page, "console-users-edit")
    with page.expect_navigation():
        page.click("#post-submit")
    badges = page.locator("tr[data-username=xinwangge] [data-post]")
    assert badges.count() == 2 and "网格长" in badges.nth(1).inner_text()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        badges.nth(1).locator("[data-remove-post]").click()
    assert page.locator("tr[data-username=xinwangge] [data-post]").count() == 1

    # Reset the new user's password from the page (the rule is checked there too).
    page.click("tr[data-username=xinwangge] [data-reset]")
    page.fill("#reset-password", "reset")
    page.click("#reset-submit")
    page.wait_for_selector("#reset-msg .msg.err")
    assert "密码不符合要求" in page.inner_text("#reset-msg")
    page.fill("#reset-password", "Reset-Grid-2026")
    with page.expect_navigation():
        page.click("#reset-submit")
    assert "xinwangge" in page.inner_text("[data-testid=flash]")

    worker = new_page()
    worker.goto("/login")
    worker.fill("#username", "xinwangge")
    worker.fill("#password", "Reset-Grid-2026")
    with worker.expect_navigation():
        worker.click("#login-submit")
    worker.goto("/console/cases")
    nav = worker.locator("header.top nav").inner_text()
    assert "案卷" in nav and "网格管理" in nav and "用户" not in nav
    worker.goto("/console/grids")
    assert worker.locator("#tools").count() == 0 and worker.locator("[data-activate]").count() == 0
    worker.goto("/console/users")
    assert worker.locator("#users").count() == 0

    # Deactivated, he is out at once; reactivated, he may log in again.
    page.goto("/console/users")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("tr[data-username=xinwangge] [data-deactivate]")
    assert "已停用" in page.locator("tr[data-username=xinwangge]").inner_text()
    worker.goto("/console/cases")
    assert "/login" in worker.url
    with page.expect_navigation():
        page.click("tr[data-username=xinwangge] [data-reactivate]")
    login_page = new_page()
    login_page.goto("/login")
    login_page.fill("#username", "xinwangge")
    login_page.fill("#password", "Reset-Grid-2026")
    with login_page.expect_navigation():
        login_page.click("#login-submit")
    assert "/login" not in login_page.url


def test_a_non_admin_gets_refused(new_page):
    page = new_page("shouli")
    page.goto("/console/users")
    assert page.locator("#users").count() == 0 and page.locator("#create-form").count() == 0
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = page.request.post(
        "/api/v1/users",
        data={"username": "sneaky", "display_name": "x", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status == 403
    page.goto("/console/grids")
    assert page.locator("#versions tr[data-version]").count() >= 2
    assert page.locator("#tools").count() == 0 and page.locator("[data-activate]").count() == 0
    r = page.request.post(
        "/api/v1/grid-versions/generate",
        data={"county": "110108", "communities": [COMMUNITY]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status == 403
    login(page, "admin")
    page.goto("/console/users")
    assert page.locator("#create-form").count() == 1
