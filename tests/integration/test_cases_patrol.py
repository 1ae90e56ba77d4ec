"""Patrols: tracks stored per grid per day, reports made during a patrol linked to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import (
    CITIZEN,
    DX,
    GRID_LEADER,
    LAT,
    LON,
    SUPERVISOR,
    T0,
    build_world,
    report,
)
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import PatrolPoint
from wangge.cases.patrol import (
    add_points,
    end_patrol,
    patrol_reports,
    start_patrol,
    tracks,
    visits,
)
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.models import Grid

M = timedelta(minutes=1)


@pytest.fixture
def world(session):
    build_world(session)
    return session


def grid_id(session, code):
    return session.scalar(select(Grid.id).where(Grid.code == code))


def test_a_report_during_a_patrol_is_linked_to_it_and_not_after_it_ends(world):
    patrol = start_patrol(world, SUPERVISOR, lon=LON, lat=LAT, now=T0)
    during = report(world, SUPERVISOR, at=T0 + 5 * M)
    end_patrol(world, patrol.id, SUPERVISOR, now=T0 + 30 * M)
    after = report(world, SUPERVISOR, at=T0 + 40 * M)
    assert during.patrol_id == patrol.id and after.patrol_id is None
    assert [c.id for c in patrol_reports(world, patrol.id)] == [during.id]


def test_track_points_carry_their_grids_and_are_kept_per_grid_per_day(world):
    patrol = start_patrol(world, SUPERVISOR, lon=LON, lat=LAT, now=T0)
    n = add_points(
        world,
        patrol.id,
        SUPERVISOR,
        [
            (LON + 0.0005, LAT, T0 + M),
            (LON + 0.5 * DX, LAT, T0 + 2 * M),  # next grid to the east
        ],
    )
    assert n == 2 and patrol.point_count == 3 and patrol.distance_m > 400
    g1, g2 = grid_id(world, "110108001001001"), grid_id(world, "110108001001002")
    points = world.scalars(select(PatrolPoint).order_by(PatrolPoint.at)).all()
    assert [p.grid_id for p in points] == [g1, g1, g2]
    day = T0.astimezone(SHANGHAI).date()
    seen = tracks(world, g1, day, SUPERVISOR)
    assert list(seen) == [patrol.id] and len(seen[patrol.id]) == 2
    assert tracks(world, g1, day + timedelta(days=1), SUPERVISOR) == {}
    assert visits(world, day, "110108") == {g1: 1, g2: 1}


def test_starting_a_new_patrol_ends_the_open_one(world):
    first = start_patrol(world, GRID_LEADER, lon=LON, lat=LAT, now=T0)
    second = start_patrol(world, GRID_LEADER, lon=LON, lat=LAT, now=T0 + 60 * M)
    assert first.ended_at is not None and second.ended_at is None


def test_points_cannot_be_added_to_an_ended_patrol(world):
    patrol = start_patrol(world, SUPERVISOR, lon=LON, lat=LAT, now=T0)
    end_patrol(world, patrol.id, SUPERVISOR, now=T0 + M)
    with pytest.raises(ValidationFailed):
        add_points(world, patrol.id, SUPERVISOR, [(LON, LAT, T0 + 2 * M)])


def test_a_citizen_cannot_patrol(world):
    with pytest.raises(Forbidden):
        start_patrol(world, CITIZEN, lon=LON, lat=LAT, now=T0)
