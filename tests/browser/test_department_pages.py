"""Departments in a real browser: the admin creates one, edits its duty phone, imports an Excel
list with a broken row (sees the row error, nothing imported), fixes and imports it, and
deactivates one; the API reflects every step."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
HEADERS = ["部门编码", "部门名称", "层级(区/街道/社区/市)", "上级部门编码", "值班电话"]


def department(page, code: str) -> dict | None:  # type: ignore[no-untyped-def]
    r = page.request.get(f"/api/v1/departments/{code}")
    return r.json() if r.ok else None


def workbook(path: Path, rows: list[list[str]]) -> Path:
    wb = Workbook()
    wb.active.append(HEADERS)
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def test_the_admin_manages_departments_from_the_page(new_page, tmp_path):
    page = new_page("admin")
    page.goto("/console/cases")
    with page.expect_navigation():
        page.click("header nav a[href='/console/departments']")
    assert page.locator("#departments tr[data-code='110108-CGW']").count() == 1

    # Create: the code follows the county convention; the flash names the department.
    page.select_option("#new-county", "110108")
    page.fill("#new-code", "110108-WJW")
    page.fill("#new-name", "区卫健委")
    page.select_option("#new-parent", "110108-CGW")
    page.fill("#new-phone", "010-62550001")
    with page.expect_navigation():
        page.click("#create-submit")
    assert "区卫健委" in page.inner_text("[data-testid=flash]")
    made = department(page, "110108-WJW")
    assert made and made["parent_code"] == "110108-CGW" and made["is_active"] is True

    # Edit the duty phone: a wrong one is refused on the dialog, a right one saved.
    page.click("[data-edit='110108-WJW']")
    page.fill("#edit-phone", "值班室")
    page.click("#edit-submit")
    page.wait_for_selector("#edit-msg .msg.err")
    assert "值班电话" in page.inner_text("#edit-msg")
    page.fill("#edit-phone", "010-62551234")
    with page.expect_navigation():
        page.click("#edit-submit")
    row = page.locator("#departments tr[data-code='110108-WJW']")
    assert row.locator("[data-col=duty_phone]").inner_text() == "010-62551234"
    assert department(page, "110108-WJW")["duty_phone"] == "010-62551234"

    # An Excel list with a broken row: every bad row listed, nothing imported.
    rows = [
        ["110108-AJJ", "区应急局", "区", "", "010-62552000"],
        ["110108-SCJ", "区市场监管局", "区", "110108-AJJ", "无人值守"],
    ]
    page.select_option("#import-county", "110108")
    page.set_input_files("#import-file", str(workbook(tmp_path / "部门清单.xlsx", rows)))
    page.click("#import-submit")
    errors = page.locator("[data-testid=import-errors]")
    errors.wait_for()
    text = errors.inner_text()
    assert "值班电话" in text and "不是电话号码" in text
    assert errors.locator("tr").count() == 2  # the header and the one bad row
    assert errors.locator("tr").nth(1).locator("td").first.inner_text() == "3"
    assert "未导入" in page.inner_text("[data-testid=import-failed]")
    errors.scroll_into_view_if_needed()
    shot(page, "console-departments-import")
    assert department(page, "110108-AJJ") is None and department(page, "110108-SCJ") is None

    rows[1][4] = "0594-2345678转801"
    page.set_input_files("#import-file", str(workbook(tmp_path / "部门清单.xlsx", rows)))
    with page.expect_navigation():
        page.click("#import-submit")
    assert "部门清单.xlsx" in page.inner_text("[data-testid=flash]")
    assert department(page, "110108-SCJ")["parent_code"] == "110108-AJJ"
    assert department(page, "110108-AJJ")["duty_phone"] == "010-62552000"

    # Deactivate one after the confirmation: kept, shown as 已停用, refused for new dispatches.
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("[data-deactivate='110108-SCJ']")
    row = page.locator("#departments tr[data-code='110108-SCJ']")
    assert "已停用" in row.locator("[data-col=status]").inner_text()
    assert row.locator("[data-reactivate]").count() == 1
    assert department(page, "110108-SCJ")["is_active"] is False
    shot(page, "console-departments", full_page=True)

    # The filters and the export link of the county.
    page.select_option("#filter-active", "0")
    with page.expect_navigation():
        page.click("#filter-submit")
    assert page.locator("#departments tr[data-code]").count() == 1
    href = page.get_attribute("#export-link", "href")
    assert href.startswith("/api/v1/departments/export.xlsx")
    assert page.request.get(href).ok
