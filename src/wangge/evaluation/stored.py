"""Keeping `case_event_facts` and `case_clock_facts` in step with the event log, and
rebuilding them from scratch.

Stages are judged against the deadlines the events recorded; events from before those were
recorded fall back to the default stage limits (`DEFAULT_STAGE_HOURS`). What the facts were
built with (those limits and the version of the derivation) is kept in `evaluation_state`,
and an evaluation with other limits (or after either changed without a rebuild) reads the
events instead — slower, never wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import String, Table, cast, delete, func, insert, select, text, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from wangge.cases.models import Case, CaseEvent, events_of
from wangge.common.models import utcnow
from wangge.evaluation import rebuild_pg, rollups, stored_sql
from wangge.evaluation.facts import (
    EventRow,
    clock_spans,
    departments_of,
    stored_facts_of_case,
)
from wangge.evaluation.indicators import DEFAULT_STAGE_HOURS, EvalConfig
from wangge.evaluation.models import CaseClockFact, CaseEventFact, EvaluationState

FINGERPRINT_KEY = "facts.stage_hours"
COLUMNS = [c.name for c in CaseEventFact.__table__.columns]
CLOCK_COLUMNS = [c.name for c in CaseClockFact.__table__.columns if c.name != "id"]
# Bumped when the derivation changes: facts built by an older one are not used (2: judged
# against recorded deadlines, open clocks; issue 16).
DERIVATION = 2


def fingerprint(cfg: EvalConfig) -> str:
    """The stage limits and the derivation as canonical JSON (what the stored facts depend on)."""
    limits = {k: float(v) for k, v in sorted(cfg.stage_hours.items())}
    return json.dumps({"derivation": DERIVATION, **limits})


DEFAULT_CFG = EvalConfig(stage_hours=DEFAULT_STAGE_HOURS)
DEFAULT_FINGERPRINT = fingerprint(DEFAULT_CFG)


def usable(session: Session, cfg: EvalConfig) -> bool:
    """Whether the stored facts answer an evaluation with these limits."""
    if fingerprint(cfg) != DEFAULT_FINGERPRINT:
        return False
    built = session.get(EvaluationState, FINGERPRINT_KEY)
    return built is not None and built.value == DEFAULT_FINGERPRINT


def mark_built(session: Session) -> None:
    """Record that the facts were built with the default limits."""
    row = session.get(EvaluationState, FINGERPRINT_KEY)
    if row is None:
        session.add(EvaluationState(key=FINGERPRINT_KEY, value=DEFAULT_FINGERPRINT))
    else:
        row.value, row.updated_at = DEFAULT_FINGERPRINT, utcnow()


def grid_key(grid_id: int | None, unit_grid_id: int | None) -> str | None:
    # an area counts a case in its social grid, else its unit grid (as the window query does)
    gid = grid_id if grid_id is not None else unit_grid_id
    return str(gid) if gid is not None else None


# the only events whose payload the facts read (hours of an extension, a rating, the
# departments a dispatch or rework starts): parsing every payload's JSON was a fifth of a
# rebuild's time
WITH_PAYLOAD = ("request_extension", "approve_extension", "rate", "dispatch", "check_fail")


def event_columns() -> tuple[Any, ...]:
    """Return the columns of `case_events` the evaluation reads (named as on `CaseEvent`)."""
    e = CaseEvent
    return (
        e.id, e.case_id, e.at, e.action, e.actor_id, e.role, e.from_state, e.to_state, e.part,
        e.deadline, e.part_deadline,
        sql_case((e.action.in_(WITH_PAYLOAD), e.payload)).label("payload"),
    )  # fmt: skip


def event_row(e: Any, source: str, grid: str | None, community: str | None) -> EventRow:
    """Return what the evaluation reads of one event (a `CaseEvent`, or a row of
    `event_columns`) of a case with this source and place."""
    payload = e.payload
    return EventRow(
        id=e.id, case_id=e.case_id, at=e.at, action=e.action, actor_id=e.actor_id, role=e.role,
        from_state=e.from_state, to_state=e.to_state, part=e.part, deadline=e.deadline,
        part_deadline=e.part_deadline, hours=_hours(payload),
        rating=(payload or {}).get("rating"), departments=departments_of(e.action, payload),
        source=source, grid=grid, community=community,
    )  # fmt: skip


def _rows(events: list[EventRow], county: str) -> list[dict[str, Any]]:
    return [{**r, "county_code": county} for r in stored_facts_of_case(events, DEFAULT_CFG)]


def clock_rows(events: list[EventRow], county: str) -> list[dict[str, Any]]:
    """Return the `case_clock_facts` rows of one case: its clocks that outlive their deadline."""
    return [
        {k: s[k] for k in CLOCK_COLUMNS if k != "county_code"} | {"county_code": county}
        for s in clock_spans(events)
        if s["ends_at"] is None or s["ends_at"] > s["deadline"]
    ]


def refresh_case(session: Session, case: Case, new: CaseEvent | None = None) -> None:
    """Bring the facts of one case in step with its events (call after adding an event).

    `new` alone is enough for a case's first event (the report, which starts no counted
    clock): no reads then. Core statements, not ORM objects: this runs in every case action.
    """
    session.flush()
    table: Table = CaseEventFact.__table__  # type: ignore[assignment]  # a mapped Table
    grid = grid_key(case.grid_id, case.unit_grid_id)
    # the per-day rollups follow the facts: the case's contribution after minus before
    track = rollups.built(session)
    if new is not None and new.action == "report":
        row = event_row(new, case.source, grid, case.community_code)
        session.execute(insert(table), _rows([row], case.county_code))
        if track:
            rollups.add_event(session, new.id, new.at)
        return
    # Every read is bounded by the report's time: see `cases.models.events_of`.
    since = case.reported_at
    q = select(*event_columns()).where(*events_of(case))
    events = [event_row(v, case.source, grid, case.community_code) for v in session.execute(q)]
    ids = [case.id]
    before = rollups.contributions(session, case_ids=ids, since=since) if track else {}
    rows = _rows(events, case.county_code)
    if _sync(session, table, ("event_id",), case.id, since, rows) and track:
        rollups.add(session, rollups.contributions(session, case_ids=ids, since=since), before)
    _sync(
        session, CaseClockFact.__table__, ("event_id", "part"), case.id, since,
        clock_rows(events, case.county_code),
    )  # fmt: skip


def _sync(
    session: Session,
    table: Any,
    key: tuple[str, ...],
    case_id: int,
    since: datetime,
    rows: list[dict[str, Any]],
) -> bool:
    """Write the rows of one case (none before `since`, its report) that differ from the
    stored ones (matched by `key`); return whether any did."""
    mine = select(table).where(table.c.case_id == case_id, table.c.at >= since)
    have = {tuple(r[k] for k in key): r for r in session.execute(mine).mappings()}
    fresh = []
    wrote = False
    for row in rows:
        old = have.pop(tuple(row[k] for k in key), None)
        if old is None:
            fresh.append(row)
            continue
        changed = {k: v for k, v in row.items() if _differs(old[k], v)}
        if changed:
            session.execute(update(table).where(*_match(table, old, key)).values(**changed))
            wrote = True
    if fresh:
        session.execute(insert(table), fresh)
    for old in have.values():  # events never go away; a rebuilt case might
        session.execute(delete(table).where(*_match(table, old, key)))
    return wrote or bool(fresh) or bool(have)


def _match(table: Any, row: Any, key: tuple[str, ...]) -> list[Any]:
    return [table.c[k].is_(None) if row[k] is None else table.c[k] == row[k] for k in key]


def _hours(payload: dict[str, Any] | None) -> float | None:
    hours = (payload or {}).get("hours")
    return float(hours) if isinstance(hours, int | float) else None


def cases_moved(session: Session, case_ids: list[int]) -> None:
    """Let the facts follow cases a re-division moved to other grids."""
    c = Case.__table__
    grid = select(cast(func.coalesce(c.c.grid_id, c.c.unit_grid_id), String(20)))
    community = select(c.c.community_code)
    track = rollups.built(session)
    tables: tuple[Table, ...] = (CaseEventFact.__table__, CaseClockFact.__table__)  # type: ignore[assignment]
    for f in tables:
        for i in range(0, len(case_ids), 5_000):
            ids = case_ids[i : i + 5_000]
            before = rollups.contributions(session, case_ids=ids) if track else {}
            session.execute(
                update(f)
                .where(f.c.case_id.in_(ids))
                .values(
                    grid=grid.where(c.c.id == f.c.case_id).scalar_subquery(),
                    community=community.where(c.c.id == f.c.case_id).scalar_subquery(),
                )
            )
            if track and f is CaseEventFact.__table__:
                rollups.add(session, rollups.contributions(session, case_ids=ids), before)


def _by_case(
    session: Session, county: str | None, batch: int, case_ids: list[int] | None = None
) -> Iterator[list[tuple[EventRow, str]]]:
    # plain columns, not ORM objects: a rebuild streams millions of events
    q = (
        select(*event_columns(), Case.source, Case.county_code, Case.grid_id, Case.unit_grid_id,
               Case.community_code)
        .join(Case, Case.id == CaseEvent.case_id)
        .order_by(CaseEvent.case_id, CaseEvent.id)
        .execution_options(yield_per=batch)
    )  # fmt: skip
    if county:
        q = q.where(Case.county_code == county)
    if case_ids is not None:
        q = q.where(CaseEvent.case_id.in_(case_ids))
    chunk: list[tuple[EventRow, str]] = []
    last = None
    for row in session.execute(q):
        if last is not None and row.case_id != last and len(chunk) >= batch:
            yield chunk
            chunk = []
        place = grid_key(row.grid_id, row.unit_grid_id), row.community_code
        chunk.append((event_row(row, row.source, *place), row.county_code))
        last = row.case_id
    if chunk:
        yield chunk


def _per_case(
    events: Iterable[tuple[EventRow, str]],
) -> Iterator[tuple[list[EventRow], str]]:
    case: list[EventRow] = []
    county = ""
    for e, cc in events:
        if case and e.case_id != case[0].case_id:
            yield case, county
            case = []
        case.append(e)
        county = cc
    if case:
        yield case, county


def fact_rows(events: Iterable[tuple[EventRow, str]]) -> Iterator[dict[str, Any]]:
    """Return the fact rows of (event, county) pairs ordered by case."""
    for case, county in _per_case(events):
        yield from _rows(case, county)


def clock_fact_rows(events: Iterable[tuple[EventRow, str]]) -> Iterator[dict[str, Any]]:
    """Return the clock rows of (event, county) pairs ordered by case."""
    for case, county in _per_case(events):
        yield from clock_rows(case, county)


def rebuild(
    session: Session,
    *,
    county: str | None = None,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
    jobs: int = 2,
) -> int:
    """Recompute every fact, then the rollups, from the events; return the fact rows. The
    database derives them (`stored_sql`), `batch` cases at a time (`progress` gets the cases
    of each batch): no row travels to Python. The whole of a PostgreSQL database is derived
    by `jobs` connections into fresh tables swapped in by the caller's transaction
    (`rebuild_pg`); otherwise everything happens in the caller's transaction.
    """
    if session.get_bind().dialect.name == "postgresql" and not county:
        n = rebuild_pg.rebuild_facts(session, batch=batch, jobs=jobs, progress=progress)
        mark_built(session)
        return n
    for model in (CaseEventFact, CaseClockFact):
        rollups.clear(session, model, county)
    dialect = rollups.for_bulk(session)
    events = text(stored_sql.event_facts_sql(dialect, DEFAULT_CFG, county=bool(county)))
    clocks = text(stored_sql.clock_facts_sql(dialect, county=bool(county)))
    ids = select(Case.id).order_by(Case.id)
    if county:
        ids = ids.where(Case.county_code == county)
    n = 0
    for lo, hi, cases in rebuild_pg.case_ranges(session, ids, batch):
        args = {"lo": lo, "hi": hi} | ({"county": county} if county else {})
        n += session.execute(events, args).rowcount  # type: ignore[attr-defined]
        session.execute(clocks, args)
        if progress:
            progress(cases)
    mark_built(session)
    rollups.rebuild(session, county=county)
    return n


def rebuild_rollups(session: Session, *, county: str | None = None, jobs: int = 2) -> int:
    """Recompute the rollups from the stored facts (`wangge eval rebuild-rollups`); return
    the rows. The whole of a PostgreSQL database is summed by `jobs` connections."""
    if session.get_bind().dialect.name == "postgresql" and not county:
        return rebuild_pg.rebuild_rollups(session, batch=50_000, jobs=jobs)
    return rollups.rebuild(session, county=county)


def stale_cases(
    session: Session,
    *,
    county: str | None = None,
    limit: int = 20,
    case_ids: list[int] | None = None,
) -> list[int]:
    """Return cases whose stored facts differ from a recomputation (for `wangge check`), of
    all cases or of `case_ids`."""
    out: list[int] = []
    for chunk in _by_case(session, county, 5_000, case_ids):
        ids = {e.case_id for e, _ in chunk}
        for case_id in [
            *_differing(session, CaseEventFact, fact_rows(chunk), ("event_id",), ids),
            *_differing(session, CaseClockFact, clock_fact_rows(chunk), ("event_id", "part"), ids),
        ]:
            if case_id not in out:
                out.append(case_id)
        if len(out) >= limit:
            break
    return out[:limit]


_Fact = TypeVar("_Fact", CaseEventFact, CaseClockFact)


def _differing(
    session: Session,
    model: type[_Fact],
    rows: Iterable[dict[str, Any]],
    key: tuple[str, ...],
    ids: set[int],
) -> list[int]:
    """Return the cases among `ids` whose stored rows of `model` differ from `rows`."""
    have: dict[tuple[Any, ...], _Fact] = {
        tuple(getattr(f, k) for k in key): f
        for f in session.scalars(select(model).where(model.case_id.in_(ids)))
    }
    out = []
    for row in rows:
        f = have.pop(tuple(row[k] for k in key), None)
        if f is None or any(_differs(getattr(f, k), v) for k, v in row.items()):
            out.append(row["case_id"])
    return out + [f.case_id for f in have.values()]


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs((a - b).total_seconds()) > 1e-3
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) > 1e-3
    return bool(a != b)


__all__ = ["COLUMNS", "cases_moved", "rebuild", "refresh_case", "stale_cases", "usable"]
