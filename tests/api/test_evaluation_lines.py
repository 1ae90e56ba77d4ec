"""The evaluation by business line, and the patrol denominator from grid assignments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.case_factories import ACCEPTOR, GRID1, LAT, LEADER, LON, SHIFT, T0, do, report
from tests.lines_support import account, caller, line_world
from wangge.assignments.service import add_assignment
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.patrol import end_patrol, start_patrol
from wangge.evaluation.views import get_now
from wangge.grids.locating import locate_point

DAYS = f"{T0.date()}..{(T0 + timedelta(days=1)).date()}"


@pytest.fixture
def api(request, session, tmp_path):
    line_world(session)
    c = caller(request, session, tmp_path)
    c.client.app.dependency_overrides[get_now] = lambda: T0 + timedelta(days=30)
    return c


def _row(body: dict, key: str) -> dict:
    return next(r for r in body["objects"]["grid_worker"] if r["key"] == key)


def test_the_evaluation_of_a_line_counts_only_the_cases_of_its_categories(api, session):
    worker = account(session, "wangwu", "supervisor", GRID1[:12])
    for i, category in enumerate(("E0102", "C0101", "S0101")):
        case = report(session, worker, category=category, at=T0 + timedelta(hours=i))
        do(session, case, "accept", ACCEPTOR, T0 + timedelta(hours=i, minutes=10))
        do(session, case, "file", SHIFT, T0 + timedelta(hours=i, minutes=20))
    key = str(worker.user_id)
    url = "/api/v1/evaluation/periods/2026-11"
    every = api(LEADER).get(url, params={"compare": "false"}).json()
    assert _row(every, key)["counts"]["reports"] == 3 and every["line"] is None
    urban = api(LEADER).get(url, params={"compare": "false", "line": "urban"}).json()
    assert urban["line"] == "urban"
    assert _row(urban, key)["counts"]["reports"] == 2
    assert _row(urban, key)["counts"]["valid_reports"] == 2
    filed = {r["key"]: r["counts"]["filed"] for r in urban["objects"]["shift_leader"]}
    assert filed == {SHIFT.name.removeprefix("user"): 2}
    gov = api(LEADER).get(url, params={"compare": "false", "line": "governance"}).json()
    assert _row(gov, key)["counts"]["reports"] == 1
    drill = (
        api(LEADER)
        .get(
            f"{url}/drill",
            params={
                "object_type": "grid_worker",
                "key": key,
                "indicator": "reports",
                "line": "urban",
            },
        )
        .json()
    )
    assert sorted(c["category"] for c in drill["numerator"]["cases"]) == ["C0101", "E0102"]
    # the stored facts and the window query over the events agree for a line
    from wangge.evaluation.periods import parse_period
    from wangge.evaluation.service import count_period

    nov = parse_period("2026-11")
    for line in ("urban", "governance"):
        stored = count_period(session, nov.start, nov.end, line=line)
        assert stored == count_period(session, nov.start, nov.end, line=line, from_events=True)
    bad = api(LEADER).get(url, params={"line": "nonsense"})
    assert bad.status_code == 422 and bad.json()["field"] == "line"


def test_the_grids_a_worker_must_patrol_are_his_assignments_in_force(api, session):
    worker = account(session, "wangwu", "supervisor", GRID1[:12])
    other = locate_point(session, LON + 0.005, LAT)["social"].code
    assert other != GRID1
    day1 = T0.date()
    add_assignment(session, LOCAL_OPERATOR, user_id=worker.user_id, grid_code=GRID1,
                   kind="full_time", starts_on=day1)  # fmt: skip
    # the second grid only on the first day; a leader's assignment carries no patrol duty
    add_assignment(session, LOCAL_OPERATOR, user_id=worker.user_id, grid_code=other,
                   kind="part_time", starts_on=day1, ends_on=day1)  # fmt: skip
    add_assignment(session, LOCAL_OPERATOR, user_id=worker.user_id, grid_code=GRID1,
                   kind="leader", starts_on=day1)  # fmt: skip
    for hours in (0, 4, 24):  # GRID1: twice on day 1, once on day 2
        p = start_patrol(session, worker, lon=LON, lat=LAT, now=T0 + timedelta(hours=hours))
        end_patrol(session, p.id, worker, now=T0 + timedelta(hours=hours + 1))
    body = api(LEADER).get(f"/api/v1/evaluation/periods/{DAYS}", params={"compare": "false"}).json()
    counts = _row(body, str(worker.user_id))["counts"]
    # required: GRID1 2 days × 2 + the other grid 1 day × 2; made: 3 (none in the other grid)
    assert (counts["visits"], counts["visits_required"]) == (3, 6)
    assert _row(body, str(worker.user_id))["rates"]["patrol_rate"] == 50.0
