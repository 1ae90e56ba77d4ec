"""考核 on the case's own clock (issue 16), read through the evaluation API on both databases.

A stage is judged against the deadline the case showed (working days on the official
calendar, recorded with the event that started the clock), not against wall-clock hours; a
clock still running past its deadline when the period ends is 超期未处置 / 超期未结案 and
lowers the department's rates in every period it stays so; a later change of a limit or of
the calendar leaves a period already evaluated as it was.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import openpyxl
import pypdf
import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    DISPATCHER,
    HANDLER,
    LEADER,
    SHIFT,
    SUPERVISOR,
    T0,
    build_world,
    do,
    report,
    to_dispatched,
)
from wangge.api.deps import get_principal
from wangge.cases import timing
from wangge.cases.deadlines import SHANGHAI, Clock, WorkCalendar
from wangge.cases.models import Category
from wangge.cases.store import parts_of
from wangge.config import Settings
from wangge.evaluation import facts, service, stored
from wangge.evaluation.periods import parse_period
from wangge.evaluation.views import get_now
from wangge.main import create_app

H = timedelta(hours=1)
# the eve of National Day (国庆 2026-10-01..07): a Wednesday afternoon
EVE = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture
def client(session, tmp_path) -> Iterator[TestClient]:
    build_world(session)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: LEADER
    app.dependency_overrides[get_now] = lambda: datetime(2027, 1, 5, tzinfo=SHANGHAI)
    with TestClient(app) as c:
        yield c


def _month(client: TestClient, label: str) -> dict:
    r = client.get(f"/api/v1/evaluation/periods/{label}", params={"compare": False})
    assert r.status_code == 200, r.text
    return r.json()["objects"]  # type: ignore[no-any-return]


def _row(objects: dict, object_type: str, key: str) -> dict:
    return next(r for r in objects[object_type] if r["key"] == key)


def _without_recorded_deadlines(session, label: str) -> dict:  # type: ignore[no-untyped-def]
    """Count the period as the old rule did: as if no event had recorded a deadline."""
    p = parse_period(label)
    events = [
        replace(e, deadline=None, part_deadline=None)
        for e in service.load_events(session, p.start, p.end)
    ]
    return facts.count(events, p.start, p.end)


def test_a_feedback_within_its_working_day_deadline_across_national_day_is_on_time(session, client):
    case = report(session, at=EVE)
    to_dispatched(session, case, at=EVE + H)  # dispatched at 16:00 before the holiday
    # 16 working hours (E0102, area B): 2 on the eve, none from 1 to 7 October, 8 + 6 after
    due = parts_of(session, case.id)[0].deadline
    assert due == datetime(2026, 10, 9, 16, 0, tzinfo=SHANGHAI)
    back = datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)  # 8 days later on the wall clock
    do(session, case, "department_accept", HANDLER, back - 6 * H)
    do(session, case, "feed_back", HANDLER, back, photos=["photo://after"])
    cgw = _row(_month(client, "2026-10"), "department", CGW)
    assert (cgw["counts"]["to_handle"], cgw["counts"]["handled_on_time"]) == (1, 1)
    assert cgw["rates"]["handle_on_time_rate"] == 100.0
    # the wall-clock rule (24 hours) would have called the same feedback late
    assert _without_recorded_deadlines(session, "2026-10")["department"][CGW] == {
        **cgw["counts"], "handled_on_time": 0,
    }  # fmt: skip


def test_a_dispatch_within_two_wall_clock_hours_is_late_past_its_working_hour_deadline(
    session, client
):
    case = report(session, at=T0)  # Monday 09:00
    do(session, case, "accept", ACCEPTOR, T0)
    do(session, case, "file", SHIFT, T0 + 0.1 * H)
    assert case.deadline == T0 + 1.1 * H  # 派遣 within one working hour of filing
    do(session, case, "dispatch", DISPATCHER, T0 + 1.9 * H, department=CGW)
    dispatcher = _row(_month(client, "2026-11"), "dispatcher", str(DISPATCHER.user_id))
    assert (dispatcher["counts"]["dispatched"], dispatcher["counts"]["dispatched_on_time"]) == (
        1,
        0,
    )
    # 1.8 hours: on time for the old rule's two wall-clock hours
    old = _without_recorded_deadlines(session, "2026-11")["dispatcher"][str(DISPATCHER.user_id)]
    assert old["dispatched_on_time"] == 1


def test_a_case_stuck_since_last_month_is_overdue_for_its_department_in_every_later_month(
    session, client
):
    stuck = report(session, at=datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI))
    to_dispatched(session, stuck, at=stuck.reported_at)  # never received by the department
    fresh = report(session, at=T0)
    to_dispatched(session, fresh, at=T0)
    do(session, fresh, "department_accept", HANDLER, T0 + H)
    do(session, fresh, "feed_back", HANDLER, T0 + 3 * H, photos=["photo://after"])
    nov = _month(client, "2026-11")
    cgw = _row(nov, "department", CGW)
    assert cgw["counts"] | {"handled_on_time": 1, "to_handle": 1} == cgw["counts"]
    assert (cgw["counts"]["overdue_open"], cgw["counts"]["overdue_carried"]) == (1, 1)
    # the stuck case joins the denominators: 1 of 2 handled on time, 1 of 2 overdue
    assert cgw["rates"]["handle_on_time_rate"] == 50.0 and cgw["rates"]["overdue_rate"] == 50.0
    assert cgw["score"] < 100
    drill = client.get(
        "/api/v1/evaluation/periods/2026-11/drill",
        params={"object_type": "department", "key": CGW, "indicator": "overdue_rate"},
    ).json()
    assert [c["id"] for c in drill["numerator"]["cases"]] == [stuck.id]
    assert sorted(c["id"] for c in drill["denominator"]["cases"]) == [stuck.id, fresh.id]
    # both cases are filed and past a deadline at the end of November: the fresh one waits
    # for its check (核查), the stuck one for its department
    community = _row(nov, "community", fresh.community_code)
    assert community["counts"]["overdue_cases"] == 2
    assert _row(nov, "supervisor", str(SUPERVISOR.user_id))["counts"]["overdue_reports"] == 2
    for label in ("2026-10", "2026-12"):  # it stays overdue month after month
        month = _row(_month(client, label), "department", CGW)
        assert month["counts"]["overdue_open"] == 1 and month["rates"]["handle_on_time_rate"] == 0
    # the reports show the counts beside the rates
    xlsx = client.get("/api/v1/evaluation/periods/2026-11/report.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["专业部门"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[1].value == CGW)
    assert row[header.index("超期未处置数")].value == 1
    assert header.index("超期未处置率") < header.index("超期未处置数") < header.index("应处置数")
    pdf = client.get("/api/v1/evaluation/periods/2026-11/report.pdf")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "超期未处置数" in text and "超期未结案数" in text


def test_changing_a_limit_or_the_calendar_later_leaves_a_past_month_as_it_was(
    session, client, monkeypatch
):
    on_time = report(session, at=T0)
    to_dispatched(session, on_time, at=T0)
    do(session, on_time, "department_accept", HANDLER, T0 + H)
    do(session, on_time, "feed_back", HANDLER, T0 + 30 * H, photos=["photo://after"])
    stuck = report(session, at=T0)
    to_dispatched(session, stuck, at=T0)
    before = _month(client, "2026-11")
    assert _row(before, "department", CGW)["counts"]["handled_on_time"] == 1
    # the district shortens the class's handling limit to one hour, and a new calendar
    # makes that Monday a holiday
    category = session.get(Category, "E0102")
    category.limits = {**category.limits, "handle": {"A": 1, "B": 1, "C": 1}}
    session.flush()
    calendar = WorkCalendar(extra_holidays=frozenset({T0.date()}))
    monkeypatch.setattr(timing, "CLOCK", Clock(calendar))
    assert _month(client, "2026-11") == before
    stored.rebuild(session)  # `wangge eval rebuild-facts`: derived again from the events
    assert _month(client, "2026-11") == before
    p = parse_period("2026-11")
    assert service.count_period(session, p.start, p.end, from_events=True) == service.count_period(
        session, p.start, p.end
    )
    # the change applies from now on: a case dispatched in December gets the new limit
    december = report(session, at=T0 + timedelta(days=14))
    to_dispatched(session, december, at=december.reported_at)
    assert parts_of(session, december.id)[0].deadline == december.reported_at + H
    assert _month(client, "2026-11") == before
