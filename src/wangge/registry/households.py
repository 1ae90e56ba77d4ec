"""Households (户): create and edit (户入房), scoped like the rooms they live in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.auth.scope import scope_clause
from wangge.errors import ValidationFailed
from wangge.registry.access import check_area, get_in_area, require_community, visible
from wangge.registry.fields import required_text
from wangge.registry.history import log_saved, snapshot
from wangge.registry.models_houses import Building, Room
from wangge.registry.models_people import Household


def household_visible(principal: Principal) -> ColumnElement[bool]:
    """Return the SQL filter of households in the principal's area (its community or room)."""
    if principal.scope_prefixes is None:
        return true()
    # A grid-level post sees the households whose room lies in its grids.
    rooms = select(Room.id).where(visible(Room, principal))
    return or_(scope_clause(Household.community_code, principal), Household.room_id.in_(rooms))


def get_household(session: Session, principal: Principal, household_id: int) -> Household:
    """Return a household in the principal's area, or raise NotFound."""
    in_area = household_visible(principal)
    return get_in_area(session, principal, Household, household_id, in_area, ("户", "household"))


def grids_of_household(session: Session, household: Household) -> tuple[int | None, int | None]:
    """Return the social grid and the micro grid of a household's room's building."""
    if household.room_id is None:
        return None, None
    found = session.execute(
        select(Building.grid_id, Building.micro_grid_id)
        .join(Room, Room.building_id == Building.id)
        .where(Room.id == household.room_id)
    ).first()
    return (found[0], found[1]) if found else (None, None)


def save_household(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    household_id: int | None = None,
) -> Household:
    """Create or update a household (户号, community, room); history and audit included."""
    principal.require("registry.write")
    household = get_household(session, principal, household_id) if household_id else Household()
    before = snapshot(household) if household_id else None
    if before is not None:  # the worker must serve the household's grid before any change
        check_area(
            session, principal, household.community_code, *grids_of_household(session, household)
        )
    if "number" in data or before is None:
        household.number = required_text(
            data.get("number"), "number", "户号不能为空", "the household number is required"
        )
    if "room_id" in data:
        household.room_id = _room(session, principal, data["room_id"], household)
    if data.get("community_code") and household.room_id is None:
        household.community_code = require_community(session, data["community_code"])
    if not household.community_code:
        raise ValidationFailed(
            "请填写所属社区或房屋", "a community or a room is required",
            code="no_residence", field="community_code",
        )  # fmt: skip
    household.county_code = household.community_code[:6]
    taken = session.scalar(
        select(Household.id).where(
            Household.number == household.number,
            Household.community_code == household.community_code,
            Household.id != (household.id or 0),
        )
    )
    if taken is not None:
        raise ValidationFailed(
            f"户号 {household.number} 在社区 {household.community_code} 已存在",
            f"household number {household.number} exists in community {household.community_code}",
            code="duplicate_household", field="number",
        )  # fmt: skip
    check_area(
        session, principal, household.community_code, *grids_of_household(session, household)
    )
    if before is None:
        session.add(household)
    log_saved(session, principal, object_type="household", obj=household, before=before)
    return household


def _room(session: Session, principal: Principal, room_id: Any, household: Household) -> int | None:
    if room_id in (None, ""):
        return None
    room = session.scalar(select(Room).where(Room.id == int(room_id), visible(Room, principal)))
    if room is None:
        raise ValidationFailed(
            f"房屋 {room_id} 不存在", f"room {room_id} does not exist",
            code="unknown_room", field="room_id",
        )  # fmt: skip
    household.community_code = room.community_code
    return room.id


def households_query(
    principal: Principal,
    *,
    community: str | None = None,
    grid_ids: set[int] | None = None,
    q: str | None = None,
) -> Select[Household]:
    """Return the query of households in the area (optionally of some grids, by 户号 or address)."""
    principal.require("registry.read")
    query = select(Household).where(household_visible(principal))
    if community:
        query = query.where(Household.community_code.startswith(community, autoescape=True))
    if grid_ids is not None:
        in_grids = (
            select(Room.id)
            .join(Building, Building.id == Room.building_id)
            .where(Building.grid_id.in_(sorted(grid_ids)))
        )
        query = query.where(Household.room_id.in_(in_grids))
    text = (q or "").strip()
    if text:
        rooms = (
            select(Room.id)
            .join(Building, Building.id == Room.building_id)
            .where(
                Building.name.contains(text, autoescape=True)
                | Building.address.contains(text, autoescape=True)
                | Room.number.contains(text, autoescape=True)
            )
        )
        query = query.where(
            Household.number.contains(text, autoescape=True) | Household.room_id.in_(rooms)
        )
    return query.order_by(Household.id)


def addresses_of(session: Session, households: list[Household]) -> dict[int, dict[str, Any]]:
    """Return {household id: room, building and grid} for a page of households (one query)."""
    room_ids = {h.room_id for h in households if h.room_id is not None}
    if not room_ids:
        return {}
    rows = session.execute(
        select(Room, Building).join(Building, Building.id == Room.building_id)
        .where(Room.id.in_(sorted(room_ids)))
    ).all()  # fmt: skip
    by_room = {room.id: (room, building) for room, building in rows}
    out: dict[int, dict[str, Any]] = {}
    for h in households:
        if h.room_id in by_room:
            room, building = by_room[h.room_id]
            unit = f"{room.unit}单元" if room.unit else ""
            out[h.id] = {
                "address": f"{building.address or building.name}{unit}{room.number}室",
                "building_id": building.id, "grid_id": building.grid_id,
            }  # fmt: skip
    return out
