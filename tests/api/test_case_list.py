"""The case list operators work with (issue 17): filters and sorting kept in the address, the
area scope, the Excel export, queues of cases the user can act on, the overdue view, and the
department handler's first screen."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.case_factories import (
    ACCEPTOR,
    CGW,
    DISPATCHER,
    FAR_SUPERVISOR,
    GRID_LEADER,
    HANDLER,
    LEADER,
    OTHER_HANDLER,
    OTHER_LAT,
    OTHER_LON,
    SHIFT,
    SUPERVISOR,
    SZSR,
    do,
    person,
    report,
    to_dispatched,
)
from tests.factories import DX, DY, X0, Y0
from wangge.cases.deadlines import SHANGHAI, Clock
from wangge.cases.views import get_now
from wangge.cases.worklist import QUEUE_ACTIONS

# Monday 30 November 2026, 10:00 in Beijing: a working morning after a weekend.
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
FRIDAY, SUNDAY = datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI), NOW - timedelta(hours=11)
# Inside community 110108001002 (street 001), its first grid.
EAST_LON, EAST_LAT = X0 + 1.25 * DX, Y0 + 0.75 * DY
PHONE = "13812345678"
STREET_USER = person(20, "acceptor", scope={"110108001"})
# A handler as his account makes him: no area of his own (HANDLER's id and department).
DEPT_USER = person(5, "department", scope=set(), dept=CGW)
ADMIN = person(99, "admin")


class Client:
    """The app on the test's session, as one user at a time, at NOW."""

    def __init__(self, client: TestClient, holder: dict) -> None:
        self.client, self.holder = client, holder

    def as_(self, principal) -> TestClient:
        self.holder["who"] = principal
        return self.client

    def api(self, principal, **params) -> list[dict]:
        r = self.as_(principal).get("/api/v1/cases", params={"limit": 500, **params})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def page(self, principal, **params) -> str:
        r = self.as_(principal).get("/console/cases", params=params)
        assert r.status_code == 200, r.text
        return r.text


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-case-id="(\d+)"', html)]


def cells(body: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))


@pytest.fixture
def app(web) -> Client:
    client, holder = web  # the conftest's app over the small world, frozen at NOW here
    client.app.dependency_overrides[get_now] = lambda: NOW
    holder["who"] = ACCEPTOR
    return Client(client, holder)


@pytest.fixture
def world(session) -> dict[str, int]:
    """Six cases over both streets, three sources, three departments and every light."""
    late = report(session, at=FRIDAY)  # accept stage missed on Friday evening
    urgent = report(session, at=SUNDAY, urgent=True, category="E0101")  # wall-clock hours
    yellow = report(
        session, ACCEPTOR, at=NOW - timedelta(minutes=55), category="E0104", source="hotline",
        lon=EAST_LON, lat=EAST_LAT, description=f"路面脏，联系电话 {PHONE}",
    )  # fmt: skip
    green = report(
        session, FAR_SUPERVISOR, at=NOW - timedelta(minutes=10), lon=OTHER_LON, lat=OTHER_LAT
    )
    thursday = NOW - timedelta(days=4)
    handling = to_dispatched(
        session, report(session, at=thursday, category="E0103"), thursday, department=SZSR
    )
    done = to_dispatched(session, report(session, at=thursday - timedelta(days=1)), thursday)
    for hours, (step, who) in enumerate(
        (("department_accept", HANDLER), ("feed_back", HANDLER), ("request_check", ACCEPTOR),
         ("check_pass", SUPERVISOR), ("close", SHIFT)), start=1,
    ):  # fmt: skip
        photos = {"photos": ["p"]} if step in ("feed_back", "check_pass") else {}
        done = do(session, done, step, who, thursday + timedelta(hours=hours), **photos)
    return {
        "late": late.id, "urgent": urgent.id, "yellow": yellow.id, "green": green.id,
        "handling": handling.id, "closed": done.id,
    }  # fmt: skip


FILTERS = [
    ({"street": "110108001"}, {"late", "urgent", "yellow", "handling", "closed"}),
    ({"street": "110108002"}, {"green"}),
    ({"community": "110108001002"}, {"yellow"}),
    ({"grid": "110108001001001"}, {"late", "urgent", "handling", "closed"}),
    ({"category": "E0104"}, {"yellow"}),
    ({"category": "E01"}, {"late", "urgent", "yellow", "green", "handling", "closed"}),
    ({"source": "hotline"}, {"yellow"}),
    ({"department": SZSR}, {"handling"}),
    ({"department": CGW}, {"closed"}),
    ({"state": "closed"}, {"closed"}),
    ({"state": "reported"}, {"late", "urgent", "yellow", "green"}),
    ({"light": "red"}, {"late", "urgent"}),
    ({"light": "yellow"}, {"yellow", "handling"}),
    ({"light": "green"}, {"green"}),
    ({"from": "2026-11-27", "to": "2026-11-29"}, {"late", "urgent"}),
    ({"from": "2026-11-30"}, {"yellow", "green"}),
    ({"to": "2026-11-25"}, {"closed"}),
    ({"q": PHONE[:7]}, {"yellow"}),
]


def _id(value: dict | set) -> str:
    return (
        "&".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, dict)
        else ",".join(sorted(value))
    )


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=_id)
def test_each_filter_lists_exactly_its_cases_on_the_page_and_in_the_api(
    app, world, params, expected
):
    want = {world[k] for k in expected}
    assert {c["id"] for c in app.api(ACCEPTOR, **params)} == want
    assert set(listed(app.page(ACCEPTOR, queue="all", **params))) == want


def test_filters_combine_and_stay_in_every_link_of_the_page(app, world):
    params = {"street": "110108001", "category": "E01", "light": "red", "source": "patrol"}
    assert {c["id"] for c in app.api(ACCEPTOR, **params)} == {world["late"], world["urgent"]}
    page = app.page(ACCEPTOR, queue="all", sort="overdue", **params)
    assert set(listed(page)) == {world["late"], world["urgent"]}
    assert re.search(r'<option value="110108001" selected>', page)
    assert re.search(r'<option value="red" selected>', page)
    assert re.search(r'<option value="overdue" selected>', page)
    overdue_tab = re.search(r'<a href="([^"]+)"[^>]*data-queue="overdue"', page).group(1)
    export = re.search(r'id="export-link" href="([^"]+)"', page).group(1)
    for link in (overdue_tab, export):
        for key, value in params.items():
            assert f"{key}={value}" in link.replace("&amp;", "&")
    assert "sort=overdue" in export.replace("&amp;", "&")
    # A community outside the chosen street: nothing, not the community's cases.
    assert (
        listed(app.page(ACCEPTOR, queue="all", street="110108001", community="110108002001")) == []
    )


def test_sorting_by_report_time_deadline_and_hours_overdue(app, world):
    by_report = app.api(ACCEPTOR, sort="reported")
    assert [c["reported_at"] for c in by_report] == sorted(
        (c["reported_at"] for c in by_report), reverse=True
    )
    by_deadline = [c for c in app.api(ACCEPTOR, sort="deadline") if c["due_at"]]
    assert [c["due_at"] for c in by_deadline] == sorted(c["due_at"] for c in by_deadline)
    assert by_deadline[0]["id"] == world["late"]  # Friday's deadline comes first …
    by_hours = app.api(ACCEPTOR, sort="overdue")
    # … but the urgent case has run 10 wall-clock hours late, the Friday one 3 working hours.
    assert [c["id"] for c in by_hours[:2]] == [world["urgent"], world["late"]]
    assert by_hours[0]["overdue_hours"] == pytest.approx(10.0)
    due = datetime.fromisoformat(by_hours[1]["due_at"])
    assert by_hours[1]["overdue_hours"] == pytest.approx(Clock().elapsed(due, NOW))
    assert by_hours[1]["overdue_hours"] < (NOW - due).total_seconds() / 3600 / 10
    assert all(c["overdue_hours"] is None for c in by_hours[2:])
    page = app.page(ACCEPTOR, queue="all", sort="overdue")
    assert listed(page)[:2] == [world["urgent"], world["late"]]
    assert len(app.api(ACCEPTOR, sort="overdue", limit=1, offset=2)) == 1  # paged past the late


def test_a_street_user_never_sees_another_streets_cases_even_when_filtering_for_it(app, world):
    assert {c["id"] for c in app.api(STREET_USER)} == {
        world[k] for k in ("late", "urgent", "yellow", "handling", "closed")
    }
    assert app.api(STREET_USER, street="110108002") == []
    assert app.api(STREET_USER, community="110108002001", light="green") == []
    page = app.page(STREET_USER, queue="all", street="110108002")
    assert listed(page) == [] and 'value="110108002"' not in page  # not even offered
    export = app.as_(STREET_USER).get("/api/v1/cases/export.xlsx", params={"street": "110108002"})
    assert len(cells(export.content)) == 1  # the headers alone


def test_the_export_has_chinese_headers_the_filtered_rows_and_masked_phones(app, world, session):
    r = app.as_(ACCEPTOR).get(
        "/api/v1/cases/export.xlsx", params={"street": "110108001", "state": "reported"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    rows = cells(r.content)
    head, body = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert head[:5] == ("案卷编号", "类别", "状态", "亮灯", "来源")
    assert {"街道", "社区", "网格", "处置部门", "上报时间", "超期（小时）"} <= set(head)
    codes = {c["code"] for c in app.api(ACCEPTOR, street="110108001", state="reported")}
    assert {row["案卷编号"] for row in body} == codes and len(body) == 3
    yellow = next(row for row in body if row["类别"] == "道路不洁")
    assert PHONE not in yellow["问题描述"] and "138****5678" in yellow["问题描述"]
    assert yellow["来源"] == "热线" and yellow["状态"] == "已上报" and yellow["亮灯"] == "即将超期"
    assert yellow["街道"] == "甲街道" and yellow["社区"] == "社区002"
    late = next(row for row in body if row["超期（小时）"] == 3.0)
    assert late["亮灯"] == "超期" and late["网格编码"] == "110108001001001"

    from wangge.audit.models import AuditEntry

    entry = session.query(AuditEntry).filter_by(action="case.export").one()
    assert entry.actor == ACCEPTOR.name and entry.detail["rows"] == 3
    assert entry.detail["filters"] == {"state": ["reported"], "street": "110108001"}
    assert entry.detail["unmasked"] is False

    english = app.as_(ACCEPTOR).get("/api/v1/cases/export.xlsx", params={"lang": "en"})
    assert cells(english.content)[0][:3] == ("Case number", "Category", "State")


def test_only_a_user_who_may_unmask_exports_full_numbers_and_he_gives_a_reason(app, world):
    params = {"source": "hotline", "unmask": "true"}
    refused = app.as_(ACCEPTOR).get("/api/v1/cases/export.xlsx", params=params)
    assert refused.status_code == 403
    no_reason = app.as_(ADMIN).get("/api/v1/cases/export.xlsx", params=params)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    full = app.as_(ADMIN).get("/api/v1/cases/export.xlsx", params={**params, "reason": "回访"})
    assert any(PHONE in str(cell) for row in cells(full.content) for cell in row)


def test_a_bad_light_sort_or_date_is_refused_naming_the_field(app, world):
    for params, field in (({"light": "blue"}, "light"), ({"sort": "x"}, "sort"),
                          ({"from": "2026-13-01"}, "from"), ({"to": "0001-01-01"}, "to")):  # fmt: skip
        r = app.as_(ACCEPTOR).get("/api/v1/cases", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)


def test_the_overdue_view_shows_each_late_case_with_its_department_and_hours(app, world, session):
    from wangge.cases.models import Case

    handling = session.get(Case, world["handling"])
    app.client.app.dependency_overrides[get_now] = lambda: handling.due_at + timedelta(days=3)
    rows = app.api(DISPATCHER, overdue="true", sort="overdue")
    late = next(c for c in rows if c["id"] == world["handling"])
    assert late["departments"] == ["市政设施管理处"] or late["departments"][0] != ""
    assert late["overdue_hours"] > 0 and late["light"] == "red"
    page = app.page(DISPATCHER, queue="overdue")
    row = re.search(rf'<tr data-case-id="{world["handling"]}">(.*?)</tr>', page, re.S).group(1)
    assert late["departments"][0] in row
    assert f"{late['overdue_hours']:.1f}" in row
    assert listed(page) == [c["id"] for c in rows]  # the view lists the late, longest first


def test_queues_list_only_cases_where_the_user_has_one_of_the_queues_actions(app, world, session):
    thursday = NOW - timedelta(days=4)
    handled = to_dispatched(session, report(session, at=thursday), thursday)
    handled = do(session, handled, "department_accept", HANDLER, thursday + timedelta(hours=1))
    handled = do(
        session, handled, "feed_back", HANDLER, thursday + timedelta(hours=2), photos=["p"]
    )
    checking = to_dispatched(session, report(session, at=thursday), thursday)
    checking = do(session, checking, "department_accept", HANDLER, thursday + timedelta(hours=1))
    checking = do(session, checking, "feed_back", HANDLER, thursday + timedelta(hours=2), photos=["p"])  # fmt: skip
    checking = do(session, checking, "request_check", ACCEPTOR, thursday + timedelta(hours=3))
    to_check = {c["id"] for c in app.api(ACCEPTOR, queue="to_check")}
    assert to_check == {handled.id}  # the checking one waits for the supervisor, not for him
    assert {c["id"] for c in app.api(SUPERVISOR, queue="to_check")} == {checking.id}
    assert set(listed(app.page(ACCEPTOR, queue="to_check"))) == {handled.id}

    every = {c["id"] for c in app.api(ADMIN)}
    users = (ACCEPTOR, SHIFT, DISPATCHER, SUPERVISOR, GRID_LEADER, HANDLER, OTHER_HANDLER,
             FAR_SUPERVISOR, LEADER, STREET_USER)  # fmt: skip
    for user in users:
        counts = app.as_(user).get("/api/v1/cases/queues").json()
        queued: set[int] = set()
        for queue in counts.keys() - {"overdue"}:
            ids = {c["id"] for c in app.api(user, queue=queue)}
            assert len(ids) == counts[queue]["count"], (user.name, queue)
            for case_id in ids:  # every listed case offers the user one of the queue's actions
                actions = set(app.as_(user).get(f"/api/v1/cases/{case_id}").json()["allowed_actions"])  # fmt: skip
                assert actions & set(QUEUE_ACTIONS[queue]), (user.name, queue, case_id, actions)
            queued |= ids
        for case_id in every - queued:  # and a case he can work on is in one of his queues
            r = app.as_(user).get(f"/api/v1/cases/{case_id}")
            actions = set(r.json()["allowed_actions"]) if r.status_code == 200 else set()
            work = actions & {a for acts in QUEUE_ACTIONS.values() for a in acts}
            assert work <= {"request_verification"}, (user.name, case_id, work)
    assert "to_handle" not in app.as_(HANDLER).get("/api/v1/cases/queues").json()


def test_a_department_handler_starts_on_his_queues_and_his_map_and_grid_outlines_load(
    app, world, session
):
    mine = to_dispatched(session, report(session, at=NOW - timedelta(hours=2)), NOW)
    handler = app.as_(DEPT_USER)
    r = handler.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/cases"
    shift = app.as_(SHIFT).get("/console", follow_redirects=False)
    assert shift.headers["location"] == "/console/map"
    counts = app.as_(DEPT_USER).get("/api/v1/cases/queues").json()
    assert list(counts) == ["to_sign", "in_progress", "overdue"]
    assert counts["to_sign"]["count"] == 1
    page = app.page(DEPT_USER)
    assert listed(page) == [mine.id] and "待签收" in page and "处置中" in page
    assert 'class="on" data-queue="to_sign"' in page

    # The map: the county his department serves, with its grids (it was a 404 and a blank map).
    handler = app.as_(DEPT_USER)
    assert 'data-root="110108"' in handler.get("/console/map").text
    layer = handler.get("/web/api/map/layer", params={"division": "110108"})
    assert layer.status_code == 200 and layer.json()["grid_count"] == 12
    points = handler.get("/web/api/map/cases", params={"division": "110108"}).json()
    assert {f["properties"]["id"] for f in points["features"]} == {mine.id, world["closed"]}
    # His case's grid: the grid route refuses him (no area of his own), the case shows it.
    assert handler.get(f"/api/v1/grids/{mine.grid_id}/geojson").status_code == 404
    outline = handler.get(f"/web/api/cases/{mine.id}/grid")
    assert outline.status_code == 200
    assert outline.json()["properties"]["code"] == "110108001001001"
    assert "/web/api/cases/${c.id}/grid" in handler.get(f"/console/cases/{mine.id}").text
    other = app.as_(OTHER_HANDLER).get(f"/web/api/cases/{mine.id}/grid")
    assert other.status_code == 404  # a case he may not see: no outline either


def test_the_case_list_offers_labels_never_codes(app, world):
    from tests.api.test_web_labels import raw_codes, visible

    page = app.page(ACCEPTOR, queue="all", community="110108001001")
    assert raw_codes(visible(page)) == set()
    shown = ("甲街道", "社区001", "暴露垃圾", "热线", "即将超期", "已结案", "按超期时长（长在前）")
    assert [text for text in shown if text not in page] == []
    english = visible(app.page(ACCEPTOR, queue="all", lang="en"))
    assert "By time overdue (longest first)" in english and "Overdue (hours)" in english
