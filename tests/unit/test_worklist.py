"""Work queues read off the transitions table, and the hours a case runs late."""

from __future__ import annotations

from datetime import datetime

from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Case
from wangge.cases.timing import overdue_hours
from wangge.cases.vocabulary import Action, CaseState, Role
from wangge.cases.workflow import TRANSITIONS
from wangge.cases.worklist import QUEUE_ACTIONS, WORK, queues_of

S, A, R = CaseState, Action, Role
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def states(role: Role, queue: str) -> set[CaseState]:
    work = WORK[role][queue]
    return {s for found in (*work.case.values(), *work.part.values()) for s in found}


def test_the_acceptor_checks_handled_cases_and_not_those_with_the_supervisor():
    assert states(R.ACCEPTOR, "to_check") == {S.HANDLED}
    assert states(R.SUPERVISOR, "to_check") == {S.CHECKING}


def test_a_department_signs_for_new_and_reworked_parts_before_it_handles_them():
    assert queues_of(frozenset({R.DEPARTMENT})) == ["to_sign", "in_progress"]
    assert states(R.DEPARTMENT, "to_sign") == {S.DISPATCHED, S.REWORK}
    assert states(R.DEPARTMENT, "in_progress") == {S.IN_PROGRESS}
    assert WORK[R.DEPARTMENT]["to_sign"].case == {}  # part-level rows: his own part's state


def test_every_queue_state_comes_from_a_row_of_the_table_for_one_of_its_actions():
    for role, queues in WORK.items():
        for queue, work in queues.items():
            for action, found in (*work.case.items(), *work.part.items()):
                assert action in QUEUE_ACTIONS[queue]
                for state in found:
                    assert role in TRANSITIONS[(state, action)].roles, (role, queue, state)


def test_watching_posts_have_no_queue():
    assert queues_of(frozenset({R.LEADER, R.CITIZEN})) == []
    assert not any(A.URGE in actions or A.ESCALATE in actions for actions in QUEUE_ACTIONS.values())


def _case(**kw) -> Case:
    fields = {"state": "reported", "urgent": False, "promise": None, "solve_due": None}
    return Case(**{"respond_due": None, **fields, **kw})


def test_hours_overdue_count_working_hours_unless_the_clock_runs_around_the_clock():
    friday_17 = datetime(2026, 11, 27, 17, 0, tzinfo=SHANGHAI)
    working = overdue_hours(_case(deadline=friday_17), MONDAY_10)
    assert 0 < working < 5  # the weekend does not count
    midnight = datetime(2026, 11, 30, 0, 0, tzinfo=SHANGHAI)
    assert overdue_hours(_case(deadline=midnight, urgent=True), MONDAY_10) == 10.0
    assert overdue_hours(_case(deadline=MONDAY_10), MONDAY_10) is None
    closed = _case(deadline=friday_17)
    closed.state = "closed"
    assert overdue_hours(closed, MONDAY_10) is None
