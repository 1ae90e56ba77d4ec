"""HTTP routes for households (户) and their visits (走访), and visit coverage per grid."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import func, select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.schemas import InputModel
from wangge.registry import households, visits
from wangge.registry.idempotent import IdempotencyKeyDep, save_once
from wangge.registry.labels import sensitive_codes
from wangge.registry.models_houses import Room
from wangge.registry.models_people import Household, Person
from wangge.registry.models_visits import HouseholdVisit
from wangge.registry.own_grids import own_grid_ids, today
from wangge.registry.people import person_out
from wangge.registry.views_places import page_of, room_out

router = APIRouter(prefix="/registry", tags=["registry 基础数据"])


class HouseholdIn(InputModel):
    number: str | None = Field(None, max_length=30, description="户号")
    community_code: str | None = None
    room_id: int | None = None


class VisitIn(InputModel):
    visited_on: date | None = Field(None, description="default: today (Beijing)")
    notes: str | None = Field(None, max_length=2000)
    photos: list[str] = Field(default_factory=list, description="/api/v1/uploads/<id> refs")


def _rows(session: SessionDep, items: list[Household], on: date | None) -> list[dict[str, Any]]:
    """Households of a page with address, grid, member count and this quarter's visit."""
    ids = [h.id for h in items]
    where = households.addresses_of(session, items)
    last = visits.last_visits(session, ids)
    members = dict(
        session.execute(
            select(Person.household_id, func.count(Person.id))
            .where(Person.household_id.in_(ids), Person.merged_into_id.is_(None))
            .group_by(Person.household_id)
        ).all()
    ) if ids else {}  # fmt: skip
    first, _last = visits.quarter_of(on or today())
    return [_row(h, where, members, last, first) for h in items]


def _row(
    h: Household,
    where: dict[int, dict[str, Any]],
    members: dict[int | None, int],
    last: dict[int, date],
    first: date,
) -> dict[str, Any]:
    return {
        "id": h.id, "number": h.number, "community_code": h.community_code,
        "room_id": h.room_id, **where.get(h.id, {"address": None, "grid_id": None}),
        "members": members.get(h.id, 0), "last_visit": last.get(h.id),
        "visited_this_quarter": bool(last.get(h.id) and last[h.id] >= first),
    }  # fmt: skip


@router.get("/households")
def list_households(
    session: SessionDep,
    principal: PrincipalDep,
    community: str | None = None,
    grid_id: int | None = None,
    mine: bool = Query(False, description="only the grids I serve (grid workers)"),
    visited: bool | None = Query(None, description="visited this quarter or not"),
    q: str | None = Query(None, description="户号、楼栋或房号"),
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List households in the caller's area with their visit this quarter."""
    grids: set[int] | None = {grid_id} if grid_id else None
    if mine:
        own = own_grid_ids(session, principal)
        if own is not None:
            grids = own if grids is None else grids & own
    query = households.households_query(principal, community=community, grid_ids=grids, q=q)
    if visited is not None:
        first, last = visits.quarter_of(today())
        seen = select(HouseholdVisit.household_id).where(
            HouseholdVisit.visited_on >= first, HouseholdVisit.visited_on <= last
        )
        query = query.where(Household.id.in_(seen) if visited else Household.id.not_in(seen))
    page = page_of(session, query, limit, offset, lambda h: h)
    page["items"] = _rows(session, page["items"], None)
    return page


@router.post("/households", status_code=201)
def create_household(
    body: HouseholdIn, session: SessionDep, principal: PrincipalDep, key: IdempotencyKeyDep = None
) -> Any:
    """Register a household (户号 unique in its community; 户入房 by room)."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return _rows(session, [households.save_household(session, principal, data)], None)[0]

    path = "/registry/households"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/households/{household_id}")
def get_household(
    household_id: int, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Return a household with its members (masked), room and visits."""
    h = households.get_household(session, principal, household_id)
    out = _rows(session, [h], None)[0]
    sensitive = sensitive_codes(session)
    people = session.scalars(
        select(Person)
        .where(Person.household_id == h.id, Person.merged_into_id.is_(None))
        .order_by(Person.id)
    )
    out["people"] = [person_out(p, principal, sensitive) for p in people]
    room = session.get(Room, h.room_id) if h.room_id else None
    out["room"] = room_out(room) if room is not None else None
    out["visits"] = [visits.visit_out(v) for v in visits.visits_of(session, principal, h.id)]
    return out


@router.patch("/households/{household_id}")
def update_household(
    household_id: int,
    body: HouseholdIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change a household's number or room; the history records old → new."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        h = households.save_household(session, principal, data, household_id=household_id)
        return _rows(session, [h], None)[0]

    path = f"/registry/households/{household_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.get("/households/{household_id}/visits")
def list_visits(
    household_id: int, session: SessionDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Return the visits of a household, newest first."""
    return [visits.visit_out(v) for v in visits.visits_of(session, principal, household_id)]


@router.post("/households/{household_id}/visits", status_code=201)
def create_visit(
    household_id: int,
    body: VisitIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Record a visit (走访) by the caller; a resend with the same Idempotency-Key is one visit."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return visits.visit_out(visits.add_visit(session, principal, household_id, data))

    path = f"/registry/households/{household_id}/visits"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/visits/coverage")
def visit_coverage(
    session: SessionDep,
    principal: PrincipalDep,
    on: date | None = Query(None, description="a day of the quarter (default: today)"),
    community: str | None = None,
) -> dict[str, Any]:
    """Return the share of households visited in the quarter, per grid of the caller's area."""
    return visits.coverage(session, principal, on=on, community=community)
