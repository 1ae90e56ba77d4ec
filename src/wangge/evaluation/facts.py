"""Counts of the standard indicators recomputed from raw case events. Pure: the reference.

Anyone can recompute a score from the event log with this module; `wangge.evaluation.sql` runs
the same definitions as one aggregate SQL query, and the tests hold the two equal.

Rules (one per event; events of a case ordered by time, then id; only events before the end
of the period are seen, so a month's figures do not change when later months happen):

* A stage is on time when its ending event comes no later than the deadline the case showed
  while it waited for it: each event records the deadline of the stage clock it leaves
  running (`EventRow.deadline`, set by the case clocks on the working-day calendar, issue 16),
  so the ending event is judged against the deadline recorded on the event before it. A
  department's feedback is judged against its part's deadline (`part_deadline`, which counts
  approved extensions and leaves suspended time out, and which the feedback itself does not
  move). A later change of the calendar or of a limit cannot change a period already evaluated.
* Events from before those deadlines were recorded (migration 0018) fall back to the old rule:
  on time within `EvalConfig.stage_hours` wall-clock hours of the previous state-changing
  event (督办, 上报上级 and 评价 change no state); handling from the dispatch or the rework,
  plus approved extension hours (the hours approved, else requested), minus suspended time.
* People are credited with the events they did in the period (the role on the event):
  reports, verifications and checks to 监督员; acceptance and sending to 受理员; filing and
  closing to 值班长; dispatch to 派遣员. A report is valid when the case was filed (立案) or
  settled by the grid (自行处置). 漏报 = a public report verified true by the supervisor.
* Departments and areas are cohorts: a department's 应处置数 is its handling spells whose
  first event lies in the period; an area's 立案数 is the filings in the period, and its
  结案/按期结案 are those of the filed cases closed before the period ended.
* Open clocks count at the end of the period (`open_clocks`): a department's handling clock
  still running past its deadline is 超期未处置 for that department, and one not already in
  its 应处置数 (never touched, or touched before the period) is added to the denominators of
  处置率 / 按期处置率 / 超期未处置率, so a case left alone lowers its department's rates in
  every period it stays overdue; a filed case whose stage clock is past its deadline is
  超期未结案 for its grid, community and street and for the grid worker who reported it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from wangge.cases.vocabulary import HANDLING, CaseState
from wangge.cases.workflow import TRANSITIONS
from wangge.evaluation.indicators import EvalConfig

PUBLIC = frozenset({"hotline", "online"})
# Actions that start no new state epoch: those the transitions table leaves the case where it
# is (督办 urge, 上报 escalate) and the rating, which follows the end of the loop.
NO_STATE_CHANGE = frozenset({str(a) for (s, a), t in TRANSITIONS.items() if t.to == s} | {"rate"})
WORKER_ROLES = frozenset({"supervisor", "grid_leader"})
SATISFIED = frozenset({"satisfied", "basically_satisfied"})
FILING = frozenset({"file", "self_handle"})
# Events that start departments' handling clocks (派遣, 返工): the departments they name.
SPELL_START = frozenset({"dispatch", "check_fail"})
# A department's own actions after which its clock stands (fed back, suspended, returned).
STOPPING = frozenset(
    str(a)
    for (_, a), t in TRANSITIONS.items()
    if t.part and t.to not in HANDLING - {CaseState.SUSPENDED}
)


@dataclass(frozen=True, slots=True)
class EventRow:
    """What the evaluation reads of one event and its case."""

    id: int
    case_id: int
    at: datetime
    action: str
    actor_id: str
    role: str
    from_state: str | None = None
    part: str | None = None
    hours: float | None = None
    rating: str | None = None
    source: str = "patrol"
    grid: str | None = None
    community: str | None = None
    to_state: str | None = None
    # the deadlines the case showed right after the event (see `cases.models.CaseEvent`)
    deadline: datetime | None = None
    part_deadline: datetime | None = None
    # the departments whose clocks a dispatch or a rework starts (`departments_of`)
    departments: tuple[str, ...] = ()


Fact = dict[str, Any]


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def departments_of(action: str, payload: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Return the departments whose handling clocks a dispatch or a rework (返工) starts."""
    p = payload or {}
    if action == "dispatch":
        lead = p.get("department")
        names = ([lead] if isinstance(lead, str) else []) + _texts(p.get("assisting"))
    elif action == "check_fail":
        names = _texts(p.get("departments"))
    else:
        return ()
    return tuple(dict.fromkeys(names))


def _ordered(rows: Iterable[EventRow]) -> list[EventRow]:
    return sorted(rows, key=lambda r: (r.at.timestamp(), r.id))


def _event_facts(rows: list[EventRow]) -> list[Fact]:
    """One fact per event in time order: its spell, extension, suspension and shown deadline."""
    out: list[Fact] = []
    prev_state: float | None = None
    prev_deadline: datetime | None = None
    hseg = 0
    last_by_part: dict[str | None, Fact] = {}
    for r in _ordered(rows):
        epoch = r.at.timestamp()
        hseg += r.action in SPELL_START
        lag = last_by_part.get(r.part)
        ext = 0.0
        if r.action == "approve_extension":
            lag_hours = lag["hours"] if lag and lag["action"] == "request_extension" else None
            ext = r.hours if r.hours is not None else (lag_hours or 0.0)
        susp = 0.0
        if r.action == "resume" and lag and lag["action"] == "approve_suspension":
            susp = epoch - lag["epoch"]
        # the deadline the case showed while waiting for this event (a feedback: its part's)
        due = r.part_deadline if r.action == "feed_back" else prev_deadline
        f: Fact = {
            "row": r, "action": r.action, "epoch": epoch, "prev": prev_state, "hseg": hseg,
            "ext": ext, "susp": susp, "hours": r.hours, "part": r.part, "due": due,
        }  # fmt: skip
        out.append(f)
        last_by_part[r.part] = f
        prev_deadline = r.deadline
        if r.action not in NO_STATE_CHANGE:
            prev_state = epoch
    return out


def _running_sums(by_hp: dict[tuple[int, str | None], list[Fact]]) -> None:
    """Sum extensions and suspensions so far within each spell of each part."""
    for group in by_hp.values():
        ext_sum = susp_sum = 0.0
        for f in group:
            ext_sum += f["ext"]
            susp_sum += f["susp"]
            f["ext_sum"], f["susp_sum"] = ext_sum, susp_sum


def _late_feedback(f: Fact, cfg: EvalConfig) -> bool:
    """A feedback after the deadline shown, or (none shown) beyond the handling limit."""
    if f["action"] != "feed_back":
        return False
    if f["due"] is not None:
        return bool(f["row"].at > f["due"])
    return f["handle_start"] is not None and (
        f["epoch"] - f["handle_start"] - f["susp_sum"]
        > cfg.limit_secs("handle") + f["ext_sum"] * 3600.0
    )


def _spell_flags(out: list[Fact], by_h: dict[int, list[Fact]], cfg: EvalConfig) -> None:
    """Flag each fact's spell start, rework, wrong dispatch and lateness."""
    last_cf = last_dp = None
    for i, f in enumerate(out):
        h = by_h[f["hseg"]]
        # the spell's start event (派遣 or 返工); nothing before the first dispatch
        f["handle_start"] = h[0]["epoch"] if f["hseg"] else None
        if f["action"] in ("check_fail", "dispatch"):
            f["seg_rework"] = f["action"] == "check_fail"
        else:  # the latest start so far was a rework (a tie in time counts as rework)
            f["seg_rework"] = last_cf is not None and (last_dp is None or last_cf >= last_dp)
        if f["action"] == "check_fail":
            last_cf = f["epoch"]
        elif f["action"] == "dispatch":
            last_dp = f["epoch"]
        later = out[i + 1 :]
        wrong = [g["epoch"] for g in later if g["action"] in ("approve_return", "check_fail")]
        nxt = [g["epoch"] for g in later if g["action"] == "dispatch"]
        # returned or reworked before the next dispatch
        f["wrong_dispatch"] = bool(wrong) and min(wrong) <= (min(nxt) if nxt else 1e18)
        f["late_fb"] = _late_feedback(f, cfg)
        f["fb_on_time"] = f["action"] == "feed_back" and not f["late_fb"]
        f["late_close"] = f["action"] == "close" and not _ok(f, "close", cfg)


def _part_flags(by_hp: dict[tuple[int, str | None], list[Fact]]) -> None:
    """Flag what happened anywhere within each spell of each part, and its first event."""
    for (_, part), group in by_hp.items():
        flags = {
            "seg_fed": any(g["action"] == "feed_back" for g in group),
            "seg_fed_on_time": any(g["fb_on_time"] for g in group),
            "seg_ext": any(g["action"] == "approve_extension" for g in group),
            "seg_susp": any(g["action"] == "approve_suspension" for g in group),
            "seg_returned": any(g["action"] == "approve_return" for g in group),
        }
        for i, g in enumerate(group):
            g.update(flags)
            g["seg_first"] = part is not None and i == 0


def _facts_of_case(rows: list[EventRow], cfg: EvalConfig) -> list[Fact]:
    out = _event_facts(rows)
    acts = {f["action"] for f in out}
    case_filed = bool(acts & {"file", "self_handle"})
    case_closed = "close" in acts
    void_after_file = any(f["action"] == "void" and f["row"].from_state == "filed" for f in out)
    by_h: dict[int, list[Fact]] = defaultdict(list)
    by_hp: dict[tuple[int, str | None], list[Fact]] = defaultdict(list)
    for f in out:
        by_h[f["hseg"]].append(f)
        by_hp[(f["hseg"], f["part"])].append(f)
    _running_sums(by_hp)
    _spell_flags(out, by_h, cfg)
    case_late = any(f["late_fb"] or f["late_close"] for f in out)
    _part_flags(by_hp)
    for f in out:
        f.update(case_filed=case_filed, case_closed=case_closed, case_late=case_late)
        f["void_after_file"] = void_after_file
    return out


# The case-, spell- and dispatch-level flags of `_facts_of_case` depend on events that may come
# after a period ends. Stored facts keep, instead of each flag, the time of the first event that
# makes it true, so "flag as seen at the end of a period" is `flag_at < end` for any period.
FIRST_AT = (
    "filed_at", "closed_at", "void_at", "late_at", "wrong_at",
    "fed_at", "fed_on_time_at", "ext_at", "susp_at", "returned_at",
)  # fmt: skip


def stored_facts_of_case(rows: list[EventRow], cfg: EvalConfig) -> list[Fact]:
    """Return one storable row per event of one case (all its events so far).

    Past-only values are kept as they are (gap to the previous state change, first event of a
    handling spell, rework spell, the rating); flags that later events can set are kept as the
    time of the first event that sets them (`FIRST_AT`). The tests hold `count` over these rows
    equal to `count` over the raw events for any period.
    """
    out = _facts_of_case(rows, cfg)

    def first(pred: Callable[[Fact], bool], group: Iterable[Fact]) -> datetime | None:
        # facts are in (time, id) order, so the first match is the earliest
        return next((f["row"].at for f in group if pred(f)), None)

    case_at = {
        "filed_at": first(_a("file", "self_handle"), out),
        "closed_at": first(_a("close"), out),
        "void_at": first(lambda f: f["action"] == "void" and f["row"].from_state == "filed", out),
        "late_at": first(lambda f: bool(f["late_fb"] or f["late_close"]), out),
    }
    spells: dict[tuple[int, str | None], list[Fact]] = defaultdict(list)
    for f in out:
        spells[(f["hseg"], f["part"])].append(f)
    spell_at = {
        key: {
            "fed_at": first(_a("feed_back"), group),
            "fed_on_time_at": first(lambda f: bool(f["fb_on_time"]), group),
            "ext_at": first(_a("approve_extension"), group),
            "susp_at": first(_a("approve_suspension"), group),
            "returned_at": first(_a("approve_return"), group),
        }
        for key, group in spells.items()
    }
    # wrong dispatch: the first 回退/返工 after the event comes no later than the next dispatch
    wrong: list[datetime | None] = [None] * len(out)
    next_wrong: Fact | None = None
    next_dispatch: float = 1e18
    for i in range(len(out) - 1, -1, -1):
        f = out[i]
        if next_wrong is not None and next_wrong["epoch"] <= next_dispatch:
            wrong[i] = next_wrong["row"].at
        if f["action"] in ("approve_return", "check_fail"):
            next_wrong = f
        elif f["action"] == "dispatch":
            next_dispatch = f["epoch"]
    rows_out = []
    for i, f in enumerate(out):
        r: EventRow = f["row"]
        rows_out.append(
            {
                "event_id": r.id, "case_id": r.case_id, "at": r.at, "action": r.action,
                "actor_id": r.actor_id, "role": r.role, "part": r.part, "source": r.source,
                "grid": r.grid, "community": r.community, "rating": r.rating,
                "gap": None if f["prev"] is None else f["epoch"] - f["prev"], "due_at": f["due"],
                "seg_first": bool(f["seg_first"]), "seg_rework": bool(f["seg_rework"]),
                **case_at, **spell_at[(f["hseg"], f["part"])], "wrong_at": wrong[i],
            }
        )  # fmt: skip
    return rows_out


def stored_facts(events: Iterable[EventRow], cfg: EvalConfig) -> list[Fact]:
    """Return the storable rows of every event (grouped by case)."""
    cases: dict[int, list[EventRow]] = defaultdict(list)
    for e in events:
        cases[e.case_id].append(e)
    return [row for rows in cases.values() for row in stored_facts_of_case(rows, cfg)]


def _ok(f: Fact, stage: str, cfg: EvalConfig) -> bool:
    # the recorded deadline when there is one, else the old wall-clock limit
    if f["due"] is not None:
        return bool(f["row"].at <= f["due"])
    return f["prev"] is not None and f["epoch"] - f["prev"] <= cfg.limit_secs(stage)


def _cases(events: Iterable[EventRow], end: datetime) -> dict[int, list[EventRow]]:
    cases: dict[int, list[EventRow]] = defaultdict(list)
    for e in events:
        if e.at < end:
            cases[e.case_id].append(e)
    return cases


def facts(events: Iterable[EventRow], end: datetime, cfg: EvalConfig) -> list[Fact]:
    """Return one fact per event before `end`, with its case-, spell- and stage-level flags."""
    return [f for rows in _cases(events, end).values() for f in _facts_of_case(rows, cfg)]


def clock_spans(rows: Iterable[EventRow]) -> list[Fact]:
    """Return the clocks the events of ONE case leave running with a recorded deadline.

    A span runs from its event (`at`) to the next event that moves that clock (`ends_at`;
    None while it runs). The case's stage clock counts once the case is filed: every event
    records it (`deadline`). A department's handling clock is started by a dispatch or a
    rework naming it (the event's `deadline`: new parts share it) and carried by its own
    events (`part_deadline`) until it feeds back, is suspended or returned, or the case leaves
    the handling states; `counted_at` is when its spell entered 应处置数 (its first own event).
    """
    rows = _ordered(rows)
    if not rows:
        return []
    one = rows[0]
    place = {"case_id": one.case_id, "grid": one.grid, "community": one.community}
    reporter = next(
        (r.actor_id for r in rows if r.action == "report" and r.role in WORKER_ROLES), None
    )
    segs: list[int] = []
    first_own: dict[tuple[int, str], datetime] = {}
    hseg = 0
    for r in rows:
        hseg += r.action in SPELL_START
        segs.append(hseg)
        if r.part is not None:
            first_own.setdefault((hseg, r.part), r.at)
    spans: list[Fact] = []
    running: dict[str, Fact] = {}
    filed = False
    for i, r in enumerate(rows):
        filed = filed or r.action in FILING
        if filed and r.deadline is not None:
            spans.append({
                **place, "event_id": r.id, "part": None, "at": r.at, "deadline": r.deadline,
                "ends_at": rows[i + 1].at if i + 1 < len(rows) else None, "counted_at": None,
                "reporter": reporter,
            })  # fmt: skip
        opened = [(r.part, r.part_deadline, r.action not in STOPPING)] if r.part else []
        if r.action in SPELL_START:
            opened += [(d, r.deadline, True) for d in r.departments]
        leaves = r.to_state not in HANDLING  # the case left handling: every part clock stops
        for dept, deadline, runs in opened:
            old = running.pop(dept, None)
            if old is not None:
                old["ends_at"] = r.at
            if runs and deadline is not None and not leaves:
                running[dept] = {
                    **place, "event_id": r.id, "part": dept, "at": r.at, "deadline": deadline,
                    "ends_at": None, "counted_at": first_own.get((segs[i], dept)),
                    "reporter": None,
                }  # fmt: skip
                spans.append(running[dept])
        if leaves:
            for old in running.values():
                old["ends_at"] = r.at
            running.clear()
    return spans


class OpenClock(NamedTuple):
    """A clock running past its deadline at the end of a period (超期未处置 / 超期未结案)."""

    case_id: int
    event_id: int  # the event whose recorded deadline the clock shows
    part: str | None  # a department's handling clock; None: the case's stage clock
    carried: bool  # a handling spell outside the period's 应处置数
    reporter: str | None  # the grid worker who reported the case (stage clocks)
    grid: str | None
    community: str | None


def open_clocks(events: Iterable[EventRow], start: datetime, end: datetime) -> list[OpenClock]:
    """Return the clocks of the events' cases running past their deadline at `end`."""
    out = []
    for rows in _cases(events, end).values():
        for s in clock_spans(rows):
            if s["ends_at"] is None and s["deadline"] < end:
                counted = s["counted_at"] is not None and s["counted_at"] >= start
                carried = s["part"] is not None and not counted
                out.append(OpenClock(s["case_id"], s["event_id"], s["part"], carried,
                                     s["reporter"], s["grid"], s["community"]))  # fmt: skip
    return sorted(out, key=lambda c: (c.case_id, c.event_id, c.part or ""))


Pred = Callable[[Fact, EventRow, EvalConfig], bool]


def _a(*names: str) -> Callable[[Fact], bool]:
    return lambda f: f["action"] in names


_REPORT, _VERIFY, _CHECK = (
    _a("report"),
    _a("verify_true", "verify_false"),
    _a("check_pass", "check_fail"),
)
# object group -> (which rows belong, the object's key, {count: predicate})
GROUPS: dict[
    str, tuple[Callable[[Fact, EventRow], bool], Callable[[EventRow], str | None], dict[str, Pred]]
] = {
    "supervisor": (
        lambda f, r: r.role in WORKER_ROLES,
        lambda r: r.actor_id,
        {
            "reports": lambda f, r, c: _REPORT(f),
            "valid_reports": lambda f, r, c: _REPORT(f) and f["case_filed"],
            "closed_reports": lambda f, r, c: _REPORT(f) and f["case_filed"] and f["case_closed"],
            "closed_on_time_reports": lambda f, r, c: (
                _REPORT(f) and f["case_filed"] and f["case_closed"] and not f["case_late"]
            ),
            "to_verify": lambda f, r, c: _VERIFY(f),
            "verified_on_time": lambda f, r, c: _VERIFY(f) and _ok(f, "verify", c),
            "to_check": lambda f, r, c: _CHECK(f),
            "checked_on_time": lambda f, r, c: _CHECK(f) and _ok(f, "check", c),
            "missed": lambda f, r, c: f["action"] == "verify_true" and r.source in PUBLIC,
            "self_handled": lambda f, r, c: f["action"] == "self_handle",
        },
    ),
    "acceptor": (
        lambda f, r: r.role == "acceptor",
        lambda r: r.actor_id,
        {
            "received": lambda f, r, c: _a("accept", "reject_invalid", "reject_duplicate")(f),
            "send_verify": lambda f, r, c: f["action"] == "request_verification",
            "send_verify_on_time": lambda f, r, c: (
                f["action"] == "request_verification" and _ok(f, "send_verify", c)
            ),
            "send_check": lambda f, r, c: f["action"] == "request_check",
            "send_check_on_time": lambda f, r, c: (
                f["action"] == "request_check" and _ok(f, "send_check", c)
            ),
        },
    ),
    "shift_leader": (
        lambda f, r: r.role == "shift_leader",
        lambda r: r.actor_id,
        {
            "filed": lambda f, r, c: f["action"] == "file",
            "filed_on_time": lambda f, r, c: f["action"] == "file" and _ok(f, "file", c),
            "filed_accurate": lambda f, r, c: f["action"] == "file" and not f["void_after_file"],
            "to_close": lambda f, r, c: f["action"] == "close",
            "closed_on_time": lambda f, r, c: f["action"] == "close" and _ok(f, "close", c),
        },
    ),
    "dispatcher": (
        lambda f, r: r.role == "dispatcher",
        lambda r: r.actor_id,
        {
            "dispatched": lambda f, r, c: f["action"] == "dispatch",
            "dispatched_on_time": lambda f, r, c: (
                f["action"] == "dispatch" and _ok(f, "dispatch", c)
            ),
            "dispatched_accurate": lambda f, r, c: (
                f["action"] == "dispatch" and not f["wrong_dispatch"]
            ),
        },
    ),
    "department": (
        lambda f, r: f["seg_first"],
        lambda r: r.part,
        {
            "to_handle": lambda f, r, c: True,
            "handled": lambda f, r, c: f["seg_fed"],
            "handled_on_time": lambda f, r, c: f["seg_fed_on_time"],
            "rework": lambda f, r, c: f["seg_rework"],
            "closed": lambda f, r, c: f["case_closed"],
            "extended": lambda f, r, c: f["seg_ext"],
            "suspended": lambda f, r, c: f["seg_susp"],
            "returned": lambda f, r, c: f["seg_returned"],
        },
    ),
}
_AREA: dict[str, Pred] = {
    "filed": lambda f, r, c: f["action"] == "file",
    "closed": lambda f, r, c: f["action"] == "file" and f["case_closed"],
    "closed_on_time": lambda f, r, c: (
        f["action"] == "file" and f["case_closed"] and not f["case_late"]
    ),
    "public_verified": lambda f, r, c: f["action"] == "verify_true" and r.source in PUBLIC,
}
AREAS = ("grid", "community", "street")


def area_key(area: str, grid: str | None, community: str | None) -> str | None:
    """Return the key of a case's grid, community or street."""
    if area == "grid":
        return grid
    return community if area == "community" or not community else community[:9]


def _area_rows(f: Fact, r: EventRow) -> bool:
    # an area is counted from its filings and its verified public reports only
    return f["action"] in ("file", "verify_true")


def _area_of(area: str) -> Callable[[EventRow], str | None]:
    return lambda r: area_key(area, r.grid, r.community)


for _name in AREAS:
    GROUPS[_name] = (_area_rows, _area_of(_name), _AREA)
# Counts of the clocks open at the end of the period (`open_clocks`), per object type.
OPEN_COUNTS: dict[str, tuple[str, ...]] = {
    "department": ("overdue_open", "overdue_carried"),
    "supervisor": ("overdue_reports",),
    **{a: ("overdue_cases",) for a in AREAS},
}


def _open_targets(c: OpenClock) -> list[tuple[str, str, str]]:
    """Return the (object type, key, count) each open clock adds one to."""
    if c.part is not None:
        names = ("overdue_open", "overdue_carried") if c.carried else ("overdue_open",)
        return [("department", c.part, n) for n in names]
    out = [("supervisor", c.reporter, "overdue_reports")] if c.reporter else []
    keys = [(a, area_key(a, c.grid, c.community)) for a in AREAS]
    return out + [(a, k, "overdue_cases") for a, k in keys if k is not None]


def add_open(
    out: dict[str, dict[str, dict[str, int]]], clocks: Iterable[OpenClock]
) -> dict[str, dict[str, dict[str, int]]]:
    """Add the open clocks' counts to `out` (every row of those types gets them, 0 or more)."""
    for group, names in OPEN_COUNTS.items():
        for row in out.setdefault(group, {}).values():
            for n in names:
                row.setdefault(n, 0)
    for c in clocks:
        for group, key, name in _open_targets(c):
            zero = dict.fromkeys([*GROUPS[group][2], *OPEN_COUNTS[group]], 0)
            out[group].setdefault(key, zero)[name] += 1
    return out


def open_drill(
    clocks: Iterable[OpenClock], object_type: str, key: str, count_name: str
) -> list[tuple[int, int]]:
    """Return the (case id, event id) pairs behind one open-clock count of one object."""
    return sorted(
        (c.case_id, c.event_id)
        for c in clocks
        if (object_type, key, count_name) in _open_targets(c)
    )


def count(
    events: Iterable[EventRow], start: datetime, end: datetime, cfg: EvalConfig | None = None
) -> dict[str, dict[str, dict[str, int]]]:
    """Return {object_type: {key: {count: n}}} for the period [start, end)."""
    cfg = cfg or EvalConfig()
    events = list(events)
    out: dict[str, dict[str, dict[str, int]]] = {g: {} for g in GROUPS}
    for f in facts(events, end, cfg):
        r: EventRow = f["row"]
        if r.at < start:
            continue
        for group, (member, key_of, preds) in GROUPS.items():
            key = key_of(r)
            if key is None or not member(f, r):
                continue
            row = out[group].setdefault(key, dict.fromkeys(preds, 0))
            for name, pred in preds.items():
                row[name] += bool(pred(f, r, cfg))
    return add_open(out, open_clocks(events, start, end))


def ratings(
    events: Iterable[EventRow], start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Return per grid worker the ratings (评价) in the period of cases he worked on."""
    evs = [e for e in events if e.at < end]
    workers: dict[int, set[str]] = defaultdict(set)
    for e in evs:
        if e.role in WORKER_ROLES:
            workers[e.case_id].add(e.actor_id)
    out: dict[str, dict[str, int]] = {}
    for e in evs:
        if e.action == "rate" and e.at >= start:
            for w in workers.get(e.case_id, ()):
                row = out.setdefault(w, {"ratings": 0, "satisfied": 0})
                row["ratings"] += 1
                row["satisfied"] += e.rating in SATISFIED
    return out


def drill(
    events: Iterable[EventRow],
    start: datetime,
    end: datetime,
    object_type: str,
    key: str,
    count_name: str,
    cfg: EvalConfig | None = None,
) -> list[tuple[int, int]]:
    """Return the (case id, event id) pairs behind one count of one object, one per count."""
    cfg = cfg or EvalConfig()
    events = list(events)
    if count_name in OPEN_COUNTS.get(object_type, ()):
        return open_drill(open_clocks(events, start, end), object_type, key, count_name)
    member, key_of, preds = GROUPS[object_type]
    pred = preds[count_name]
    return sorted(
        (f["row"].case_id, f["row"].id)
        for f in facts(events, end, cfg)
        if f["row"].at >= start
        and key_of(f["row"]) == key
        and member(f, f["row"])
        and pred(f, f["row"], cfg)
    )


def as_counts(mapping: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, Any]:
    """Return a plain-dict copy (for comparisons in tests)."""
    return {g: {k: dict(v) for k, v in m.items()} for g, m in mapping.items()}
