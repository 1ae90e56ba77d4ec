"""The case list in a real browser: filters kept in the address through a reload, the Excel
export of the same rows, and a department handler's first screen without a single error."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import login, shot

pytestmark = pytest.mark.browser


def test_filters_survive_a_reload_and_the_export_holds_the_same_rows(new_page, tmp_path):
    page = new_page("zhiban")
    page.goto("/console/cases?queue=all")
    street = page.locator("#f-street option").nth(1)
    code, name = street.get_attribute("value"), street.inner_text()
    with page.expect_navigation():  # a street narrows the communities: the page reloads
        page.select_option("#f-street", code)
    page.select_option("#f-source", "patrol")
    page.select_option("#f-sort", "deadline")
    with page.expect_navigation():
        page.click("#f-submit")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"queue": ["all"], "street": [code], "source": ["patrol"], "sort": ["deadline"]}
    total = int(page.get_attribute("[data-testid=case-total]", "data-total"))
    api = page.request.get(f"/api/v1/cases?street={code}&source=patrol&limit=1").json()
    assert 0 < total == api["total"]
    shown = page.locator("#case-table tr[data-case-id]").count()

    page.reload()
    assert page.input_value("#f-street") == code and page.input_value("#f-source") == "patrol"
    assert page.input_value("#f-sort") == "deadline"
    assert page.locator("#case-table tr[data-case-id]").count() == shown
    shot(page, "console-cases-filtered")

    page.click("#export-link")  # a background job: its progress, then the download link
    with page.expect_download() as info:
        page.click("#export-download")
    path = tmp_path / "cases.xlsx"
    info.value.save_as(path)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    head = rows[0]
    assert head[:5] == ("案卷编号", "类别", "状态", "亮灯", "来源")
    assert len(rows) - 1 == total
    body = [dict(zip(head, row, strict=True)) for row in rows[1:]]
    assert {r["来源"] for r in body} == {"巡查上报"} and {r["街道"] for r in body} == {name}
    listed = page.locator("#case-table tr[data-case-id] td:first-child").all_inner_texts()
    assert [r["案卷编号"] for r in body[: len(listed)]] == listed  # the page's order too


def test_a_department_handlers_first_screen_his_map_and_case_load_without_errors(new_page):
    page = new_page()
    login(page, "bumen")
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)  # fmt: skip
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)  # fmt: skip

    page.goto("/console")
    page.wait_for_url(re.compile(r"/console/cases$"))
    queues = page.locator("[data-queue]").evaluate_all("els => els.map(e => e.dataset.queue)")
    assert queues == ["to_sign", "in_progress", "overdue", "all"]
    shot(page, "console-department-queues")

    page.goto("/console/map")  # was blank: the layer answered 404 and map.js threw
    page.wait_for_function("document.getElementById('map').dataset.grids > 0")
    page.wait_for_function("document.getElementById('map').dataset.cases !== undefined")

    mine = page.request.get("/api/v1/cases?limit=1").json()["items"]
    assert mine, "the demo month dispatches cases to the first department"
    with page.expect_response(re.compile(r"/web/api/cases/\d+/grid")) as outline:
        page.goto(f"/console/cases/{mine[0]['id']}")
    assert outline.value.status == 200  # the grid outline of his case (was a 404)
    assert outline.value.json()["geometry"]["type"] in ("Polygon", "MultiPolygon")
    page.wait_for_load_state("networkidle")
    assert problems == []
