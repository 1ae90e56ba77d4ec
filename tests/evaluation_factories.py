"""A hand-computed evaluation scenario: four cases as raw events, in memory or in the database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Case, CaseEvent
from wangge.evaluation import stored
from wangge.evaluation.facts import EventRow, departments_of

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
                    grid=grid, community=COMMUNITY, departments=departments_of(action, payload),
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


# --- Generated histories (issue 16): random cases with recorded deadlines and open clocks ---

DEPTS = ("110108-CGW", "110108-SZSR", "110108-YLLH", "110108-JTW")
_PRIORITY = (
    "return_requested",
    "extension_requested",
    "suspension_requested",
    "dispatched",
    "rework",
    "in_progress",
    "suspended",
    "handled",
)  # as workflow.derive_state
START = datetime(2026, 10, 1, tzinfo=UTC)
# local midnights that begin or end the periods the tests evaluate
EDGES = tuple(
    datetime(y, m, d, tzinfo=SHANGHAI).astimezone(UTC)
    for y, m, d in ((2026, 10, 1), (2026, 11, 1), (2026, 11, 15), (2026, 11, 21), (2026, 12, 1),
                    (2027, 1, 1))
)  # fmt: skip


class _Case:
    """One generated case: appends events with the state and deadlines the service records."""

    def __init__(self, rng: random.Random, case_id: int, eid: list[int], grid: str) -> None:
        self.rng, self.case_id, self.eid, self.grid = rng, case_id, eid, grid
        self.t = START + timedelta(hours=rng.uniform(0, 24 * 75))
        # deadlines are recorded from this moment on (earlier events: before migration 0018)
        self.cut = self.t + timedelta(hours=rng.choice([0, 0, 0, 20, 300]))
        self.rows: list[EventRow] = []
        self.parts: dict[str, dict[str, Any]] = {}
        self.state = "reported"
        self.deadline: datetime | None = None

    def later(self, lo: float = 0.2, hi: float = 30) -> None:
        self.t += timedelta(hours=self.rng.uniform(lo, hi))
        edge = self.rng.random()
        if edge < 0.05:  # exactly where a period the tests evaluate begins or ends
            self.t = next((e for e in EDGES if self.t < e < self.t + timedelta(days=9)), self.t)
        elif edge < 0.1 and self.deadline is not None and self.deadline > self.t:
            self.t = self.deadline  # exactly at the deadline: still on time

    def due(self, lo: float = 1, hi: float = 40) -> datetime:
        return self.t + timedelta(hours=self.rng.uniform(lo, hi))

    def event(self, action: str, actor: str, role: str, *, part: str | None = None,
              departments: tuple[str, ...] = (), hours: float | None = None,
              rating: str | None = None) -> None:  # fmt: skip
        recorded = self.t >= self.cut
        self.eid[0] += 1
        self.rows.append(EventRow(
            id=self.eid[0], case_id=self.case_id, at=self.t, action=action, actor_id=actor,
            role=role, part=part, hours=hours, rating=rating, source="patrol", grid=self.grid,
            community=COMMUNITY, to_state=self.state, departments=departments,
            deadline=self.deadline if recorded else None,
            part_deadline=self.parts[part]["deadline"] if recorded and part in self.parts
            else None,
        ))  # fmt: skip

    def step(self, action: str, actor: str, role: str, to: str, clock: bool = True,
             **kw: Any) -> None:  # fmt: skip
        """A case-level step to `to`; `clock`: a new stage clock starts (else it goes on)."""
        self.later()
        self.state = to
        if to in ("closed", "rated", "rejected", "voided"):
            self.deadline = None
        elif clock:
            self.deadline = self.due()
        self.event(action, actor, role, **kw)

    def maybe_urge(self) -> None:
        if self.rng.random() < 0.15:
            self.later(0.1, 5)
            self.event("urge", "leader1", "leader")

    def part_step(self, d: str, kind: tuple[str, str, str], to: str | None, **kw: Any) -> None:
        """One department's step: its part moves to `to` (None: the part is gone)."""
        if to is None:
            self.parts.pop(d)
        else:
            self.parts[d]["state"] = to
        states = {p["state"] for p in self.parts.values()}
        self.state = next((s for s in _PRIORITY if s in states), "filed")
        if self.state == "handled":
            self.deadline = self.due()  # every part fed back: the check clock starts
        else:
            running = [p["deadline"] for p in self.parts.values()
                       if p["state"] not in ("suspended", "handled")]  # fmt: skip
            self.deadline = min(running) if running else None
        self.event(*kind, part=d, **kw)

    def handle(self, depts: tuple[str, ...], start: str, actor: str, role: str) -> bool:
        """Start the parts' clocks (dispatch or rework) and work them; False: stuck."""
        rng = self.rng
        self.later()
        deadline = self.due(4, 60)
        for d in depts:
            self.parts[d] = {"state": "dispatched" if start == "dispatch" else "rework",
                             "deadline": deadline}  # fmt: skip
        self.state, self.deadline = ("dispatched" if start == "dispatch" else "rework"), deadline
        self.event(start, actor, role, departments=depts)
        todo = list(depts)
        while todo:
            if rng.random() < 0.07:
                return False
            d = rng.choice(todo)
            p = self.parts[d]
            self.later(0.1, 20)
            step = rng.random()
            if p["state"] == "dispatched" and step < 0.1 and d != depts[0]:
                todo.remove(d)  # an assisting department's return, approved
                self.part_step(d, ("approve_return", "disp1", "dispatcher"), None)
            elif p["state"] in ("dispatched", "rework") and step < 0.5:
                self.part_step(d, ("department_accept", f"h-{d}", "department"), "in_progress")
            elif p["state"] == "in_progress" and step < 0.2:
                p["deadline"] += timedelta(hours=8)
                self.part_step(d, ("approve_extension", "disp1", "dispatcher"), "in_progress",
                               hours=8.0)  # fmt: skip
            elif p["state"] == "in_progress" and step < 0.3:
                self.part_step(d, ("approve_suspension", "disp1", "dispatcher"), "suspended")
            elif p["state"] == "suspended":
                p["deadline"] = self.due(2, 50)
                self.part_step(d, ("resume", f"h-{d}", "department"), "in_progress")
            else:
                todo.remove(d)
                self.part_step(d, ("feed_back", f"h-{d}", "department"), "handled")
            self.maybe_urge()
        return True

    def run(self) -> list[EventRow]:
        rng = self.rng
        self.deadline = self.due(0.5, 8)
        self.event("report", f"w{self.case_id % 3}", "supervisor")
        for action, actor, role, to in (("accept", "acc1", "acceptor", "accepted"),
                                        ("file", "shift1", "shift_leader", "filed")):  # fmt: skip
            if rng.random() < 0.08:
                return self.rows
            self.step(action, actor, role, to)
            self.maybe_urge()
        if rng.random() < 0.05:
            self.step("void", "shift1", "shift_leader", "voided")
            return self.rows
        depts = tuple(rng.sample(DEPTS, rng.choice([1, 1, 2, 3])))
        start, actor, role = "dispatch", "disp1", "dispatcher"
        for _ in range(3):
            if rng.random() < 0.08 or not self.handle(depts, start, actor, role):
                return self.rows
            if self.state != "handled" or rng.random() < 0.08:
                return self.rows
            self.step("request_check", "acc1", "acceptor", "checking", clock=False)
            if rng.random() < 0.08:
                return self.rows
            if rng.random() < 0.3:
                depts = tuple(rng.sample(list(self.parts), rng.randint(1, len(self.parts))))
                start, actor, role = "check_fail", "w2", "supervisor"
                continue
            self.step("check_pass", "w2", "supervisor", "checked")
            if rng.random() < 0.9:
                self.parts = {}
                self.step("close", "shift1", "shift_leader", "closed")
                if rng.random() < 0.3:
                    self.step("rate", "c1", "citizen", "rated", rating="satisfied")
            return self.rows
        return self.rows


def generated_rows(seed: int = 16, n: int = 120, grid: str = GRID) -> list[EventRow]:
    """Return `n` random case histories (ids 1..n): stuck cases, joint dispatches, reworks,
    extensions, suspensions, returns, and events from before deadlines were recorded."""
    rng = random.Random(seed)
    eid = [0]
    return [r for cid in range(1, n + 1) for r in _Case(rng, cid, eid, grid).run()]


def payload_of(r: EventRow) -> dict[str, Any]:
    """Return the payload the service would have stored with a generated event."""
    out: dict[str, Any] = {}
    if r.action == "dispatch" and r.departments:
        out = {"department": r.departments[0], "assisting": list(r.departments[1:])}
    elif r.action == "check_fail":
        out = {"departments": list(r.departments)}
    if r.hours is not None:
        out["hours"] = r.hours
    if r.rating is not None:
        out["rating"] = r.rating
    return out


def store_rows(session: Session, rows: list[EventRow], grid_id: int | None) -> dict[int, int]:
    """Write generated histories into the tables (as `store_scenario`); return {row case: id}."""
    by_case: dict[int, list[EventRow]] = {}
    for r in rows:
        by_case.setdefault(r.case_id, []).append(r)
    ids = {}
    for n, events in by_case.items():
        first = events[0]
        case = Case(
            county_code="110108", category_code="E0102", source="patrol", description="生成",
            lon=116.3, lat=39.9, grid_id=grid_id, community_code=COMMUNITY,
            state=events[-1].to_state, reporter_id=first.actor_id, reporter_role=first.role,
            reported_at=first.at, handler_ids=[], photos=[], code=f"GEN-{n}",
        )  # fmt: skip
        session.add(case)
        session.flush()
        ids[n] = case.id
        for r in events:
            session.add(
                CaseEvent(
                    case_id=case.id, county_code="110108", action=r.action, actor_id=r.actor_id,
                    role=r.role, at=r.at, from_state=None, to_state=r.to_state, part=r.part,
                    attachments=[], payload=payload_of(r), deadline=r.deadline,
                    part_deadline=r.part_deadline,
                )
            )  # fmt: skip
        session.flush()
        stored.refresh_case(session, case)
    return ids
