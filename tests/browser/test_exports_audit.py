"""Exports as background jobs and the audit-log page in a real browser: an operator exports
the filtered case list, follows its progress and downloads the rows he filtered; the auditor
finds that export in the audit log by filtering on the operator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser

# Records every state the progress panel shows (queued, running, done), from the first.
WATCH = """() => {
  window.exportStates = [];
  new MutationObserver(() => {
    const p = document.getElementById('export-progress');
    if (p && p.dataset.state && window.exportStates.at(-1) !== p.dataset.state)
      window.exportStates.push(p.dataset.state);
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def test_an_operator_exports_in_the_background_and_the_auditor_finds_it(new_page, tmp_path):
    page = new_page("zhiban")
    page.goto("/console/cases?queue=all")
    page.select_option("#f-source", "patrol")
    page.select_option("#f-sort", "deadline")
    with page.expect_navigation():
        page.click("#f-submit")
    assert parse_qs(urlsplit(page.url).query)["source"] == ["patrol"]
    total = int(page.get_attribute("[data-testid=case-total]", "data-total"))
    assert total > 0
    listed = page.locator("#case-table tr[data-case-id] td:first-child").all_inner_texts()

    page.evaluate(WATCH)
    page.click("#export-link")
    link = page.locator("#export-download")
    link.wait_for()
    states = page.evaluate("window.exportStates")
    assert states[0] == "queued" and states[-1] == "done", states
    assert f"{total} 行" in page.inner_text("#export-progress")
    shot(page, "console-export-progress")
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "cases.xlsx"
    info.value.save_as(path)
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    head, body = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert head[0] == "案卷编号" and len(body) == total
    assert {r["来源"] for r in body} == {"巡查上报"}
    assert [r["案卷编号"] for r in body[: len(listed)]] == listed

    auditor = new_page("shenji")
    auditor.goto("/console")
    auditor.wait_for_url("**/console/audit")  # an auditor's first screen is the audit log
    auditor.fill("#f-actor", "zhiban")
    with auditor.expect_navigation():
        auditor.click("#f-submit")
    assert parse_qs(urlsplit(auditor.url).query)["actor"] == ["zhiban"]
    actors = auditor.locator("#audit-table td[data-col=actor]").all_inner_texts()
    assert actors and set(actors) == {"zhiban"}
    export = auditor.locator("#audit-table tr[data-action='case.export']").first
    assert export.is_visible()
    assert '"rows":' in export.locator("td[data-col=detail]").inner_text()
    assert auditor.locator("#audit-table tr[data-action='export.download']").count() >= 1
    shot(auditor, "console-audit")
