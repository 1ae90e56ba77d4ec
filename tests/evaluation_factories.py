"""A hand-computed evaluation scenario: four cases as raw events, in memory or in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from wangge.cases.models import Case, CaseEvent
from wangge.evaluation import stored
from wangge.evaluation.facts import EventRow

# Tuesday 10 November 2026, 09:00 UTC: well inside the month 2026-11.
T = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
GRID = "g1"
COMMUNITY = "110108001001"
D1, D2 = "110108-CGW", "110108-SZSR"


def _h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


# case: (source, [(hours after T, action, actor, role, from_state, part, payload)])
SCENARIO: dict[int, tuple[str, list[tuple[Any, ...]]]] = {
    # 1: dispatch late (3 h; the 督办 in between changes no state); handled in 30 h, within
    # 24 h + 8 h approved extension; check late (5 h).
    1: ("patrol", [
        (0, "report", "w1", "supervisor", None, None, {}),
        (0.5, "accept", "acc1", "acceptor", "reported", None, {}),
        (1, "file", "shift1", "shift_leader", "accepted", None, {}),
        (4, "dispatch", "disp1", "dispatcher", "filed", None, {"department": D1}),
        (5, "department_accept", "h1", "department", "dispatched", D1, {}),
        (6, "request_extension", "h1", "department", "in_progress", D1, {"hours": 8}),
        (7, "approve_extension", "disp1", "dispatcher", "extension_requested", D1, {}),
        (3.5, "urge", "leader1", "leader", "filed", None, {}),
        (34, "feed_back", "h1", "department", "in_progress", D1, {}),
        (35, "request_check", "acc1", "acceptor", "handled", None, {}),
        (40, "check_pass", "w2", "supervisor", "checking", None, {}),
        (41, "close", "shift1", "shift_leader", "checked", None, {}),
    ]),
    # 2: suspended for 48 h; 59 h elapsed − 48 h = 11 h of handling: on time; not closed.
    2: ("patrol", [
        (0, "report", "w1", "supervisor", None, None, {}),
        (0.25, "accept", "acc1", "acceptor", "reported", None, {}),
        (0.5, "file", "shift1", "shift_leader", "accepted", None, {}),
        (1, "dispatch", "disp1", "dispatcher", "filed", None, {"department": D1}),
        (1.5, "department_accept", "h1", "department", "dispatched", D1, {}),
        (2, "request_suspension", "h1", "department", "in_progress", D1, {}),
        (3, "approve_suspension", "disp1", "dispatcher", "suspension_requested", D1, {}),
        (51, "resume", "h1", "department", "suspended", D1, {}),
        (60, "feed_back", "h1", "department", "in_progress", D1, {}),
    ]),
    # 3: rework: checked and failed, fed back again, then closed.
    3: ("patrol", [
        (0, "report", "w1", "supervisor", None, None, {}),
        (0.25, "accept", "acc1", "acceptor", "reported", None, {}),
        (0.5, "file", "shift1", "shift_leader", "accepted", None, {}),
        (1, "dispatch", "disp1", "dispatcher", "filed", None, {"department": D2}),
        (1.5, "department_accept", "h2", "department", "dispatched", D2, {}),
        (3, "feed_back", "h2", "department", "in_progress", D2, {}),
        (3.5, "request_check", "acc1", "acceptor", "handled", None, {}),
        (5, "check_fail", "w2", "supervisor", "checking", None, {}),
        (6, "feed_back", "h2", "department", "rework", D2, {}),
        (6.5, "request_check", "acc1", "acceptor", "handled", None, {}),
        (7, "check_pass", "w2", "supervisor", "checking", None, {}),
        (8, "close", "shift1", "shift_leader", "checked", None, {}),
        (10, "rate", "c1", "citizen", "closed", None, {"rating": "satisfied"}),
    ]),
    # 4: a hotline report verified late (3 h), filed, then voided.
    4: ("hotline", [
        (0, "report", "c1", "citizen", None, None, {}),
        (0.1, "accept", "acc1", "acceptor", "reported", None, {}),
        (0.2, "request_verification", "acc1", "acceptor", "accepted", None, {}),
        (3.2, "verify_true", "w1", "supervisor", "verifying", None, {}),
        (3.7, "file", "shift1", "shift_leader", "verified", None, {}),
        (4, "void", "shift1", "shift_leader", "filed", None, {}),
    ]),
}  # fmt: skip


def scenario_rows(base_id: int = 1, grid: str = GRID) -> list[EventRow]:
    """Return the scenario as event rows (ids increasing in time within each case)."""
    out, eid = [], 0
    for cid, (source, steps) in SCENARIO.items():
        for hours, action, actor, role, frm, part, payload in steps:
            eid += 1
            out.append(
                EventRow(
                    id=eid, case_id=base_id + cid - 1, at=_h(hours), action=action,
                    actor_id=actor, role=role, from_state=frm, part=part,
                    hours=payload.get("hours"), rating=payload.get("rating"), source=source,
                    grid=grid, community=COMMUNITY,
                )
            )  # fmt: skip
    return out


def store_scenario(session: Session, grid_id: int | None) -> dict[int, int]:
    """Write the scenario's cases and events straight into the tables; return {n: case id}."""
    ids = {}
    for n, (source, steps) in SCENARIO.items():
        case = Case(
            county_code="110108", category_code="E0102", source=source, description="场景",
            lon=116.3, lat=39.9, grid_id=grid_id, community_code=COMMUNITY, state="reported",
            reporter_id=steps[0][2], reporter_role=steps[0][3], reported_at=T, handler_ids=[],
            photos=[], code=f"EVAL-{n}",
        )  # fmt: skip
        session.add(case)
        session.flush()
        ids[n] = case.id
        for hours, action, actor, role, frm, part, payload in steps:
            session.add(
                CaseEvent(
                    case_id=case.id, county_code="110108", action=action, actor_id=actor,
                    role=role, at=_h(hours), from_state=frm, to_state="x", part=part,
                    attachments=[], payload=payload,
                )
            )  # fmt: skip
            session.flush()
        stored.refresh_case(session, case)  # as the case service does after each event
    return ids
