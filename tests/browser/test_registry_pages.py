"""The registry pages (基础数据) in a real browser: masked lists, search, audited unmasking, Excel.

The tests create the records they look for (random valid ID numbers), so they also run
against a long-lived development server (WANGGE_BROWSER_BASE_URL) more than once.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import shot
from wangge.common.ids import id_check_char

pytestmark = pytest.mark.browser

MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "明华建国秀英志强丽娟晓东海燕春梅玉兰德胜文静子轩雨桐思远嘉怡"


def new_id(rng: random.Random, county: str = "110108") -> str:
    """Return a valid random ID number (GB 11643) of the county."""
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    first17 = f"{county}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


def new_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2))


def masked(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def community_of(page) -> str:
    """Return the logged-in grid worker's community (his scope)."""
    return page.request.get("/api/v1/auth/me").json()["scope_prefixes"][0]


def create_person(page, **body) -> dict:
    """Register a person through the API as the page's user (session cookie + CSRF)."""
    csrf = page.request.get("/api/v1/auth/me").json()["csrf_token"]
    r = page.request.post("/api/v1/registry/people", data=body, headers={"X-CSRF-Token": csrf})
    assert r.status == 201, r.text()
    return r.json()


def search(page, kind: str, text: str) -> int:
    """Search a registry list through the filter form; return the total shown.

    The page POSTs the search text and swaps the answer in (no navigation): wait until the
    results shown are new ones.
    """
    page.goto(f"/console/registry/{kind}")
    page.fill("#registry-q", text)
    page.eval_on_selector("#registry-results", "e => e.dataset.stale = '1'")
    page.click("#registry-search")
    page.wait_for_selector("#registry-results:not([data-stale])", state="attached")
    return int(page.get_attribute("[data-testid=registry-total]", "data-total"))


def test_admin_finds_a_person_by_id_number_and_unmasks_with_a_reason_that_is_audited(new_page):
    rng = random.Random()
    worker = new_page("jiandu")
    community = community_of(worker)
    number, phone = new_id(rng), f"139{rng.randrange(10**8):08d}"
    name = new_name(rng)
    admin = new_page("admin")
    visited: list[str] = []  # every URL the page asked for or showed (its history)
    admin.on("request", lambda request: visited.append(request.url))
    admin.on("framenavigated", lambda frame: visited.append(frame.url))
    rooms = admin.request.get(f"/api/v1/registry/rooms?community={community}&limit=1").json()
    room = rooms["items"][0]
    create_person(admin, name=name, id_number=number, phone=phone, room_id=room["id"])

    admin.goto("/console/cases")
    with admin.expect_navigation():
        admin.click("header nav a[href='/console/registry']")
    assert admin.url.endswith("/console/registry/people")
    ids = admin.locator("#registry-table td[data-col=id_number]").all_inner_texts()
    shown = [i for i in ids if i.strip()]
    assert len(shown) >= 20 and all(MASKED_ID.match(i) for i in shown), shown[:5]
    phones = [p for p in admin.locator("td[data-col=phone]").all_inner_texts() if p.strip()]
    assert phones and all(re.fullmatch(r"\d{3}\*{4}\d{4}", p) for p in phones)
    shot(admin, "console-registry-people")

    assert search(admin, "people", number) == 1
    row = admin.locator("#registry-table tr[data-id]")
    assert row.locator("td[data-col=name]").inner_text() == name
    assert row.locator("td[data-col=id_number]").inner_text() == masked(number)
    # The number went in a POST body: neither the address bar nor any URL holds it, and a
    # reload of the page shown does not search again by it.
    assert admin.evaluate("location.href").endswith("/console/registry/people")
    assert admin.locator("#export-link").count() == 0  # an export link would carry it
    with admin.expect_navigation():
        row.locator("td[data-col=name] a").click()
    assert admin.inner_text("[data-testid=id-number]") == masked(number)
    assert number not in admin.content() and phone not in admin.content()
    assert admin.inner_text("[data-field=community]").endswith(community)
    assert admin.inner_text("[data-field=grid]").startswith(community)  # placed by its room

    admin.click("#unmask-open")
    admin.click("#unmask-submit")  # no reason: refused in the page
    assert "请填写查看理由" in admin.inner_text("#record-msg")
    admin.fill("#unmask-reason", "核实低保申请材料")
    admin.click("#unmask-submit")
    admin.wait_for_function(
        "n => document.querySelector('[data-testid=id-number]').textContent.trim() === n",
        arg=number,
    )
    assert admin.inner_text("[data-testid=phone]") == phone
    assert "审计" in admin.inner_text("#record-msg")
    shot(admin, "console-registry-person")

    entries = admin.request.get("/api/v1/audit?action=personal.unmask&limit=20").json()
    person_id = admin.url.rsplit("/", 1)[1]
    mine = [e for e in entries if e["object_id"] == person_id]
    assert mine and mine[0]["reason"] == "核实低保申请材料" and mine[0]["actor"] == "admin"
    assert number not in str(mine[0])

    admin.go_back()  # the list as the history holds it
    assert number not in admin.evaluate("location.href")
    assert visited and not [url for url in visited if number in url]
    typed = admin.goto(f"/console/registry/people?q={number}")  # a link someone made by hand
    assert typed.status == 422 and "POST" in admin.inner_text("main")


def test_a_grid_worker_sees_only_his_community_and_is_not_offered_unmasking(new_page):
    worker = new_page("jiandu")
    community = community_of(worker)
    worker.goto("/console/registry/people")
    communities = worker.locator("td[data-col=community]").all_inner_texts()
    assert communities and all(c.endswith(community) for c in communities)
    ids = [i for i in worker.locator("td[data-col=id_number]").all_inner_texts() if i.strip()]
    assert ids and all(MASKED_ID.match(i) for i in ids)
    assert worker.locator("#registry-community option").count() == 2  # "all" and his own

    with worker.expect_navigation():
        worker.locator("#registry-table tr[data-id] td[data-col=name] a").first.click()
    assert MASKED_ID.match(worker.inner_text("[data-testid=id-number]"))
    assert worker.locator("#unmask-open").count() == 0
    person_id = worker.url.rsplit("/", 1)[1]
    denied = worker.request.get(f"/api/v1/registry/people/{person_id}/personal?reason=看看")
    assert denied.status == 403


def test_an_import_with_a_bad_row_writes_nothing_then_valid_only_imports_the_good_rows(
    new_page, tmp_path
):
    rng = random.Random()
    worker = new_page("jiandu")
    community = community_of(worker)
    worker.goto("/console/registry/people")
    with worker.expect_download() as info:
        worker.click("#template-link")
    template = tmp_path / "人口模板.xlsx"
    info.value.save_as(template)
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["系统编号", "姓名*", "公民身份号码"]
    good1, good2 = new_id(rng), new_id(rng)
    bad = new_id(rng)
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")  # wrong check character
    names = [new_name(rng) for _ in range(3)]
    for name, number in zip(names, (good1, bad, good2), strict=True):
        ws.append([None, name, number, None, "户籍", None, community])
    upload = tmp_path / "人口.xlsx"
    wb.save(upload)

    worker.set_input_files("#import-file", str(upload))
    assert worker.is_checked("#mode-all")
    worker.click("#import-submit")
    summary = worker.locator("[data-testid=import-summary]")
    summary.wait_for()
    assert summary.get_attribute("data-written") == "false"
    assert summary.get_attribute("data-created") == "0"
    error = worker.locator("#import-errors tr[data-row]")
    assert error.count() == 1 and error.get_attribute("data-row") == "3"
    assert error.locator("td[data-col=column]").inner_text() == "公民身份号码"
    assert "第18位校验码" in error.locator("td[data-col=reason]").inner_text()
    assert bad not in worker.inner_text("#import-errors")  # the report masks the value
    assert "全部未导入" in worker.inner_text("[data-testid=import-outcome]")
    worker.locator("#import-card").scroll_into_view_if_needed()
    shot(worker, "console-registry-import")
    assert search(worker, "people", good1) == 0

    worker.set_input_files("#import-file", str(upload))
    worker.check("#mode-valid")
    worker.click("#import-submit")
    worker.wait_for_selector("[data-testid=import-summary][data-written=true]")
    assert worker.get_attribute("[data-testid=import-summary]", "data-created") == "2"
    assert worker.locator("#import-errors tr[data-row='3']").count() == 1
    assert search(worker, "people", good1) == 1 and search(worker, "people", good2) == 1
    assert search(worker, "people", bad) == 0
    assert search(worker, "people", names[0]) >= 1


def test_export_downloads_the_listed_rows_as_an_xlsx_with_masked_numbers(new_page, tmp_path):
    worker = new_page("jiandu")
    community = community_of(worker)
    admin = new_page("admin")
    admin.goto("/console/registry/people")
    admin.select_option("#registry-community", community)  # reloads with the community's grids
    admin.wait_for_url(re.compile(r"community=" + community))
    admin.select_option("#registry-residence_kind", "floating")
    with admin.expect_navigation():
        admin.click("#registry-search")
    total = int(admin.get_attribute("[data-testid=registry-total]", "data-total"))
    assert total > 0
    listed = admin.locator("td[data-col=name]").all_inner_texts()
    admin.click("#export-link")  # a background job: its progress, then the download link
    with admin.expect_download() as info:
        admin.click("#export-download")
    path = tmp_path / "export.xlsx"
    info.value.save_as(path)
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert rows[0][1] == "姓名*" and len(rows) - 1 == total
    assert [r[1] for r in rows[1 : len(listed) + 1]] == listed
    assert all(r[6] == community for r in rows[1:])
    assert all(r[4] == "流动" for r in rows[1:])
    assert all(MASKED_ID.match(r[2]) for r in rows[1:] if r[2])
    entries = admin.request.get("/api/v1/audit?action=registry.people.export&limit=5").json()
    assert entries[0]["detail"]["rows"] == total
    assert entries[0]["detail"]["filters"]["community"] == community


def test_the_other_tabs_search_and_open_records_and_verification_shows_in_the_history(
    new_page,
):
    admin = new_page("admin")
    admin.goto("/console/registry/components")
    code = admin.locator("td[data-col=code]").first.inner_text().strip()
    assert re.fullmatch(r"\d{16,17}", code)
    assert search(admin, "components", code) == 1
    with admin.expect_navigation():
        admin.locator("td[data-col=code] a").first.click()
    assert admin.inner_text("[data-field=code]") == code
    with admin.expect_navigation():
        admin.click("#verify-record")
    admin.wait_for_selector("[data-testid=history] li[data-action=verify]")
    assert "现场核实" in admin.inner_text("[data-testid=history]")

    admin.goto("/console/registry/buildings")
    with admin.expect_navigation():
        admin.locator("td[data-col=name] a").first.click()
    room_link = admin.locator("#rooms a").first
    with admin.expect_navigation():
        room_link.click()
    assert "/console/registry/rooms/" in admin.url
    admin.wait_for_selector("#residents")
    landlord = admin.inner_text("[data-testid=landlord-phone]")
    assert landlord == "" or re.fullmatch(r"\d{3}\*{4}\d{4}", landlord)

    admin.goto("/console/registry/organisations")
    with admin.expect_navigation():
        admin.locator("td[data-col=name] a").first.click()
    admin.wait_for_selector("#inspections")
    credit = admin.inner_text("[data-field=credit_code]")
    assert re.fullmatch(r"[0-9A-Z]{18}", credit)
