"""The big screen's rates are the evaluation's (issue 16: one definition per indicator).

The dashboard used to call a part "on time" when fed back before its deadline, over its own
window: a different number from the 考核 page's 按期处置率 for the same days. Now its rates are
the evaluation counts of the same local days summed over what the user may see; these tests
read both through HTTP and compare, on SQLite and PostgreSQL, for a leader of the county and
for a department's handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    DISPATCHER,
    HANDLER,
    LEADER,
    OTHER_HANDLER,
    SHIFT,
    SUPERVISOR,
    SZSR,
    build_world,
    do,
    report,
    to_dispatched,
)
from wangge.api.deps import get_principal
from wangge.cases.vocabulary import Source
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.evaluation.indicators import rate as exact
from wangge.main import create_app

DAYS = 30


@pytest.fixture
def api(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    build_world(session)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    who = {"principal": LEADER}
    app.dependency_overrides[get_principal] = lambda: who["principal"]
    with TestClient(app) as client:
        yield client, who


def _dispatched_from_the_public(session, at):  # type: ignore[no-untyped-def]
    """A citizen's online report, verified on site, filed and dispatched to CGW."""
    case = report(session, CITIZEN, at=at, source=Source.ONLINE)
    for step, who in (("accept", ACCEPTOR), ("request_verification", ACCEPTOR),
                      ("verify_true", SUPERVISOR), ("file", SHIFT)):  # fmt: skip
        photos = {"photos": ["p"]} if step == "verify_true" else {}
        case = do(session, case, step, who, at, **photos)
    return do(session, case, "dispatch", DISPATCHER, at + timedelta(hours=1), department=CGW)


def _days_of_work(session) -> None:  # type: ignore[no-untyped-def]
    """Citizens' cases of the last days: closed and rated (two satisfied, one not), one fed
    back five days after its dispatch (late on any calendar), and one still open at SZSR."""
    start = utcnow() - timedelta(days=6)
    steps = (
        ("department_accept", HANDLER), ("feed_back", HANDLER), ("request_check", ACCEPTOR),
        ("check_pass", SUPERVISOR), ("close", SHIFT),
    )  # fmt: skip
    for i in range(3):
        case = _dispatched_from_the_public(session, start)
        at = start
        for hours, (step, who) in enumerate(steps, start=2):
            photos = {"photos": ["p"]} if step in ("feed_back", "check_pass") else {}
            at = start + timedelta(hours=hours + (120 if i == 2 else 0))
            case = do(session, case, step, who, at, **photos)
        rating = "satisfied" if i else "unsatisfied"
        do(session, case, "rate", CITIZEN, at + timedelta(minutes=5), rating=rating)
    to_dispatched(session, report(session, at=start), start + timedelta(hours=1), department=SZSR)


def _evaluated(client: TestClient) -> dict:
    today = utcnow().astimezone(SHANGHAI).date()
    label = f"{today - timedelta(days=DAYS - 1)}..{today}"
    r = client.get(f"/api/v1/evaluation/periods/{label}", params={"compare": False})
    assert r.status_code == 200, r.text
    return r.json()["objects"]  # type: ignore[no-any-return]


def rate(num: int, den: int) -> float | None:
    """A rate as every evaluation figure is printed: in %, two decimals."""
    r = exact(num, den)
    return None if r is None else round(r, 2)


def _sum(rows: list[dict], *keys: str) -> int:
    return sum(r["counts"].get(k, 0) for r in rows for k in keys)


def test_the_dashboards_rates_are_the_evaluations_for_the_same_days(session, api):
    client, _ = api
    _days_of_work(session)
    board = client.get("/web/api/dashboard", params={"days": DAYS}).json()
    objects = _evaluated(client)

    departments = objects["department"]
    assert {d["key"] for d in departments} == {CGW, SZSR}
    handled = rate(
        _sum(departments, "handled_on_time"), _sum(departments, "to_handle", "overdue_carried")
    )
    assert board["rates"]["handle_on_time_rate"] == handled
    assert 0 < handled < 100  # one late feedback among the handled, one case still open
    communities = objects["community"]
    assert board["rates"]["close_on_time_rate"] == rate(
        _sum(communities, "closed_on_time"), _sum(communities, "filed")
    )
    assert board["rates"]["close_rate"] == rate(
        _sum(communities, "closed"), _sum(communities, "filed")
    )
    assert board["figures"]["ratings"] == 3
    assert board["rates"]["satisfaction_rate"] == rate(2, 3)


def test_a_department_handler_sees_his_own_departments_rate(session, api):
    client, who = api
    _days_of_work(session)
    objects = _evaluated(client)
    rows = {d["key"]: d for d in objects["department"]}
    who["principal"] = HANDLER
    mine = client.get("/web/api/dashboard", params={"days": DAYS}).json()
    assert mine["rates"]["handle_on_time_rate"] == rows[CGW]["rates"]["handle_on_time_rate"]
    who["principal"] = OTHER_HANDLER
    theirs = client.get("/web/api/dashboard", params={"days": DAYS}).json()
    assert theirs["rates"]["handle_on_time_rate"] == rows[SZSR]["rates"]["handle_on_time_rate"]
    assert mine["rates"]["handle_on_time_rate"] != theirs["rates"]["handle_on_time_rate"]
