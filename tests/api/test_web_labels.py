"""The pages speak the user's language: labels instead of codes, one time format, the switch."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from tests.case_factories import (
    ACCEPTOR,
    DISPATCHER,
    HANDLER,
    LAT,
    LON,
    do,
    report,
    to_dispatched,
)
from wangge.cases.labels import KINDS, SOURCE, STATE
from wangge.common.models import utcnow

# Codes a reader must never meet in the visible text of a page.
CODES = {code for kind in ("state", "source", "role", "queue", "action") for code in KINDS[kind]}
CJK = re.compile(r"[\u4e00-\u9fff]")


def visible(html: str) -> str:
    """Return the text a reader sees: no scripts, no tags, no attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def raw_codes(text: str) -> set[str]:
    return {c for c in CODES if re.search(rf"(?<![\w/-]){re.escape(c)}(?![\w/-])", text)}


def a_case_in_progress(session):  # type: ignore[no-untyped-def]
    """A patrol report accepted, filed, dispatched and signed for: every label kind shows."""
    now = utcnow()
    case = to_dispatched(session, report(session, at=now), now)
    return do(session, case, "department_accept", HANDLER, now)


def test_the_chinese_case_list_shows_labels_for_queues_states_and_sources(web, session):
    client, holder = web
    a_case_in_progress(session)
    report(session, at=utcnow())
    holder["who"] = ACCEPTOR
    page = client.get("/console/cases?queue=all").text
    text = visible(page)
    assert raw_codes(text) == set()
    assert "处置中" in text and "已上报" in text and "巡查上报" in text and "待受理" in text
    assert 'data-source="patrol">巡查上报<' in page and 'data-state="in_progress"' in page
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text)  # the one time format


def test_the_chinese_case_page_shows_labels_for_state_source_part_state_roles_and_actions(
    web, session
):
    client, holder = web
    case = a_case_in_progress(session)
    holder["who"] = DISPATCHER
    page = client.get(f"/console/cases/{case.id}").text
    text = visible(page)
    assert raw_codes(text) == set()
    assert f"来源 {SOURCE['patrol'][0]}" in " ".join(text.split())
    assert STATE["in_progress"][0] in text  # the case and its department's part
    for role in ("监督员/网格员", "受理员", "值班长", "派遣员", "专业部门处置人员"):
        assert role in text  # who acted, in the timeline
    assert "签收" in text and "hours" not in text and "评价 /" not in text


def test_the_english_pages_show_english_labels(web, session):
    client, holder = web
    case = a_case_in_progress(session)
    report(session, at=utcnow())
    holder["who"] = ACCEPTOR
    cases = visible(client.get("/console/cases?queue=all&lang=en").text)
    for label in ("To accept", "To check", "Overdue", "All", "In progress", "Reported"):
        assert label in cases
    assert "Patrol report" in cases and "巡查上报" not in cases and "待受理" not in cases
    page = visible(client.get(f"/console/cases/{case.id}").text)  # the cookie keeps English
    for label in ("In progress", "Patrol report", "Acceptor", "Shift leader", "Dispatcher"):
        assert label in page
    assert "Department handler" in page and "Handling stage" in page and "Sign for" in page
    words = {w for w in ("处置中", "巡查上报", "受理员", "签收", "派遣员") if w in page}
    assert words == set()


def test_the_dashboard_headers_are_english_on_the_english_page(web):
    client, holder = web
    holder["who"] = ACCEPTOR
    page = visible(client.get("/dashboard?lang=en").text)
    assert "On-time handling rate" in page and "Cases (last 30 days)" in page
    assert CJK.findall(page.replace("中文", "")) == []  # the switch back names its language


def test_the_language_switch_returns_to_the_same_page_with_its_query(web):
    client, holder = web
    holder["who"] = ACCEPTOR
    page = client.get("/console/cases?queue=all&q=%E5%9E%83%E5%9C%BE&offset=0&lang=zh").text
    href = unescape(re.search(r'href="([^"]+)" id="lang-switch"', page).group(1))
    assert urlsplit(href).path == "/lang/en"
    back = parse_qs(urlsplit(href).query)["next"][0]
    assert back == "/console/cases?queue=all&q=%E5%9E%83%E5%9C%BE&offset=0"  # no lang=
    r = client.get(href, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == back
    assert r.cookies.get("wangge_lang") == "en"
    for elsewhere in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/"):
        r = client.get("/lang/en", params={"next": elsewhere}, follow_redirects=False)
        assert r.headers["location"] == "/"


def test_a_citizen_report_outside_the_district_is_told_so_in_plain_words(web):
    client, _ = web
    body = {"category_code": "E0102", "description": "路灯不亮", "lon": LON + 5, "lat": LAT + 5}
    r = client.post("/web/api/citizen/reports", json={**body, "crs": "EPSG:4490"})
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "outside_service_area" and problem["field"] == "lon"
    assert "服务范围" in problem["detail"] and "12345" in problem["detail"]
    assert "区县" not in problem["detail"] and "county" not in problem["detail_en"]
    assert "service area" in problem["detail_en"] and "12345" in problem["detail_en"]
