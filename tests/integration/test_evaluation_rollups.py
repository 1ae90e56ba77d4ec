"""Per-day evaluation rollups (issue 16 items 6-7) on SQLite and PostgreSQL: kept in step
event by event by the case service, they give the same counts as the stored facts and as the
pure reference for every period of whole days; a rebuild and a compaction change nothing; a
re-division moves them with the cases; concurrent actions never wait on a hot rollup row."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.evaluation_factories import COMMUNITY, generated_rows, payload_of
from wangge.cases.models import Case, CaseEvent
from wangge.evaluation import facts, rollups, service, stored
from wangge.evaluation.facts import EventRow
from wangge.evaluation.periods import parse_period
from wangge.evaluation.rollup_models import COUNT_COLUMNS, EvaluationRollup
from wangge.grids.models import Grid

PERIODS = ("2026-10", "2026-11", "2026-12", "2026-11-15..2026-11-20", "2026-10-20..2026-12-05",
           "2026-Q4")  # fmt: skip


def _store_event_by_event(session: Session, rows: list[EventRow], grid_id: int | None) -> None:
    """Write the histories as the case service does: one event at a time, all cases
    interleaved in time order, the facts (and rollups) refreshed after each event."""
    cases: dict[int, Case] = {}
    for r in sorted(rows, key=lambda r: (r.at, r.id)):
        case = cases.get(r.case_id)
        if case is None:
            case = Case(
                county_code="110108", category_code="E0102", source=r.source,
                description="生成", lon=116.3, lat=39.9, grid_id=grid_id,
                community_code=COMMUNITY, state=r.to_state, reporter_id=r.actor_id,
                reporter_role=r.role, reported_at=r.at, handler_ids=[], photos=[],
                code=f"ROLL-{r.case_id}",
            )  # fmt: skip
            session.add(case)
            session.flush()
            cases[r.case_id] = case
        event = CaseEvent(
            case_id=case.id, county_code="110108", action=r.action, actor_id=r.actor_id,
            role=r.role, at=r.at, from_state=None, to_state=r.to_state, part=r.part,
            attachments=[], payload=payload_of(r), deadline=r.deadline,
            part_deadline=r.part_deadline,
        )  # fmt: skip
        session.add(event)
        session.flush()
        stored.refresh_case(session, case, event)


def _table(session: Session) -> dict[tuple, list[int]]:
    """Return the rollup table summed per (span, county, day, eff_day, object type, key)."""
    t = EvaluationRollup.__table__
    keys = (t.c.span, t.c.county_code, t.c.day, t.c.eff_day, t.c.object_type, t.c.key)
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNT_COLUMNS))
    for row in session.execute(select(*keys, *(t.c[c] for c in COUNT_COLUMNS))):
        k = tuple(row[:6])
        out[k] = [a + b for a, b in zip(out[k], row[6:], strict=True)]
    return {k: v for k, v in out.items() if any(v)}


def _assert_same_counts(session: Session) -> None:
    for label in PERIODS:
        p = parse_period(label)
        pure = facts.as_counts(
            facts.count(service.load_events(session, p.start, p.end), p.start, p.end)
        )
        by_days = service.count_period(session, p.start, p.end)
        by_facts = service.count_period(session, p.start, p.end, use_rollups=False)
        assert by_days == by_facts == pure, label
    # the figures read from the rollups are the ones the window query derives from events
    nov = parse_period("2026-11")
    assert service.count_period(session, nov.start, nov.end) == service.count_period(
        session, nov.start, nov.end, from_events=True
    )


def _grid(session: Session) -> int:
    from tests.case_factories import build_world

    build_world(session)
    return session.scalars(select(Grid.id).order_by(Grid.id)).first()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_rollups_kept_event_by_event_count_like_the_facts_and_the_pure_reference(session, seed, n):
    """Random histories (reworks, extensions, suspensions, returns, stuck cases, events at
    midnight): rollups == stored facts == pure reference for months, a quarter and days."""
    savepoint = session.begin_nested()
    try:
        assert rollups.built(session)  # an empty database has all its rollups
        if session.scalar(select(Grid.id).limit(1)) is None:
            _grid(session)
        grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
        _store_event_by_event(session, generated_rows(seed=seed, n=n, grid=str(grid)), grid)
        _assert_same_counts(session)
        kept = _table(session)
        assert rollups.compact(session) >= 0
        assert _table(session) == kept  # a compaction only merges rows
        rollups.rebuild(session)
        assert _table(session) == kept  # deltas kept in step == a rebuild from the facts
        assert rollups.stale_days(session) == []
    finally:
        savepoint.rollback()


def test_a_compaction_leaves_one_row_per_day_and_object_and_the_same_figures(session):
    grid = _grid(session)
    _store_event_by_event(session, generated_rows(grid=str(grid)), grid)
    t = EvaluationRollup.__table__
    n_before = session.scalar(select(text("count(*)")).select_from(t))
    removed = rollups.compact(session)
    assert removed > 0
    assert session.scalar(select(text("count(*)")).select_from(t)) == n_before - removed
    keys = (t.c.span, t.c.county_code, t.c.day, t.c.eff_day, t.c.object_type, t.c.key)
    dup = session.execute(select(*keys).group_by(*keys).having(text("count(*) > 1"))).all()
    assert dup == []
    assert rollups.compact(session) == 0  # nothing new since
    _assert_same_counts(session)


def test_the_rollups_follow_a_case_that_a_re_division_moves(session):
    grid = _grid(session)
    other = session.scalars(select(Grid.id).order_by(Grid.id.desc())).first()
    assert other != grid
    _store_event_by_event(session, generated_rows(n=30, grid=str(grid)), grid)
    moved = session.scalars(select(Case.id).order_by(Case.id).limit(10)).all()
    session.execute(update(Case).where(Case.id.in_(moved)).values(grid_id=other))
    stored.cases_moved(session, list(moved))
    nov = parse_period("2026-11")
    counts = service.count_period(session, nov.start, nov.end)
    assert str(other) in counts["grid"]
    _assert_same_counts(session)
    kept = _table(session)
    rollups.rebuild(session)
    assert _table(session) == kept


def test_a_day_that_is_not_whole_is_counted_from_the_facts(session):
    grid = _grid(session)
    rows = generated_rows(n=30, grid=str(grid))
    _store_event_by_event(session, rows, grid)
    nov = parse_period("2026-11")
    for end in (nov.end - timedelta(hours=5), nov.end + timedelta(minutes=1)):
        assert rollups.count_days(session, nov.start, end) is None
        pure = facts.count(service.load_events(session, nov.start, end), nov.start, end)
        assert service.count_period(session, nov.start, end) == facts.as_counts(pure)


def test_the_commands_rebuild_and_compact_the_rollups(tmp_path):
    from wangge.cli import app
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade

    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as s:
        grid = _grid(s)
        _store_event_by_event(s, generated_rows(n=20, grid=str(grid)), grid)
        s.execute(text("DELETE FROM evaluation_rollups"))
        s.commit()
        nov = parse_period("2026-11")
        emptied = service.count_period(s, nov.start, nov.end)["department"].values()
        assert sum(c["to_handle"] for c in emptied) == 0  # the figures read the rollups
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "rebuild-rollups", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert "条考核日汇总" in res.output
    res = runner.invoke(app, ["eval", "compact-rollups", "--database-url", url])
    assert res.exit_code == 0 and "rollup rows merged" in res.output, res.output
    with session_factory(engine)() as s:
        _assert_same_counts(s)
        assert rollups.stale_days(s) == []
        s.execute(
            text(
                "UPDATE evaluation_rollups SET c1 = c1 + 1 WHERE id = (SELECT min(id) FROM evaluation_rollups)"
            )
        )
        s.commit()
    res = runner.invoke(app, ["check", "--database-url", url], catch_exceptions=False)
    assert "110108 区县 2026-" in res.output and "考核日汇总与考核事实不一致" in res.output


@pytest.mark.postgis
def test_two_actions_on_the_same_day_and_dispatcher_do_not_wait_for_each_other(pg_engine):
    """The rollups take inserts only: a transaction holding its deltas for one day and one
    dispatcher does not block another writing to the same day and dispatcher (an UPDATE of
    a per-day row would wait here until the first commits)."""
    from datetime import date

    from wangge.db import session_factory

    key = ("110108", date(2026, 11, 3), date(2026, 11, 3), "dispatcher", "disp1")
    delta = {key: [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]}
    factory = session_factory(pg_engine)
    first, second = factory(), factory()
    try:
        rollups.add(first, delta)
        first.flush()  # holds its new row, uncommitted
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        rollups.add(second, delta)
        second.flush()  # LockNotAvailable if it had to wait for the first
        got = second.scalar(
            select(text("sum(c1)"))
            .select_from(EvaluationRollup.__table__)
            .where(EvaluationRollup.key == "disp1", EvaluationRollup.day == key[1])
        )
        assert got == 1  # its own delta; the first's is not committed
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
