"""Keeping `case_event_facts` in step with the event log, and rebuilding it from scratch.

Facts are derived with the default stage limits (`DEFAULT_STAGE_HOURS`); the limits they were
built with are kept in `evaluation_state`, and an evaluation with other limits (or after the
defaults changed without a rebuild) reads the events instead — slower, never wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from wangge.cases.models import Case, CaseEvent
from wangge.common.models import utcnow
from wangge.evaluation.facts import EventRow, stored_facts_of_case
from wangge.evaluation.indicators import DEFAULT_STAGE_HOURS, EvalConfig
from wangge.evaluation.models import CaseEventFact, EvaluationState

FINGERPRINT_KEY = "facts.stage_hours"
COLUMNS = [c.name for c in CaseEventFact.__table__.columns]


def fingerprint(cfg: EvalConfig) -> str:
    """The stage limits as canonical JSON (what the stored facts depend on)."""
    return json.dumps({k: float(v) for k, v in sorted(cfg.stage_hours.items())})


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


def _grid(grid_id: int | None, unit_grid_id: int | None) -> str | None:
    # an area counts a case in its social grid, else its unit grid (as the window query does)
    gid = grid_id if grid_id is not None else unit_grid_id
    return str(gid) if gid is not None else None


def event_row(e: CaseEvent, case: Case) -> EventRow:
    """Return what the evaluation reads of one stored event of a case."""
    return EventRow(
        id=e.id, case_id=e.case_id, at=e.at, action=e.action, actor_id=e.actor_id,
        role=e.role, from_state=e.from_state, part=e.part, hours=_hours(e.payload),
        rating=(e.payload or {}).get("rating"), source=case.source,
        grid=_grid(case.grid_id, case.unit_grid_id), community=case.community_code,
    )  # fmt: skip


def _rows(events: list[EventRow], county: str) -> list[dict[str, Any]]:
    return [{**r, "county_code": county} for r in stored_facts_of_case(events, DEFAULT_CFG)]


def refresh_case(session: Session, case: Case, new: CaseEvent | None = None) -> None:
    """Bring the facts of one case in step with its events (call after adding an event).

    `new` alone is enough for a case's first event (the report): no reads then. Core
    statements, not ORM objects: this runs in every case action.
    """
    session.flush()
    table = CaseEventFact.__table__
    if new is not None and new.action == "report":
        session.execute(insert(table), _rows([event_row(new, case)], case.county_code))
        return
    e = CaseEvent
    q = select(
        e.id, e.at, e.action, e.actor_id, e.role, e.from_state, e.part,
        sql_case((e.action.in_(WITH_PAYLOAD), e.payload)),
    ).where(e.case_id == case.id)  # fmt: skip
    grid = _grid(case.grid_id, case.unit_grid_id)
    events = []
    for eid, at, action, actor, role, frm, part, payload in session.execute(q):
        events.append(
            EventRow(
                id=eid,
                case_id=case.id,
                at=at,
                action=action,
                actor_id=actor,
                role=role,
                from_state=frm,
                part=part,
                hours=_hours(payload),
                rating=(payload or {}).get("rating"),
                source=case.source,
                grid=grid,
                community=case.community_code,
            )
        )
    have = {
        r["event_id"]: r
        for r in session.execute(select(table).where(table.c.case_id == case.id)).mappings()
    }
    fresh = []
    for row in _rows(events, case.county_code):
        old = have.pop(row["event_id"], None)
        if old is None:
            fresh.append(row)
            continue
        changed = {k: v for k, v in row.items() if _differs(old[k], v)}
        if changed:
            session.execute(
                update(table).where(table.c.event_id == row["event_id"]).values(**changed)
            )
    if fresh:
        session.execute(insert(table), fresh)
    if have:  # events never go away; a rebuilt case might
        session.execute(delete(table).where(table.c.event_id.in_(list(have))))


def _hours(payload: dict[str, Any] | None) -> float | None:
    hours = (payload or {}).get("hours")
    return float(hours) if isinstance(hours, int | float) else None


def cases_moved(session: Session, case_ids: list[int]) -> None:
    """Let the facts follow cases a re-division moved to other grids."""
    c = Case.__table__
    f = CaseEventFact.__table__
    grid = select(cast(func.coalesce(c.c.grid_id, c.c.unit_grid_id), String(20)))
    community = select(c.c.community_code)
    for i in range(0, len(case_ids), 5_000):
        ids = case_ids[i : i + 5_000]
        session.execute(
            update(f)
            .where(f.c.case_id.in_(ids))
            .values(
                grid=grid.where(c.c.id == f.c.case_id).scalar_subquery(),
                community=community.where(c.c.id == f.c.case_id).scalar_subquery(),
            )
        )


# the only events whose payload the facts read (hours of an extension, a rating): parsing
# every payload's JSON was a fifth of a rebuild's time
WITH_PAYLOAD = ("request_extension", "approve_extension", "rate")


def _by_case(session: Session, county: str | None, batch: int) -> Iterator[list[tuple]]:
    # plain columns, not ORM objects: a rebuild streams millions of events
    e = CaseEvent
    q = (
        select(e.id, e.case_id, e.at, e.action, e.actor_id, e.role, e.from_state, e.part,
               sql_case((e.action.in_(WITH_PAYLOAD), e.payload)), Case.source, Case.county_code,
               Case.grid_id, Case.unit_grid_id, Case.community_code)
        .join(Case, Case.id == e.case_id)
        .order_by(e.case_id, e.id)
        .execution_options(yield_per=batch)
    )  # fmt: skip
    if county:
        q = q.where(Case.county_code == county)
    chunk: list[tuple] = []
    last = None
    for row in session.execute(q):
        eid, case_id, at, action, actor, role, frm, part, payload, source, cc, g, u, com = row
        if last is not None and case_id != last and len(chunk) >= batch:
            yield chunk
            chunk = []
        event = EventRow(
            id=eid, case_id=case_id, at=at, action=action, actor_id=actor, role=role,
            from_state=frm, part=part,
            hours=_hours(payload), rating=(payload or {}).get("rating"), source=source,
            grid=_grid(g, u), community=com,
        )  # fmt: skip
        chunk.append((event, cc))
        last = case_id
    if chunk:
        yield chunk


def fact_rows(events: Iterable[tuple[EventRow, str]]) -> Iterator[dict[str, Any]]:
    """Return the fact rows of (event, county) pairs ordered by case."""
    case: list[EventRow] = []
    county = ""
    for e, cc in events:
        if case and e.case_id != case[0].case_id:
            yield from _rows(case, county)
            case = []
        case.append(e)
        county = cc
    if case:
        yield from _rows(case, county)


def rebuild(
    session: Session,
    *,
    county: str | None = None,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
    writer: Callable[[Session, list[dict[str, Any]]], None] | None = None,
) -> int:
    """Recompute every fact from the events (in the caller's transaction); return the rows.

    `writer` replaces the bulk INSERT (the benchmark passes a COPY writer for PostgreSQL).
    """
    q = delete(CaseEventFact)
    if county:
        q = q.where(CaseEventFact.county_code == county)
    session.execute(q)
    write = writer or (lambda s, rows: s.execute(insert(CaseEventFact), rows))
    n = 0
    for chunk in _by_case(session, county, batch):
        rows = list(fact_rows(chunk))
        write(session, rows)
        n += len(rows)
        if progress:
            progress(len(chunk))
    mark_built(session)
    return n


def stale_cases(session: Session, *, county: str | None = None, limit: int = 20) -> list[int]:
    """Return cases whose stored facts differ from a recomputation (for `wangge check`)."""
    out: list[int] = []
    for chunk in _by_case(session, county, 5_000):
        wanted = list(fact_rows(chunk))
        ids = {r["case_id"] for r in wanted}
        have = {
            f.event_id: f
            for f in session.scalars(select(CaseEventFact).where(CaseEventFact.case_id.in_(ids)))
        }
        for row in wanted:
            f = have.get(row["event_id"])
            bad = f is None or any(_differs(getattr(f, k), v) for k, v in row.items())
            if bad and row["case_id"] not in out:
                out.append(row["case_id"])
        if len(out) >= limit:
            break
    return out[:limit]


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs((a - b).total_seconds()) > 1e-3
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) > 1e-3
    return bool(a != b)


def _register() -> None:
    from wangge.grids.versions import LOCATED

    for spec in LOCATED:
        if spec.model is Case and cases_moved not in spec.on_moved:
            spec.on_moved.append(cases_moved)


_register()

__all__ = ["COLUMNS", "rebuild", "refresh_case", "stale_cases", "usable"]
