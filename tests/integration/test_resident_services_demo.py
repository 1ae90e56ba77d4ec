"""The demo's 代办 requests: made and worked through the real use cases, at every step."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from tests.case_factories import T0, build_world
from wangge.demo.resident_services import PLAN, build_service_demo
from wangge.resident_services.catalogue import seed_catalogue
from wangge.resident_services.models import ServiceRequest


def test_the_demo_requests_stand_at_every_step_of_the_loop(session):
    build_world(session)
    seed_catalogue(session, "110108")
    assert build_service_demo(session, "110108", seed=7, now=T0) == len(PLAN)
    rows = session.scalars(select(ServiceRequest)).all()
    states = Counter(r.state for r in rows)
    assert states == {"requested": 2, "in_progress": 2, "closed": 1, "rated": 5}
    assert sum(r.complex for r in rows) == 1
    assert all(r.respond_due > r.requested_at for r in rows)


def test_a_county_without_grids_gets_no_demo_requests(session):
    assert build_service_demo(session, "110108", seed=7, now=T0) == 0


def test_the_sweep_warns_the_grid_workers_once_per_clock_and_colour(session):
    from datetime import date, timedelta

    from tests.case_factories import GRID1, LAT, LON
    from wangge.assignments.models import GridAssignment
    from wangge.auth.models import User
    from wangge.cases.models import OutboxMessage
    from wangge.resident_services.scheduled import warn_service_clocks
    from wangge.resident_services.service import create_request

    build_world(session)
    seed_catalogue(session, "110108")
    session.add(User(id=41, username="wgy41", display_name="网格员小周"))
    session.flush()
    session.add(
        GridAssignment(
            user_id=41, grid_code=GRID1, county_code="110108", layer="social",
            kind="full_time", starts_on=date(2026, 1, 1),
        )
    )  # fmt: skip
    body = {"service_code": "SB-01", "applicant_name": "王建国", "phone": "13912345678",
            "lon": LON, "lat": LAT, "crs": "EPSG:4490"}  # fmt: skip
    row, _ = create_request(session, body, now=T0)  # Monday 09:00: answer due 11:00
    assert warn_service_clocks(session, T0 + timedelta(minutes=30)) == []
    yellow = warn_service_clocks(session, T0 + timedelta(minutes=100))
    assert yellow == [f"resident_service:{row.id}:respond:yellow:41"]
    assert warn_service_clocks(session, T0 + timedelta(minutes=110)) == []  # once only
    red = warn_service_clocks(session, T0 + timedelta(hours=3))
    assert f"resident_service:{row.id}:respond:red:41" in red
    titles = session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.topic == "resident_service.overdue")
    ).all()
    assert any("接单已超期" in t["title"] for t in titles)
