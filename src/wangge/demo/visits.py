"""Demo 走访: a third of the households of the first community visited this quarter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.registry.models_houses import Building, Room
from wangge.registry.models_people import Household
from wangge.registry.models_visits import HouseholdVisit
from wangge.registry.own_grids import today
from wangge.registry.visits import quarter_of

NOTES = (
    "入户走访，家庭情况正常",
    "走访独居老人，身体状况良好",
    "核实出租信息，租户已登记",
    "宣传防诈骗知识",
)


def build_visit_demo(session: Session, county: str, worker_name: str = "王建国") -> int:
    """Log visits of every third household of the county's first community; return how many."""
    community = session.scalar(
        select(Division.code)
        .where(Division.county_code == county, Division.level == "community")
        .order_by(Division.code)
    )
    if community is None:
        return 0
    rows = session.execute(
        select(Household.id, Building.grid_id)
        .join(Room, Room.id == Household.room_id)
        .join(Building, Building.id == Room.building_id)
        .where(Household.community_code == community)
        .order_by(Household.id)
    ).all()
    first, _last = quarter_of(today())
    span = max((today() - first).days, 0)
    now = utcnow()
    visits: list[dict[str, Any]] = [
        {"county_code": county, "household_id": hid, "community_code": community,
         "grid_id": grid_id, "visited_on": first + timedelta(days=(n * 7) % (span + 1)),
         "worker_id": None, "worker_name": worker_name, "notes": NOTES[n % len(NOTES)],
         "photos": [], "created_at": now}
        for n, (hid, grid_id) in enumerate(rows) if n % 3 == 0
    ]  # fmt: skip
    if visits:
        session.execute(insert(HouseholdVisit), visits)
    return len(visits)
