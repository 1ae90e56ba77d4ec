"""Evaluation of a period from the database: aggregate SQL counts, the pure formulas, rankings,
comparisons with the previous period and last year, and drill-down to the cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from wangge.assignments.service import patrol_duties
from wangge.auth.principal import Principal
from wangge.cases.models import Case, CaseEvent, Patrol, PatrolPoint, UTCDateTime
from wangge.departments.models import Department
from wangge.divisions.models import Division
from wangge.errors import NotFound, ValidationFailed
from wangge.evaluation import facts, rollups, sql, stored
from wangge.evaluation.facts import OPEN_COUNTS, EventRow, OpenClock
from wangge.evaluation.indicators import (
    OBJECT_FORMULA,
    OBJECT_ZH,
    RATES,
    EvalConfig,
    evaluate_object,
    patrol_visits,
    rank,
)
from wangge.evaluation.periods import Period, previous, same_last_year
from wangge.grids.models import Grid

AREA_TYPES = ("street", "community", "grid")
Duty = tuple[str, date, date | None]  # a grid id to patrol from a day to a day (None: on)
PEOPLE_TYPES = ("supervisor", "acceptor", "shift_leader", "dispatcher")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _params(stmt: Any) -> Any:
    return stmt.bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )


def _args(
    start: datetime, end: datetime, county: str | None, line: str | None = None
) -> dict[str, Any]:
    args: dict[str, Any] = {"start": start, "end": end}
    if county:
        args["county"] = county
    if line:
        args["line"] = line
    return args


def count_period(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    county: str | None = None,
    cfg: EvalConfig | None = None,
    from_events: bool = False,
    line: str | None = None,
    use_rollups: bool = True,
) -> dict[str, dict[str, dict[str, int]]]:
    """Return {object_type: {key: {count: n}}} for [start, end) by one aggregate query.

    The query reads the per-day rollups for whole local days, else the stored facts when
    they match `cfg`, else (or with `from_events`) it derives them from the events with
    window functions. `line`: only the cases whose category belongs to that business line.
    """
    cfg = cfg or EvalConfig()
    use_stored = not from_events and stored.usable(session, cfg)
    args = _args(start, end, county, line)
    if use_stored and use_rollups and not line and rollups.built(session):
        # whole local days: the per-day rollups kept in step with the facts give the same
        # counts from a few rows per object and day (None: a period cut inside a day)
        by_day = rollups.count_days(session, start, end, county=county)
        if by_day is not None:
            return facts.add_open(by_day, _open_clocks(session, use_stored, args))
    query, names = sql.count_sql(
        _dialect(session), cfg, county=county is not None, stored=use_stored, line=bool(line)
    )
    if _dialect(session) == "postgresql":
        # the window sorts of a month (~1M events) fit in memory instead of spilling to disk
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    out: dict[str, dict[str, dict[str, int]]] = {g: {} for g in names}
    for row in session.execute(_params(text(query)), _args(start, end, county, line)):
        cols = names[row[0]]
        out[row[0]][str(row[1])] = {c: int(row[2 + i] or 0) for i, c in enumerate(cols)}
    return facts.add_open(out, _open_clocks(session, use_stored, _args(start, end, county, line)))


def _open_clocks(session: Session, use_stored: bool, args: dict[str, Any]) -> list[OpenClock]:
    """Return the clocks running past their deadline at the period's end (超期未处置 / 超期未结案;
    `args` as `_args` gives them)."""
    query = sql.open_sql(
        _dialect(session), county="county" in args, stored=use_stored, line="line" in args
    )
    rows = session.execute(_params(text(query)), args)
    return sorted(
        (
            OpenClock(int(c), int(e), p, bool(k), r, None if g is None else str(g), m)
            for c, e, p, k, r, g, m in rows
        ),
        key=lambda c: (c.case_id, c.event_id, c.part or ""),
    )


def ratings(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    county: str | None = None,
    line: str | None = None,
) -> dict[str, dict[str, int]]:
    """Return per grid worker {ratings, satisfied} in [start, end) (of one line's cases)."""
    use_stored = stored.usable(session, EvalConfig())
    q = _params(
        text(
            sql.ratings_sql(
                _dialect(session), county=county is not None, stored=use_stored, line=bool(line)
            )
        )
    )
    rows = session.execute(q, _args(start, end, county, line))
    return {str(w): {"ratings": int(n), "satisfied": int(s or 0)} for w, n, s in rows}


def patrol_counts(
    session: Session,
    period: Period,
    *,
    county: str | None = None,
    as_of: datetime | None = None,
    per_day: int = 2,
    assignments: Mapping[str, Sequence[str | Duty]] | None = None,
) -> dict[str, dict[str, int]]:
    """Return per worker {visits, visits_required} (巡查到位) over the period's elapsed days.

    The grids a worker must patrol are those he patrolled, unless `assignments` names his
    duties: a grid id (every day) or (grid id, first day, last day or None) for the days in
    force (`assignments.service.patrol_duties`).
    """
    last = period.last
    if as_of is not None:
        last = min(last, (as_of.astimezone(period.start.tzinfo) - timedelta(seconds=1)).date())
    days = [str(period.first + timedelta(days=i)) for i in range((last - period.first).days + 1)]
    q = (
        select(Patrol.worker_id, PatrolPoint.grid_id, PatrolPoint.day, PatrolPoint.patrol_id)
        .join(Patrol, Patrol.id == PatrolPoint.patrol_id)
        .where(
            PatrolPoint.day >= period.first,
            PatrolPoint.day <= last,
            PatrolPoint.grid_id.is_not(None),
        )
        .distinct()
    )
    if county:
        q = q.where(Patrol.county_code == county)
    visits: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for worker, grid_id, day, _ in session.execute(q):
        visits[worker][(str(grid_id), str(day))] += 1
    duties: dict[str, Sequence[str | Duty]] = {
        w: sorted({g for g, _ in v}) for w, v in visits.items()
    }
    duties.update(assignments or {})
    out = {}
    for worker, ds in duties.items():
        # (grid, day) pairs due, each once even when two assignments cover it
        due: dict[str, set[str]] = defaultdict(set)
        for duty in ds:
            grid, first_day, last_day = duty if isinstance(duty, tuple) else (duty, None, None)
            due[str(grid)].update(
                d
                for d in days
                if (first_day is None or d >= str(first_day))
                and (last_day is None or d <= str(last_day))
            )
        made = required = 0
        for grid, grid_days in due.items():
            m, r = patrol_visits(visits.get(worker, {}), [grid], sorted(grid_days), per_day)
            made, required = made + m, required + r
        out[worker] = {"visits": made, "visits_required": required}
    return out


def load_events(
    session: Session, start: datetime, end: datetime, *, county: str | None = None
) -> list[EventRow]:
    """Return the raw event rows the evaluation reads: every event before `end` (of the
    county), since a case untouched in the period may still hold a clock open at its end."""
    q = (
        select(*stored.event_columns(), Case.source, Case.grid_id, Case.unit_grid_id,
               Case.community_code)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.at < end)
    )  # fmt: skip
    if county:
        q = q.where(CaseEvent.county_code == county)
    return [
        stored.event_row(r, r.source, stored.grid_key(r.grid_id, r.unit_grid_id), r.community_code)
        for r in session.execute(q)
    ]


def _names(session: Session, counts: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """Return display names by "type:key", plus "gridcode:<id>" (a grid's code) and
    "posts:<user id>" (the scope prefixes of a person's posts, a list) for `_in_scope`."""
    names: dict[str, Any] = {}
    deps = list(counts.get("department", {}))
    if deps:
        names |= {
            f"department:{c}": n
            for c, n in session.execute(
                select(Department.code, Department.name).where(Department.code.in_(deps))
            )
        }
    codes = list(counts.get("street", {})) + list(counts.get("community", {}))
    if codes:
        for c, n in session.execute(
            select(Division.code, Division.name).where(Division.code.in_(codes))
        ):
            names[f"{'street' if len(c) == 9 else 'community'}:{c}"] = n
    people = {int(k) for t in (*PEOPLE_TYPES, "grid_worker") for k in counts.get(t, {})
              if k.isdigit() and len(k) < 10}  # fmt: skip
    if people:
        # staff names as the case page shows them; the posts' areas scope people (_in_scope)
        from wangge.auth.models import Post, User

        for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(people))):
            names[f"person:{i}"] = n
        for i, prefix in session.execute(
            select(Post.user_id, Post.scope_prefix).where(Post.user_id.in_(people))
        ):
            names.setdefault(f"posts:{i}", []).append(prefix)
    gids = [int(g) for g in counts.get("grid", {}) if g.isdigit() and len(g) < 10]
    if gids:
        for i, code, name in session.execute(
            select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(gids))
        ):
            names[f"grid:{i}"] = f"{code} {name}"
            names[f"gridcode:{i}"] = code
    return names


def _in_scope(
    principal: Principal | None, object_type: str, key: str, names: dict[str, Any]
) -> bool:
    if principal is None or principal.scope_prefixes is None:
        return True
    if object_type in ("street", "community"):
        return principal.covers(key)
    if object_type == "grid":
        code = names.get(f"gridcode:{key}")
        return code is not None and principal.covers(code)
    if object_type in (*PEOPLE_TYPES, "grid_worker") and not _whole_county(principal, names):
        # a street or community leader sees the people posted inside his area only
        return any(p is not None and principal.contains(p) for p in names.get(f"posts:{key}", []))
    return True


def _whole_county(principal: Principal, names: dict[str, Any]) -> bool:
    county = names.get("county:")
    return county is None or principal.contains(county)


def evaluate(
    session: Session,
    period: Period,
    *,
    county: str | None = None,
    cfg: EvalConfig | None = None,
    as_of: datetime | None = None,
    principal: Principal | None = None,
    line: str | None = None,
) -> dict[str, Any]:
    """Evaluate every object of a period: counts, rates, scores, grades and rankings.

    `line`: count only the cases whose category belongs to that business line (patrols are
    not cases and stay as they are). The grids a worker must patrol are his assignments in
    force in the period, or, in a county without any assignment, the grids he patrolled.
    """
    cfg = cfg or EvalConfig()
    start, end = period.start, period.end
    counts = count_period(session, start, end, county=county, cfg=cfg, line=line)
    workers: dict[str, dict[str, int]] = defaultdict(dict)
    for k, c in counts["supervisor"].items():
        workers[k].update(c)
    for k, c in ratings(session, start, end, county=county, line=line).items():
        workers[k].update(c)
    duties = patrol_duties(session, period.first, period.last, county=county)
    for k, c in patrol_counts(
        session, period, county=county, as_of=as_of, per_day=cfg.patrol_visits_per_day,
        assignments=duties,
    ).items():  # fmt: skip
        workers[k].update(c)
    counts["grid_worker"] = dict(workers)
    names = _names(session, counts)
    names["county:"] = county
    objects: dict[str, list[dict[str, Any]]] = {}
    for object_type in OBJECT_FORMULA:
        rows = []
        for key, c in counts.get(object_type, {}).items():
            if not _in_scope(principal, object_type, key, names):
                continue
            row = evaluate_object(object_type, key, c, cfg)
            row["name"] = names.get(f"{object_type}:{key}") or names.get(f"person:{key}", key)
            rows.append(row)
        objects[object_type] = rank(rows)
    return {
        "period": {"kind": period.kind, "label": period.label, "first": str(period.first),
                   "last": str(period.last)},
        "county": county,
        "line": line,
        "objects": objects,
        "object_names": OBJECT_ZH,
    }  # fmt: skip


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def compare(session: Session, period: Period, **kw: Any) -> dict[str, Any]:
    """Evaluate a period with the previous one and the same one last year, score by score."""
    now = evaluate(session, period, **kw)
    prev = evaluate(session, previous(period), **kw)
    last_year = evaluate(session, same_last_year(period), **kw)
    for object_type, rows in now["objects"].items():
        p = {r["key"]: r for r in prev["objects"].get(object_type, [])}
        y = {r["key"]: r for r in last_year["objects"].get(object_type, [])}
        for r in rows:
            r["previous_score"] = p[r["key"]]["score"] if r["key"] in p else None
            r["last_year_score"] = y[r["key"]]["score"] if r["key"] in y else None
            r["change_previous"] = _delta(r["score"], r["previous_score"])
            r["change_last_year"] = _delta(r["score"], r["last_year_score"])
    now["previous"] = prev["period"]
    now["last_year"] = last_year["period"]
    return now


def _rate_parts(object_type: str, indicator: str) -> tuple[list[str], list[str]] | None:
    for key, num, den in RATES[OBJECT_FORMULA[object_type]]:
        if key == indicator:
            return [num], list(den) if isinstance(den, tuple) else [den]
    return None


def _drill_counts(
    cfg: EvalConfig, group: str, object_type: str, indicator: str
) -> tuple[list[str], list[str]]:
    """Return the counts behind an indicator (numerator, denominator); refuse one not drillable."""
    parts = _rate_parts(object_type, indicator)
    known = [*sql.groups(cfg)[group][2], *OPEN_COUNTS.get(group, ())]
    if parts is None:
        if indicator not in known:
            raise ValidationFailed(
                f"指标 {indicator} 不能下钻", f"indicator {indicator} has no case list",
                code="unknown_indicator", field="indicator",
            )  # fmt: skip
        parts = ([indicator], [])
    num, den = parts
    if any(c not in known for c in num + den):
        raise ValidationFailed(
            f"指标 {indicator} 不来自案卷（如巡查、评价）",
            f"indicator {indicator} is not counted from cases",
            code="not_from_cases", field="indicator",
        )  # fmt: skip
    return num, den


@dataclass(frozen=True)
class _DrillQuery:
    """What one drill reads: the object, the period's parameters, open clocks and the source."""

    cfg: EvalConfig
    group: str
    key: str
    args: dict[str, Any]
    clocks: list[OpenClock]
    stored: bool
    county: bool
    line: bool


def _drill_pairs(session: Session, q: _DrillQuery, counts: list[str]) -> list[tuple[int, int]]:
    """(case id, event id) of each counted event, so a list is exactly as long as its figure."""
    found: list[tuple[int, int]] = []
    for c in counts:
        if c in OPEN_COUNTS.get(q.group, ()):  # one entry per open clock: its latest event
            found += facts.open_drill(q.clocks, q.group, q.key, c)
            continue
        query = sql.drill_sql(
            _dialect(session), q.cfg, q.group, c, county=q.county, stored=q.stored, line=q.line
        )
        found += [(int(r[0]), int(r[1])) for r in session.execute(_params(text(query)), q.args)]
    return found


def _listed(session: Session, found: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The cases of drilled events: id, event, code, state and category."""
    if not found:
        return []
    info = {
        i: (c, s, k)
        for i, c, s, k in session.execute(
            select(Case.id, Case.code, Case.state, Case.category_code).where(
                Case.id.in_({p[0] for p in found})
            )
        )
    }
    return [
        {"id": i, "event_id": e, "code": info[i][0], "state": info[i][1], "category": info[i][2]}
        for i, e in found
    ]


def drill(
    session: Session,
    period: Period,
    object_type: str,
    key: str,
    indicator: str,
    *,
    county: str | None = None,
    cfg: EvalConfig | None = None,
    principal: Principal | None = None,
    line: str | None = None,
) -> dict[str, Any]:
    """Return the cases behind a count, or behind the numerator and denominator of a rate."""
    cfg = cfg or EvalConfig()
    group = "supervisor" if object_type == "grid_worker" else object_type
    if group not in sql.groups(cfg):
        raise NotFound(f"未知的评价对象 {object_type}", f"unknown object type {object_type}")
    if principal is not None and not _in_scope(
        principal, object_type, key,
        _names(session, {object_type: {key: {}}}) | {"county:": county},
    ):  # fmt: skip
        raise NotFound(f"对象 {key} 不存在", f"object {key} does not exist")
    num, den = _drill_counts(cfg, group, object_type, indicator)
    use_stored = stored.usable(session, cfg)
    clocks: list[OpenClock] = []
    if any(c in OPEN_COUNTS.get(group, ()) for c in num + den):
        clocks = _open_clocks(session, use_stored, _args(period.start, period.end, county, line))
    q = _DrillQuery(
        cfg, group, key, _args(period.start, period.end, county, line) | {"key": key}, clocks,
        use_stored, county is not None, bool(line),
    )  # fmt: skip
    return {
        "object_type": object_type, "key": key, "indicator": indicator,
        "numerator": {"counts": num, "cases": _listed(session, _drill_pairs(session, q, num))},
        "denominator": {"counts": den, "cases": _listed(session, _drill_pairs(session, q, den))},
    }  # fmt: skip
