"""Two connections race to dispatch the same case: one wins, the other gets a Conflict.

This test commits for real (the other connection must see the case), so it works in a county
of its own and removes everything it wrote, restoring the audit chain's head.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.case_factories import T0, person
from wangge.audit.models import AuditEntry
from wangge.cases.categories import seed_categories
from wangge.cases.models import (
    Case,
    CaseEvent,
    CasePart,
    CaseReporter,
    Category,
    OutboxMessage,
)
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.service import act
from wangge.departments.models import Department
from wangge.errors import Conflict
from wangge.evaluation.rollup_models import EvaluationRollup

COUNTY = "990001"
DEPT_A, DEPT_B = f"{COUNTY}-CGW", f"{COUNTY}-SZSR"
SUPERVISOR = person(101, "supervisor", scope={COUNTY})
ACCEPTOR = person(102, "acceptor", scope={COUNTY})
SHIFT = person(103, "shift_leader", scope={COUNTY})
DISPATCHER = person(104, "dispatcher", scope={COUNTY})


@pytest.fixture
def committed_case(engine):
    with Session(engine) as s, s.begin():
        last_entry = s.scalar(select(func.max(AuditEntry.id))) or 0
        seeded = seed_categories(s) > 0
        s.add_all(
            [
                Department(code=DEPT_A, name="区城管委", county_code=COUNTY),
                Department(code=DEPT_B, name="区市政市容委", county_code=COUNTY),
            ]
        )
        s.flush()
        data = CaseIn(
            category_code="E0102", description="暴露垃圾", lon=0.5, lat=0.5, county_code=COUNTY
        )
        case = create_case(s, data, SUPERVISOR, now=T0)
        act(s, case.id, "accept", ACCEPTOR, expected_version=1, now=T0)
        act(s, case.id, "file", SHIFT, expected_version=2, now=T0)
        case_id = case.id
    yield case_id
    with Session(engine) as s, s.begin():
        ids = select(Case.id).where(Case.county_code == COUNTY)
        for model in (OutboxMessage, CaseEvent, CasePart, CaseReporter):
            s.execute(delete(model).where(model.case_id.in_(ids)))
        s.execute(delete(Case).where(Case.county_code == COUNTY))
        # the evaluation's day rollups are counts per county, not rows of a case: no cascade
        s.execute(delete(EvaluationRollup).where(EvaluationRollup.county_code == COUNTY))
        s.execute(delete(Department).where(Department.county_code == COUNTY))
        if seeded:
            s.execute(delete(Category))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last_entry))  # unsealed: no head moved


def _dispatch(
    engine,
    case_id: int,
    department: str,
    results: list,
    hold: float = 0.0,
    started: threading.Event | None = None,
) -> None:
    try:
        with Session(engine) as s, s.begin():
            act(
                s,
                case_id,
                "dispatch",
                DISPATCHER,
                expected_version=3,
                payload={"department": department},
                now=T0 + timedelta(hours=1),
            )
            if started is not None:
                started.set()
            time.sleep(hold)  # keep the winner's transaction open while the other writes
        results.append(("won", department))
    except Conflict as exc:
        results.append(("conflict", exc.code))
    finally:
        if started is not None:
            started.set()


def test_two_dispatchers_racing_on_one_case_give_one_winner_and_one_conflict(
    engine, committed_case
):
    results: list = []
    first_in = threading.Event()
    a = threading.Thread(
        target=_dispatch, args=(engine, committed_case, DEPT_A, results, 0.5, first_in)
    )
    a.start()
    assert first_in.wait(10)
    # The second dispatcher read version 3 too (the winner has not committed yet).
    b = threading.Thread(target=_dispatch, args=(engine, committed_case, DEPT_B, results))
    b.start()
    a.join(30)
    b.join(30)
    assert sorted(results) == [("conflict", "version_conflict"), ("won", DEPT_A)]
    with Session(engine) as s:
        parts = s.scalars(
            select(CasePart.department_code).where(CasePart.case_id == committed_case)
        ).all()
        dispatches = s.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == committed_case, CaseEvent.action == "dispatch"
            )
        ).all()
        version = s.scalar(select(Case.version).where(Case.id == committed_case))
    assert parts == [DEPT_A] and len(dispatches) == 1 and version == 4


def test_simultaneous_dispatches_never_both_succeed(engine, committed_case):
    results: list = []
    barrier = threading.Barrier(2)

    def go(dept: str) -> None:
        barrier.wait()
        _dispatch(engine, committed_case, dept, results)

    threads = [threading.Thread(target=go, args=(d,)) for d in (DEPT_A, DEPT_B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r[0] for r in results) == ["conflict", "won"]
