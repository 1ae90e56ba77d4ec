"""Open clocks and recorded deadlines on SQLite and PostgreSQL (issue 16): the stored facts,
the window query and the pure reference agree on generated histories; migration 0018 fills in
the clocks that open cases show, so a case already stuck is counted from the upgrade on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text

from tests.case_factories import (
    CGW,
    HANDLER,
    LEADER,
    OTHER_HANDLER,
    SZSR,
    T0,
    build_world,
    do,
    report,
    to_dispatched,
)
from tests.conftest import scratch_pg
from tests.evaluation_factories import generated_rows, store_rows
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Case, CaseEvent
from wangge.cases.store import parts_of
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import alembic_config, downgrade, upgrade
from wangge.evaluation import facts, service, stored
from wangge.evaluation.periods import parse_period
from wangge.grids.models import Grid

PERIODS = ("2026-10", "2026-11", "2026-12", "2026-11-15..2026-11-20", "2026-Q4")


def test_stored_facts_window_query_and_pure_reference_agree_on_generated_histories(session):
    build_world(session)
    grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
    store_rows(session, generated_rows(), grid)
    assert stored.usable(session, stored.DEFAULT_CFG) and stored.stale_cases(session) == []
    for label in PERIODS:
        p = parse_period(label)
        pure = facts.count(service.load_events(session, p.start, p.end), p.start, p.end)
        assert service.count_period(session, p.start, p.end) == facts.as_counts(pure), label
        events = service.count_period(session, p.start, p.end, from_events=True)
        assert events == facts.as_counts(pure), label
    nov = parse_period("2026-11")
    counts = service.count_period(session, nov.start, nov.end)
    assert sum(d["overdue_open"] for d in counts["department"].values()) > 3
    # every open count drills down to as many cases
    for group in ("department", "community", "supervisor"):
        for key, cs in counts[group].items():
            for name in facts.OPEN_COUNTS[group]:
                got = service.drill(session, nov, group, key, name)["numerator"]["cases"]
                assert len(got) == cs[name], (group, key, name)


def test_a_joint_case_counts_each_department_that_runs_past_its_own_deadline(session):
    build_world(session)
    case = report(session, at=T0)
    to_dispatched(session, case, at=T0, assisting=[SZSR])
    do(session, case, "department_accept", HANDLER, T0 + timedelta(hours=1))
    do(session, case, "department_accept", OTHER_HANDLER, T0 + timedelta(hours=1))
    do(session, case, "feed_back", HANDLER, T0 + timedelta(hours=2), photos=["photo://after"])
    p = parse_period("2026-11")
    counts = service.count_period(session, p.start, p.end)
    # the lead fed back in time; the assisting department is still working, past its deadline
    assert counts["department"][CGW]["handled_on_time"] == 1
    assert counts["department"][CGW]["overdue_open"] == 0
    assert (
        counts["department"][SZSR] | {"to_handle": 1, "overdue_open": 1}
        == counts["department"][SZSR]
    )
    assert counts["department"][SZSR]["overdue_carried"] == 0  # already in its 应处置数
    # a rework names the departments it sends back, so their new clocks are known
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert {e.action: e.part_deadline for e in events if e.part}["feed_back"] == (
        parts_of(session, case.id)[0].deadline
    )


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def own_engine(request, tmp_path, worker_id) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A database of this test's own, which it may take down and up through migrations."""
    if request.param == "postgis":
        yield from scratch_pg(worker_id, "m18")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    yield engine
    engine.dispose()


def test_upgrading_fills_in_the_clocks_open_cases_show_and_leaves_the_past_alone(own_engine):
    engine = own_engine
    upgrade(engine)
    october = datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI)
    with unit_of_work(session_factory(engine)) as s:
        build_world(s)
        stuck = report(s, at=october)
        to_dispatched(s, stuck, at=october)  # never received
        do(s, stuck, "urge", LEADER, october + timedelta(days=3), note="请尽快处置")
        working = report(s, at=october)
        to_dispatched(s, working, at=october)
        do(s, working, "department_accept", HANDLER, october + timedelta(hours=1))
        done = report(s, at=october)
        to_dispatched(s, done, at=october)
        do(s, done, "department_accept", HANDLER, october + timedelta(hours=1))
        do(s, done, "feed_back", HANDLER, october + timedelta(hours=2), photos=["photo://a"])
        ids = {"stuck": stuck.id, "working": working.id, "done": done.id}
        shown = {k: s.get(Case, v).deadline for k, v in ids.items()}
        part_due = parts_of(s, working.id)[0].deadline
    with engine.begin() as conn:  # a database from before 0018: nothing recorded
        conn.execute(text("UPDATE case_events SET deadline = NULL, part_deadline = NULL"))
    before = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0018").down_revision
    downgrade(engine, str(before))
    upgrade(engine)
    with session_factory(engine)() as s:

        def recorded(case_id: int) -> list[tuple[str, datetime | None, datetime | None]]:
            q = select(CaseEvent.action, CaseEvent.deadline, CaseEvent.part_deadline).where(
                CaseEvent.case_id == case_id
            )
            return list(s.execute(q.order_by(CaseEvent.at, CaseEvent.id)))

        stuck_events = recorded(ids["stuck"])
        # the latest event shows the case's clock; the dispatch, its department's
        assert stuck_events[-1][:2] == ("urge", shown["stuck"])
        assert stuck_events[-2][:2] == ("dispatch", shown["stuck"])
        assert all(d is None for _, d, _ in stuck_events[:-2])  # the past stays unrecorded
        working_events = recorded(ids["working"])
        assert working_events[-1] == ("department_accept", shown["working"], part_due)
        # a case past handling: only its current stage clock
        assert [d is not None for _, d, _ in recorded(ids["done"])].count(True) == 1
        # facts built by the older derivation are not used until they are derived again
        assert not stored.usable(s, stored.DEFAULT_CFG)
        nov = parse_period("2026-11")
        late = service.count_period(s, nov.start, nov.end)
        assert late["department"][CGW]["overdue_open"] == 2  # the stuck and the working case
        assert late["department"][CGW]["overdue_carried"] == 2
        stored.rebuild(s)
        assert stored.usable(s, stored.DEFAULT_CFG)
        assert service.count_period(s, nov.start, nov.end) == late
        s.commit()
