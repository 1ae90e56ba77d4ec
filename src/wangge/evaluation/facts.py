"""Counts of the standard indicators recomputed from raw case events. Pure: the reference.

Anyone can recompute a score from the event log with this module; `wangge.evaluation.sql` runs
the same definitions as one aggregate SQL query, and the tests hold the two equal.

Rules (one per event; events of a case ordered by time, then id; only events before the end
of the period are seen, so a month's figures do not change when later months happen):

* A stage is on time when its ending event comes within the stage limit of the previous
  state-changing event of the case (督办, 上报上级 and 评价 change no state). Limits are
  wall-clock hours (`EvalConfig.stage_hours`): the event log records when things happened,
  not the working-day deadline the case clock showed, so the evaluation uses its own limits.
* Handling (处置) is timed per department part from the dispatch or the rework (返工) that
  started it; approved extensions (延期: the hours approved, else the hours requested) add to
  the limit and suspended time (挂账 approved → 恢复) does not count.
* People are credited with the events they did in the period (the role on the event):
  reports, verifications and checks to 监督员; acceptance and sending to 受理员; filing and
  closing to 值班长; dispatch to 派遣员. A report is valid when the case was filed (立案) or
  settled by the grid (自行处置). 漏报 = a public report verified true by the supervisor.
* Departments and areas are cohorts: a department's 应处置数 is its handling spells whose
  first event lies in the period; an area's 立案数 is the filings in the period, and its
  结案/按期结案 are those of the filed cases closed before the period ended.
* A stage still open when the period ends is counted when it ends (a limitation: a case stuck
  for months is not penalised until it moves).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wangge.evaluation.indicators import EvalConfig

PUBLIC = frozenset({"hotline", "online"})
NO_STATE_CHANGE = frozenset({"urge", "escalate", "rate"})
WORKER_ROLES = frozenset({"supervisor", "grid_leader"})
SATISFIED = frozenset({"satisfied", "basically_satisfied"})


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


Fact = dict[str, Any]


def _facts_of_case(rows: list[EventRow], cfg: EvalConfig) -> list[Fact]:
    rows = sorted(rows, key=lambda r: (r.at.timestamp(), r.id))
    out: list[Fact] = []
    prev_state: float | None = None
    hseg = 0
    last_by_part: dict[str | None, Fact] = {}
    for r in rows:
        epoch = r.at.timestamp()
        hseg += r.action in ("dispatch", "check_fail")
        lag = last_by_part.get(r.part)
        ext = 0.0
        if r.action == "approve_extension":
            lag_hours = lag["hours"] if lag and lag["action"] == "request_extension" else None
            ext = r.hours if r.hours is not None else (lag_hours or 0.0)
        susp = 0.0
        if r.action == "resume" and lag and lag["action"] == "approve_suspension":
            susp = epoch - lag["epoch"]
        f: Fact = {
            "row": r, "action": r.action, "epoch": epoch, "prev": prev_state, "hseg": hseg,
            "ext": ext, "susp": susp, "hours": r.hours, "part": r.part,
        }  # fmt: skip
        out.append(f)
        last_by_part[r.part] = f
        if r.action not in NO_STATE_CHANGE:
            prev_state = epoch
    acts = {f["action"] for f in out}
    case_filed = bool(acts & {"file", "self_handle"})
    case_closed = "close" in acts
    void_after_file = any(f["action"] == "void" and f["row"].from_state == "filed" for f in out)
    by_h: dict[int, list[Fact]] = defaultdict(list)
    by_hp: dict[tuple[int, str | None], list[Fact]] = defaultdict(list)
    for f in out:
        by_h[f["hseg"]].append(f)
        by_hp[(f["hseg"], f["part"])].append(f)
    for group in by_hp.values():
        ext_sum = susp_sum = 0.0
        for f in group:
            ext_sum += f["ext"]
            susp_sum += f["susp"]
            f["ext_sum"], f["susp_sum"] = ext_sum, susp_sum
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
        f["late_fb"] = (
            f["action"] == "feed_back"
            and f["handle_start"] is not None
            and (
                f["epoch"] - f["handle_start"] - f["susp_sum"]
                > cfg.limit_secs("handle") + f["ext_sum"] * 3600.0
            )
        )
        f["fb_on_time"] = f["action"] == "feed_back" and not f["late_fb"]
        f["late_close"] = f["action"] == "close" and not _ok(f, "close", cfg)
    case_late = any(f["late_fb"] or f["late_close"] for f in out)
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
                "gap": None if f["prev"] is None else f["epoch"] - f["prev"],
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
    return f["prev"] is not None and f["epoch"] - f["prev"] <= cfg.limit_secs(stage)


def facts(events: Iterable[EventRow], end: datetime, cfg: EvalConfig) -> list[Fact]:
    """Return one fact per event before `end`, with its case-, spell- and stage-level flags."""
    cases: dict[int, list[EventRow]] = defaultdict(list)
    for e in events:
        if e.at < end:
            cases[e.case_id].append(e)
    return [f for rows in cases.values() for f in _facts_of_case(rows, cfg)]


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
AREA_KEYS: dict[str, Callable[[EventRow], str | None]] = {
    "grid": lambda r: r.grid,
    "community": lambda r: r.community,
    "street": lambda r: r.community[:9] if r.community else None,
}
for _name, _key in AREA_KEYS.items():
    # an area is counted from its filings and its verified public reports only
    GROUPS[_name] = (lambda f, r: f["action"] in ("file", "verify_true"), _key, _AREA)


def count(
    events: Iterable[EventRow], start: datetime, end: datetime, cfg: EvalConfig | None = None
) -> dict[str, dict[str, dict[str, int]]]:
    """Return {object_type: {key: {count: n}}} for the period [start, end)."""
    cfg = cfg or EvalConfig()
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
    return out


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
