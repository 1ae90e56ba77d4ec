"""Every (state, action) row of the transitions table, performed and persisted by the service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    DISPATCHER,
    GRID_LEADER,
    HANDLER,
    LEADER,
    SHIFT,
    SUPERVISOR,
    T0,
    build_world,
    do,
    report,
)
from wangge.cases.models import CaseEvent
from wangge.cases.vocabulary import Action, CaseState, Role, Source
from wangge.cases.workflow import TRANSITIONS

S, A = CaseState, Action
BY_ROLE = {
    Role.ACCEPTOR: ACCEPTOR,
    Role.SHIFT_LEADER: SHIFT,
    Role.SUPERVISOR: SUPERVISOR,
    Role.DISPATCHER: DISPATCHER,
    Role.DEPARTMENT: HANDLER,
    Role.GRID_LEADER: GRID_LEADER,
    Role.LEADER: LEADER,
    Role.CITIZEN: CITIZEN,
}
PHOTOS = ["photo://x"]
# How to reach each state from a fresh report: (action, who, payload) steps.
_ACCEPTED = [("accept", ACCEPTOR, {})]
_FILED = [*_ACCEPTED, ("file", SHIFT, {})]
_DISPATCHED = [*_FILED, ("dispatch", DISPATCHER, {"department": CGW})]
_IN_PROGRESS = [*_DISPATCHED, ("department_accept", HANDLER, {})]
_HANDLED = [*_IN_PROGRESS, ("feed_back", HANDLER, {"photos": PHOTOS})]
_CHECKING = [*_HANDLED, ("request_check", ACCEPTOR, {})]
_CHECKED = [*_CHECKING, ("check_pass", SUPERVISOR, {"photos": PHOTOS})]
_VERIFYING = [*_ACCEPTED, ("request_verification", ACCEPTOR, {})]
_PUBLIC_CLOSED = [
    *_VERIFYING,
    ("verify_true", SUPERVISOR, {"photos": PHOTOS}),
    ("file", SHIFT, {}),
    *_DISPATCHED[2:],
    *_IN_PROGRESS[3:],
    *_HANDLED[4:],
    *_CHECKING[5:],
    *_CHECKED[6:],
    ("close", SHIFT, {}),
]
PATHS = {
    S.REPORTED: [],
    S.ACCEPTED: _ACCEPTED,
    S.VERIFYING: _VERIFYING,
    S.VERIFIED: [*_VERIFYING, ("verify_true", SUPERVISOR, {"photos": PHOTOS})],
    S.FILED: _FILED,
    S.DISPATCHED: _DISPATCHED,
    S.IN_PROGRESS: _IN_PROGRESS,
    S.RETURN_REQUESTED: [*_DISPATCHED, ("return_dispatch", HANDLER, {"note": "非本单位"})],
    S.EXTENSION_REQUESTED: [
        *_IN_PROGRESS,
        ("request_extension", HANDLER, {"note": "配件", "hours": 8}),
    ],
    S.SUSPENSION_REQUESTED: [*_IN_PROGRESS, ("request_suspension", HANDLER, {"note": "等待"})],
    S.SUSPENDED: [
        *_IN_PROGRESS,
        ("request_suspension", HANDLER, {"note": "等待"}),
        ("approve_suspension", DISPATCHER, {}),
    ],
    S.HANDLED: _HANDLED,
    S.REWORK: [*_CHECKING, ("check_fail", SUPERVISOR, {"note": "未整改"})],
    S.CHECKING: _CHECKING,
    S.CHECKED: _CHECKED,
    S.CLOSED: _PUBLIC_CLOSED,
    S.RATED: [*_PUBLIC_CLOSED, ("rate", CITIZEN, {"rating": "satisfied"})],
}
# The grid leader's own rework: his minor case failed the check (no department parts).
SELF_REWORK = [
    ("self_handle", GRID_LEADER, {"photos": PHOTOS}),
    ("request_check", ACCEPTOR, {}),
    ("check_fail", SUPERVISOR, {"note": "未整改"}),
]
PAYLOAD = {
    A.DISPATCH: {"department": CGW},
    A.REQUEST_EXTENSION: {"hours": 8},
    A.RATE: {"rating": "satisfied"},
}
ROWS = sorted(TRANSITIONS.items(), key=lambda kv: (list(S).index(kv[0][0]), kv[0][1]))


@pytest.mark.parametrize(
    ("state", "action", "row"),
    [(s, a, t) for (s, a), t in ROWS],
    ids=[f"{s}-{a}" for (s, a), _ in ROWS],
)
def test_each_allowed_transition_is_stored_with_its_event(session, state, action, row):
    build_world(session)
    public = state in (S.CLOSED, S.RATED, S.VERIFYING, S.VERIFIED)
    reporter = CITIZEN if public else SUPERVISOR
    case = report(session, reporter, source=Source.ONLINE if public else Source.PATROL)
    steps = SELF_REWORK if (state, action) == (S.REWORK, A.SELF_HANDLE) else PATHS[state]
    for step, who, payload in steps:
        do(session, case, step, who, T0, **payload)
    assert case.state == state
    who = next(BY_ROLE[r] for r in Role if r in row.roles)
    payload = {"note": "说明", "photos": PHOTOS, **PAYLOAD.get(action, {})}
    if action is A.REJECT_DUPLICATE:
        payload["duplicate_of"] = str(report(session).id)
    version = case.version
    do(session, case, action, who, T0, **payload)
    assert case.state == row.to and case.version == version + 1
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    ).first()
    assert (event.action, event.from_state, event.to_state) == (action, state, row.to)
