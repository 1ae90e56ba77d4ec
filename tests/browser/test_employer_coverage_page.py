"""用人单位覆盖率 (两网化) in the console: the demo's two reference lists give coverage per area,
a trend since the first list and the employers still to visit; a list with bad rows is refused
row by row and changes nothing; a grid worker sees his own area only and cannot import."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wangge.common.localtime import SHANGHAI

pytestmark = pytest.mark.browser


def _coverage_rows(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = page.locator("#employer-coverage tr[data-area]")
    return {
        rows.nth(i).get_attribute("data-area"): int(
            rows.nth(i).locator("td[data-col=listed]").inner_text()
        )
        for i in range(rows.count())
        if rows.nth(i).get_attribute("data-area") != "unplaced"
    }


def test_the_centre_reads_coverage_trend_and_employers_to_visit(new_page, tmp_path):
    page = new_page("admin")
    page.goto("/console/employers?level=street")
    by_street = _coverage_rows(page)
    assert by_street and sum(by_street.values()) > 0
    assert page.locator("#employer-trend tr[data-month]").count() >= 3  # since the first list
    street = next(iter(by_street))
    page.click(f"#employer-coverage tr[data-area='{street}'] a")
    page.wait_for_url(f"**area={street}**")
    todo = page.locator("#employer-todo tr[data-credit]")
    assert todo.count() > 0  # listed, not yet verified: whom to visit
    before = page.inner_text("#employer-coverage")

    # a list with a bad check character and a repeated credit code: refused row by row
    good = page.locator("#employer-todo tr[data-credit]").first.get_attribute("data-credit")
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    text = "统一社会信用代码,企业名称,住所\n" + f"{bad},错码公司,某路1号\n{good},甲公司,某路2号\n"
    text += f"{good},甲公司重复,某路3号\n"
    path = tmp_path / "名录.csv"
    path.write_bytes(text.encode("gbk"))
    today = datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()
    page.fill("#employer-import input[name=as_of]", today)
    page.set_input_files("#employer-import input[name=file]", str(path))
    page.click("#employer-import button[type=submit]")
    errors = page.locator("[data-testid=employer-import-errors] li")
    errors.first.wait_for()
    shown = page.inner_text("[data-testid=employer-import-errors]")
    assert "第 2 行" in shown and "第 4 行" in shown and "row 3" in shown.lower()
    assert "未导入任何一行" in page.inner_text("#employer-import-msg")
    page.reload()
    assert page.inner_text("#employer-coverage") == before  # nothing was written


def test_a_grid_worker_sees_his_area_only_and_cannot_import(new_page):
    page = new_page("jiandu")
    page.goto("/console/employers?level=community")
    areas = _coverage_rows(page)
    scopes = page.request.get("/api/v1/auth/me").json()["scope_prefixes"]
    assert areas and all(any(a.startswith(s) or s.startswith(a) for s in scopes) for a in areas)
    assert page.locator("#employer-import").count() == 0
