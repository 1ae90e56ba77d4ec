"""走访 (household visits) and "visited this quarter" coverage per grid."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.errors import ValidationFailed
from wangge.grids.models import Grid
from wangge.registry.access import check_area
from wangge.registry.households import get_household, grids_of_household, household_visible
from wangge.registry.models_common import RecordChange
from wangge.registry.models_houses import Building, Room
from wangge.registry.models_people import Household
from wangge.registry.models_visits import HouseholdVisit
from wangge.registry.own_grids import own_grid_ids, today
from wangge.uploads.service import claim_photos

MAX_PHOTOS = 9


def quarter_of(day: date) -> tuple[date, date]:
    """Return the first and last day of the calendar quarter of a day."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if first.month == 10:  # (not the 1 January after: year 9999 has none)
        return first, date(first.year, 12, 31)
    return first, date(first.year, first.month + 3, 1) - timedelta(days=1)


def add_visit(
    session: Session, principal: Principal, household_id: int, data: dict[str, Any]
) -> HouseholdVisit:
    """Record a visit of a household by the caller; the household's history notes it."""
    principal.require("registry.write")
    household = get_household(session, principal, household_id)
    grid_id, micro_grid_id = grids_of_household(session, household)
    check_area(session, principal, household.community_code, grid_id, micro_grid_id)
    on = data.get("visited_on") or today()
    if on > today():
        raise ValidationFailed(
            f"走访日期 {on} 晚于今天", f"the visit date {on} is in the future",
            code="future_visit", field="visited_on",
        )  # fmt: skip
    if on < today() - timedelta(days=366):
        raise ValidationFailed(
            f"走访日期 {on} 早于一年前", f"the visit date {on} is more than a year ago",
            code="old_visit", field="visited_on",
        )  # fmt: skip
    refs = list(data.get("photos") or [])
    if len(refs) > MAX_PHOTOS:
        raise ValidationFailed(
            f"照片最多 {MAX_PHOTOS} 张", f"at most {MAX_PHOTOS} photos", field="photos"
        )
    claim_photos(session, refs, principal, case_id=None)
    visit = HouseholdVisit(
        county_code=household.county_code, household_id=household.id,
        community_code=household.community_code, grid_id=grid_id, visited_on=on,
        worker_id=principal.user_id, worker_name=principal.name,
        notes=(str(data.get("notes") or "").strip() or None), photos=refs,
    )  # fmt: skip
    session.add(visit)
    session.flush()
    # The household's history shows the visit beside its edits (who, when, what was noted).
    session.add(
        RecordChange(
            county_code=household.county_code, object_type="household", object_id=household.id,
            action="visit", actor=principal.name, actor_id=principal.user_id,
            changes={"visit": [None, visit.id], "visited_on": [None, on.isoformat()],
                     "notes": [None, visit.notes], "photos": [None, len(refs)]},
        )
    )  # fmt: skip
    record(
        session, actor=principal.name, actor_id=principal.user_id,
        action="registry.household.visit", object_type="household", object_id=household.id,
        county_code=household.county_code, detail={"visit_id": visit.id},
    )  # fmt: skip
    return visit


def visits_of(session: Session, principal: Principal, household_id: int) -> list[HouseholdVisit]:
    """Return the visits of a household, newest first."""
    get_household(session, principal, household_id)
    return list(
        session.scalars(
            select(HouseholdVisit)
            .where(HouseholdVisit.household_id == household_id)
            .order_by(HouseholdVisit.visited_on.desc(), HouseholdVisit.id.desc())
        )
    )


def visit_out(v: HouseholdVisit) -> dict[str, Any]:
    """Return a visit as JSON."""
    return {
        "id": v.id, "household_id": v.household_id, "grid_id": v.grid_id,
        "visited_on": v.visited_on, "worker_id": v.worker_id, "worker_name": v.worker_name,
        "notes": v.notes, "photos": v.photos or [], "created_at": v.created_at,
    }  # fmt: skip


def last_visits(session: Session, household_ids: list[int]) -> dict[int, date]:
    """Return {household id: date of its latest visit} for a page of households."""
    if not household_ids:
        return {}
    rows = session.execute(
        select(HouseholdVisit.household_id, func.max(HouseholdVisit.visited_on))
        .where(HouseholdVisit.household_id.in_(household_ids))
        .group_by(HouseholdVisit.household_id)
    ).all()
    return {hid: day for hid, day in rows}


def coverage(
    session: Session, principal: Principal, *, on: date | None = None, community: str | None = None
) -> dict[str, Any]:
    """Return per grid the households and the share visited in the quarter of `on`.

    A household counts in the grid of its room's building today; one visit in the quarter
    (by anyone) makes it visited. A grid worker sees his own grids only.
    """
    principal.require("registry.read")
    first, last = quarter_of(on or today())
    grid = Building.grid_id.label("grid_id")
    base = (
        select(grid, Household.id.label("hid"))
        .join(Room, Room.id == Household.room_id)
        .join(Building, Building.id == Room.building_id)
        .where(household_visible(principal), Building.grid_id.is_not(None))
    )
    if community:
        base = base.where(Household.community_code.startswith(community, autoescape=True))
    own = own_grid_ids(session, principal)
    if own is not None:
        base = base.where(Building.grid_id.in_(sorted(own)))
    visited = select(HouseholdVisit.household_id).where(
        HouseholdVisit.visited_on >= first, HouseholdVisit.visited_on <= last
    )
    sub = base.subquery()
    rows = session.execute(
        select(
            sub.c.grid_id,
            func.count(sub.c.hid),
            func.count(sub.c.hid).filter(sub.c.hid.in_(visited)),
        ).group_by(sub.c.grid_id)
    ).all()
    grids = {
        g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_([r[0] for r in rows])))
    }
    items = []
    for grid_id, total, seen in sorted(rows, key=lambda r: grids[r[0]].code):
        g = grids[grid_id]
        items.append({
            "grid_id": grid_id, "grid_code": g.code, "grid_name": g.name,
            "community_code": g.community_code, "households": total, "visited": seen,
            "share": round(seen / total, 4) if total else None,
        })  # fmt: skip
    total = sum(i["households"] for i in items)
    seen = sum(i["visited"] for i in items)
    return {
        "quarter": f"{first.year}Q{(first.month - 1) // 3 + 1}",
        "from": first, "to": last, "households": total, "visited": seen,
        "share": round(seen / total, 4) if total else None, "grids": items,
    }  # fmt: skip
