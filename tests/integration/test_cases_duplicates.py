"""Duplicate candidates and merging: every reporter stays on the surviving case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import (
    ACCEPTOR,
    CITIZEN,
    HANDLER,
    LAT,
    LON,
    T0,
    build_world,
    do,
    person,
    register_component,
    report,
    to_dispatched,
)
from wangge.cases.access import get_visible
from wangge.cases.duplicates import find_duplicates
from wangge.cases.models import CaseReporter, OutboxMessage
from wangge.cases.vocabulary import Source
from wangge.errors import ValidationFailed

H = timedelta(hours=1)
METRE = 1 / 111_320  # about one metre of latitude
NEIGHBOUR = person(20, "citizen", scope=set())


@pytest.fixture
def world(session):
    build_world(session)
    return session


def test_a_report_of_the_same_class_nearby_is_a_candidate(world):
    first = report(world)
    second = report(world, CITIZEN, at=T0 + H, lat=LAT + 20 * METRE, source=Source.ONLINE)
    found = find_duplicates(world, second.id, ACCEPTOR)
    assert [c.case.id for c in found] == [first.id]
    assert 15 < found[0].distance_m < 25


def test_another_class_or_a_far_place_or_an_old_report_is_not_a_candidate(world):
    report(world, category="E0104")
    report(world, lat=LAT + 200 * METRE)
    report(world, at=T0 - timedelta(days=5))
    new = report(world, at=T0 + H)
    assert find_duplicates(world, new.id, ACCEPTOR) == []


def test_the_distance_is_configurable(world):
    report(world, lat=LAT + 80 * METRE)
    new = report(world, at=T0 + H)
    assert find_duplicates(world, new.id, ACCEPTOR) == []
    assert len(find_duplicates(world, new.id, ACCEPTOR, radius_m=100)) == 1


def test_a_report_about_the_same_component_is_a_candidate_wherever_it_was_pinned(world):
    code = register_component(world)
    first = report(world, category="C0101", component_code=code)
    second = report(world, category="C0101", component_code=code, lon=LON + 300 * METRE, at=T0 + H)
    found = find_duplicates(world, second.id, ACCEPTOR)
    assert [c.case.id for c in found] == [first.id] and found[0].same_component


def test_a_closed_case_is_no_longer_a_candidate(world):
    first = report(world)
    do(world, first, "reject_invalid", ACCEPTOR, T0, note="无效")
    new = report(world, at=T0 + H)
    assert find_duplicates(world, new.id, ACCEPTOR) == []


def test_merging_keeps_every_reporter_and_all_are_told_at_closure(world):
    original = report(world)
    dup1 = report(world, CITIZEN, at=T0 + H, source=Source.ONLINE)
    dup2 = report(world, NEIGHBOUR, at=T0 + 2 * H, source=Source.HOTLINE)
    do(world, dup1, "reject_duplicate", ACCEPTOR, T0 + H, duplicate_of=original.id)
    do(world, dup2, "reject_duplicate", ACCEPTOR, T0 + 2 * H, duplicate_of=original.code)
    assert dup1.duplicate_of == original.id and dup1.state == "rejected"
    reporters = world.scalars(
        select(CaseReporter.reporter_id).where(CaseReporter.case_id == original.id)
    ).all()
    assert sorted(reporters) == sorted(["4", "8", "20"])
    to_dispatched(world, original, at=T0 + 2 * H)
    do(world, original, "department_accept", HANDLER, T0 + 3 * H)
    do(world, original, "feed_back", HANDLER, T0 + 3 * H, photos=["p://x"])
    do(world, original, "request_check", ACCEPTOR, T0 + 3 * H)
    do(world, original, "check_pass", person(30, "supervisor"), T0 + 4 * H, photos=["p://y"])
    do(world, original, "close", person(31, "shift_leader"), T0 + 4 * H)
    told = world.scalars(
        select(OutboxMessage.recipient).where(
            OutboxMessage.topic == "case.closed", OutboxMessage.case_id == original.id
        )
    ).all()
    assert sorted(told) == sorted(["4", "8", "20"])
    # The reporter of a merged report can follow the surviving case.
    assert get_visible(world, original.id, CITIZEN).id == original.id


def test_merging_into_an_unknown_case_is_refused(world):
    dup = report(world)
    with pytest.raises(ValidationFailed) as exc:
        do(world, dup, "reject_duplicate", ACCEPTOR, T0, duplicate_of="999999")
    assert exc.value.field == "duplicate_of"
