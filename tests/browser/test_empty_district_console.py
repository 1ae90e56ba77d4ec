"""From an empty database to the first closed case, every step after the bootstrap in the
Chinese console (issue 13).

The server runs on an empty SQLite file where only the two bootstrap commands ran (`wangge
init` and `wangge user create` for the county administrator: nobody can log in before the
first account exists). Then, in the browser: the administrator imports the divisions and a
grid draft on the grid page, validates and activates it, downloads the department template
and uploads the filled list, and creates one user per post on the users page; the grid worker
reports from the phone page with a photo, and the case goes accept → file → dispatch →
department accept → feed back (photo) → request check → check passed (photo) → close, each
step by its own user on the case page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from shapely.geometry import box, mapping

from tests.browser.conftest import (
    jpeg,
    need_browser,
    page_factory,
    server_env,
    serving,
    shot,
    wait_for_text,
    wangge,
)
from tests.browser.test_console import act
from tests.integration.test_empty_district import X0, Y0, D, _territory

pytestmark = pytest.mark.browser
COUNTY, COUNTY_NAME = "110108", "海淀区"
COMMUNITY = "110108001001"  # the first of the two communities of `_territory`
ADMIN = "admin1"
PASSWORD = "First-Case-2026"
DEPARTMENT = f"{COUNTY}-CG"
# username, display name, role, scope, department: one account per post of the case loop.
PEOPLE = [
    ("shouli", "受理员小李", "acceptor", COUNTY, ""),
    ("zhiban", "值班长老张", "shift_leader", COUNTY, ""),
    ("paiqian", "派遣员小王", "dispatcher", COUNTY, ""),
    ("jiandu", "网格员小赵", "supervisor", COMMUNITY, ""),
    ("bumen", "城管处置员", "department", "", DEPARTMENT),
]
DEPARTMENTS = [(DEPARTMENT, "区城市管理委员会"), (f"{COUNTY}-SZ", "区市政市容委")]


@pytest.fixture(scope="module")
def empty_district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on an empty database after the two bootstrap commands, and nothing else."""
    need_browser()
    base = tmp_path_factory.mktemp("empty-district")
    env = server_env(base, "district.db")
    wangge(env, "init", "--county", COUNTY, "--name", COUNTY_NAME)
    wangge(env, "user", "create", ADMIN, "--name", "区管理员", "--role", "admin",
           "--scope", COUNTY, "--password", PASSWORD)  # fmt: skip
    with serving(base, env) as url:
        yield url


@pytest.fixture
def as_user(browser, empty_district):  # type: ignore[no-untyped-def]
    with page_factory(browser, empty_district, PASSWORD) as make:
        yield make


def import_divisions(admin, divisions: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The new form on the grid page: a bad file is refused with its list, then the good one."""
    admin.goto("/console/grids")
    assert admin.locator("#versions tr[data-version]").count() == 0
    bad = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"区划代码": f"{COUNTY}999", "名称": "错误街道"},
         "geometry": mapping(box(X0, Y0, X0 + D, Y0 + D))}]}  # fmt: skip
    bad_file = tmp_path / "错误区划.geojson"
    bad_file.write_text(json.dumps(bad, ensure_ascii=False), "utf-8")
    admin.set_input_files("#division-file", str(bad_file))
    admin.click("#division-submit")
    errors = admin.locator("#division-msg [data-testid=import-errors]")
    errors.wait_for()
    assert "错误区划.geojson" in admin.inner_text("#division-msg")
    assert "街道乡镇段 999" in errors.inner_text()

    admin.set_input_files("#division-file", str(divisions))
    admin.click("#division-submit")
    done = admin.locator("#division-msg [data-testid=division-imported]")
    done.wait_for()
    assert done.get_attribute("data-count") == "4"
    assert COMMUNITY in done.inner_text() and "已导入 4 个区划" in done.inner_text()
    admin.reload()  # the new communities are offered by the grid tools
    assert admin.locator(f"#generate-area option[value='community:{COMMUNITY}']").count() == 1


def import_and_activate_grids(admin, grids: Path) -> None:  # type: ignore[no-untyped-def]
    """Grid file → draft (with its report), validated clean, then put in force."""
    admin.set_input_files("#import-file", str(grids))
    admin.select_option("#import-county", COUNTY)
    admin.select_option("#import-kind", "basic")
    with admin.expect_navigation():
        admin.click("#import-submit")
    made_by = admin.locator("[data-testid=made-by]")
    made_by.wait_for()
    assert "8 个网格" in made_by.inner_text()
    row = admin.locator("#versions tr[data-version]")
    assert row.count() == 1 and row.get_attribute("data-status") == "draft"
    version = row.get_attribute("data-version")

    admin.click(f"[data-validate='{version}']")
    admin.wait_for_selector("#report .msg.ok")
    assert "没有问题" in admin.inner_text("#report")

    admin.click(f"[data-activate='{version}']")
    admin.locator("#confirm").wait_for(state="visible")
    admin.wait_for_function(
        "document.getElementById('confirm-body').textContent.includes('当前没有现行版本')"
    )
    with admin.expect_navigation():
        with admin.expect_response("**/actions/activate") as activated:
            admin.click("#confirm-yes")
        assert activated.value.ok, activated.value.text()  # else the page says why, no reload
    admin.wait_for_selector("[data-testid=activation-summary]")
    assert admin.get_attribute(f"#versions tr[data-version='{version}']", "data-status") == "active"
    assert "现行" in admin.inner_text(f"[data-testid=status-{version}]")


def import_departments(admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The template downloaded from the page, filled in as a district office would, uploaded."""
    admin.goto("/console/departments")
    assert admin.locator("[data-testid=dept-empty]").count() == 1
    with admin.expect_download() as download:
        admin.click("#template-link")
    path = tmp_path / "部门清单.xlsx"
    download.value.save_as(path)
    wb = openpyxl.load_workbook(path)
    sheet = wb.worksheets[0]
    headers = [str(c.value or "").split("(")[0] for c in sheet[1]]
    for code, name in DEPARTMENTS:
        row = {"部门编码": code, "部门名称": name, "值班电话": "010-62550000"}
        sheet.append([row.get(h) for h in headers])
    wb.save(path)
    admin.select_option("#import-county", COUNTY)
    admin.set_input_files("#import-file", str(path))
    with admin.expect_navigation():
        admin.click("#import-submit")
    assert "部门清单.xlsx" in admin.inner_text("[data-testid=flash]")
    for code, name in DEPARTMENTS:
        assert name in admin.inner_text(f"#departments tr[data-code='{code}']")


def create_users(admin) -> None:  # type: ignore[no-untyped-def]
    admin.goto("/console/users")
    for username, display, role, scope, department in PEOPLE:
        admin.fill("#new-username", username)
        admin.fill("#new-display", display)
        admin.fill("#new-password", PASSWORD)
        admin.select_option("#new-role", role)
        admin.fill("#new-scope", scope)
        admin.select_option("#new-department", department)
        with admin.expect_navigation():
            admin.click("#create-submit")
        assert username in admin.inner_text("[data-testid=flash]")
        posts = admin.inner_text(f"tr[data-username={username}]")
        assert (scope or department) in posts
    shot(admin, "empty-district-users", full_page=True)


def report_from_the_phone(as_user, photo: Path) -> str:  # type: ignore[no-untyped-def]
    """The grid worker reports 暴露垃圾 in his community with a photo; returns the case code."""
    phone = as_user("jiandu", width=390, height=844)
    phone.goto("/m")
    phone.wait_for_selector("#category option[value=E0102]", state="attached")
    phone.wait_for_function("document.getElementById('mygrid-text').textContent.length > 0")
    assert "第1社区" in phone.inner_text("#mygrid-text")
    phone.select_option("#category", "E0102")
    phone.fill("#description", "社区东门暴露垃圾，两天未清运")
    phone.set_input_files("#photo", str(photo))
    phone.fill("#lon", f"{X0 + 0.3 * D:.6f}")
    phone.fill("#lat", f"{Y0 + 0.7 * D:.6f}")
    phone.click("#report-submit")
    wait_for_text(phone, "#sent", "1")
    assert phone.inner_text("#queued") == "0"
    return phone.get_attribute("#sent-list li", "data-code")


def test_an_admin_takes_an_empty_district_to_its_first_closed_case(as_user, tmp_path):
    divisions, grids = _territory(tmp_path, COUNTY, COUNTY_NAME, X0)
    photo = jpeg(tmp_path)

    admin = as_user(ADMIN)
    import_divisions(admin, divisions, tmp_path)
    import_and_activate_grids(admin, grids)
    import_departments(admin, tmp_path)
    create_users(admin)

    code = report_from_the_phone(as_user, photo)
    acceptor = as_user("shouli")
    acceptor.goto(f"/console/cases?queue=all&q={code}")
    acceptor.click(f"text={code}")
    case_id = int(re.search(r"/console/cases/(\d+)", acceptor.url).group(1))
    assert acceptor.get_attribute("[data-testid=case-state]", "data-state") == "reported"
    act(acceptor, case_id, "accept")
    shift = as_user("zhiban")
    act(shift, case_id, "file")

    dispatcher = as_user("paiqian")
    dispatcher.goto(f"/console/cases/{case_id}")
    dispatcher.select_option("#department", DEPARTMENT)
    with dispatcher.expect_navigation():
        dispatcher.click("button[data-action=dispatch]")
    part = dispatcher.locator("[data-testid=part]")
    assert part.get_attribute("data-department") == DEPARTMENT
    assert "区城市管理委员会" in part.inner_text()

    handler = as_user("bumen")
    act(handler, case_id, "department_accept")
    act(handler, case_id, "feed_back", photo=photo)
    act(acceptor, case_id, "request_check")
    supervisor = as_user("jiandu")
    act(supervisor, case_id, "check_pass", photo=photo)
    act(shift, case_id, "close")

    shift.goto(f"/console/cases/{case_id}")
    state = shift.locator("[data-testid=case-state]")
    assert state.get_attribute("data-state") == "closed" and "已结案" in state.inner_text()
    assert shift.inner_text("[data-testid=case-code]") == code
    rows = shift.locator("[data-testid=timeline] li")
    assert rows.evaluate_all("els => els.map(e => e.dataset.action)") == [
        "report",
        "accept",
        "file",
        "dispatch",
        "department_accept",
        "feed_back",
        "request_check",
        "check_pass",
        "close",
    ]
    timeline = shift.inner_text("[data-testid=timeline]")
    for _username, display, *_ in PEOPLE:
        assert display in timeline  # every step names who did it
    assert shift.locator(".timeline img").count() >= 3  # report, feedback and check photos
    shot(shift, "empty-district-closed", full_page=True)
