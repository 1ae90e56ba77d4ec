"""Stored stage deadlines, traffic lights and the idempotent overdue sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import (
    ACCEPTOR,
    COUNTY,
    DISPATCHER,
    GRID1,
    HANDLER,
    SHIFT,
    T0,
    build_world,
    do,
    report,
    to_dispatched,
)
from wangge.cases.deadlines import SHANGHAI, Light
from wangge.cases.models import AreaClassRule, CaseEvent, OutboxMessage
from wangge.cases.scheduled import sweep_overdue
from wangge.cases.store import parts_of
from wangge.cases.timing import light

H = timedelta(hours=1)


@pytest.fixture
def world(session):
    build_world(session)
    return session


def local(case_time: datetime) -> datetime:
    return case_time.astimezone(SHANGHAI)


def test_a_new_report_must_be_accepted_within_one_working_hour(world):
    case = report(world)
    assert case.stage == "accept"
    assert local(case.deadline) == T0 + H


def test_a_report_at_friday_evening_is_due_on_monday_morning(world):
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    case = report(world, at=friday_evening)
    assert local(case.deadline) == datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI)


def test_the_handling_deadline_depends_on_the_area_class(world):
    b_case = to_dispatched(world, report(world))
    world.add(AreaClassRule(county_code=COUNTY, prefix=GRID1, area_class="A"))
    world.flush()
    a_case = to_dispatched(world, report(world))
    assert a_case.area_class == "A" and b_case.area_class == "B"
    # E0102 暴露垃圾: A 8 working hours, B 16 working hours from Monday 09:00.
    assert local(parts_of(world, a_case.id)[0].deadline) == T0 + timedelta(days=1)
    assert local(parts_of(world, b_case.id)[0].deadline) == T0 + timedelta(days=2)
    assert a_case.deadline == parts_of(world, a_case.id)[0].deadline


def test_an_urgent_class_runs_around_the_clock(world):
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=SHANGHAI)
    case = report(world, category="E0401", at=friday_evening)  # 路面塌陷
    assert case.urgent
    to_dispatched(world, case, at=friday_evening)
    # B area: 4 hours on the wall clock, Saturday midnight.
    assert local(case.deadline) == friday_evening + 4 * H


def test_the_light_turns_yellow_then_red(world):
    case = to_dispatched(world, report(world))
    assert light(case, T0 + H) is Light.GREEN
    # 16 working hours: Wednesday 09:00. 80% used ≈ Tuesday 15:48.
    assert light(case, datetime(2026, 11, 24, 17, 0, tzinfo=SHANGHAI)) is Light.YELLOW
    assert light(case, datetime(2026, 11, 25, 9, 1, tzinfo=SHANGHAI)) is Light.RED


def test_a_closed_case_has_no_light(world):
    case = report(world)
    do(world, case, "reject_invalid", ACCEPTOR, T0, note="无效")
    assert light(case, T0 + 100 * H) is None


def test_the_sweep_escalates_an_overdue_case_exactly_once(world):
    case = to_dispatched(world, report(world))
    late = case.deadline + H
    first = sweep_overdue(world, late)
    assert first.escalated == [case.id]
    world.refresh(case)
    assert case.level == "street" and case.overdue_count == 1
    assert sweep_overdue(world, late).escalated == []
    assert sweep_overdue(world, late + 10 * H).escalated == []
    world.refresh(case)
    assert case.level == "street" and case.overdue_count == 1
    escalations = world.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "escalate")
    ).all()
    assert len(escalations) == 1 and escalations[0].payload["overdue"] is True


def test_the_sweep_leaves_cases_within_their_deadline_alone(world):
    case = to_dispatched(world, report(world))
    assert sweep_overdue(world, case.deadline - H).escalated == []


def test_a_new_missed_deadline_is_escalated_again(world):
    case = report(world)
    sweep_overdue(world, case.deadline + H)
    do(world, case, "accept", ACCEPTOR, case.deadline + H)
    world.refresh(case)
    assert case.level == "street" and case.stage == "file"
    report_ = sweep_overdue(world, case.deadline + H)
    assert report_.escalated == [case.id]
    world.refresh(case)
    assert case.level == "district" and case.overdue_count == 2


def test_at_district_level_the_sweep_urges_instead_and_tells_the_department(world):
    case = to_dispatched(world, report(world))
    do(world, case, "escalate", SHIFT, T0)
    do(world, case, "escalate", DISPATCHER, T0)
    result = sweep_overdue(world, case.deadline + H)
    assert result.urged == [case.id] and result.escalated == []
    # The sweep's own 督办 goes out as an overdue message (超期), not as a leader's urging.
    told = world.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.overdue")).one()
    assert told.recipient.endswith("CGW") and "超期（督办）" in told.body["title"]
    assert (
        world.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.urge")).all() == []
    )
    assert sweep_overdue(world, case.deadline + 2 * H).urged == []


def test_a_department_acting_meanwhile_is_not_overwritten_by_the_sweep(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0 + H)
    result = sweep_overdue(world, case.deadline + H)
    world.refresh(case)
    assert result.escalated == [case.id] and case.state == "in_progress"
