"""The demo month runs through the real services and leaves every case consistent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from wangge.cases.models import Case, CaseEvent

# The shared simulated month (tests/conftest.py) is built once on the worker running these.
pytestmark = pytest.mark.xdist_group("simulated")


def test_a_simulated_month_takes_cases_through_many_paths_consistently(simulated):
    session, counts = simulated  # simulate_month(seed=7, n_cases=120): tests/conftest.py
    assert counts["report"] >= 100
    for action in ("accept", "dispatch", "feed_back", "close", "reject_duplicate", "self_handle"):
        assert counts.get(action, 0) > 0, action
    cases = session.scalars(select(Case)).all()
    events = dict(
        session.execute(select(CaseEvent.case_id, func.count()).group_by(CaseEvent.case_id)).all()
    )
    last = {
        e.case_id: e.to_state for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))
    }
    # One event per accepted action: the version counts them and the state is the newest one.
    assert all(c.version == events[c.id] for c in cases)
    assert all(c.state == last[c.id] for c in cases)
    assert {c.state for c in cases} >= {"closed", "rejected"}
