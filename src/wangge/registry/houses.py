"""Houses (实有房屋): buildings located in their grids, rooms with their use, tenancies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.masking import mask_phone
from wangge.common.spatial import bbox_columns
from wangge.errors import NotFound, ValidationFailed
from wangge.registry.access import check_area, get_in_area, locate, require_community, visible
from wangge.registry.component_grids import require_in_county
from wangge.registry.fields import choice, required_text, set_texts
from wangge.registry.geometry import anchor, parse_geometry
from wangge.registry.history import log_change, log_saved, snapshot
from wangge.registry.micro import micro_at, relocate_building_residents
from wangge.registry.models_houses import ROOM_USES, Building, Room, Tenancy
from wangge.registry.people import check_phone, get_person


def get_building(session: Session, principal: Principal, building_id: int) -> Building:
    """Return a building in the principal's area, or raise NotFound."""
    in_area = visible(Building, principal)
    return get_in_area(session, principal, Building, building_id, in_area, ("楼栋", "building"))


def get_room(session: Session, principal: Principal, room_id: int) -> Room:
    """Return a room in the principal's area, or raise NotFound."""
    principal.require("registry.read")
    room = session.get(Room, room_id)
    if room is not None:
        get_building(session, principal, room.building_id)
        return room
    raise NotFound(f"房屋 {room_id} 不存在", f"room {room_id} does not exist")


def save_building(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    building_id: int | None = None,
    audit: bool = True,
) -> Building:
    """Create or update a building; its position (or footprint) puts it in its grids."""  # fmt: skip
    principal.require("registry.write")
    building = get_building(session, principal, building_id) if building_id else Building()
    before = snapshot(building) if building_id else None
    if "name" in data or before is None:
        building.name = required_text(
            data.get("name"), "name", "楼栋名称不能为空", "building name is required"
        )
    for key in ("address", "purpose"):
        if key in data:
            setattr(building, key, data[key] or None)
    if "floors" in data:
        building.floors = int(data["floors"]) if data["floors"] not in (None, "") else None
    if data.get("community_code"):
        building.community_code = require_community(session, data["community_code"])
    if not building.community_code:
        raise ValidationFailed(
            "所属社区不能为空", "the community is required", field="community_code"
        )
    building.county_code = building.community_code[:6]
    geom = parse_geometry(
        lon=data.get("lon"), lat=data.get("lat"), wkt=data.get("wkt"),
        geojson=data.get("geometry"), crs=data.get("crs"),
    )  # fmt: skip
    if geom is not None:
        require_in_county(session, building.county_code, geom, what="楼栋|building")
        building.geom = geom
        for key, value in bbox_columns(geom).items():
            setattr(building, key, value)
        building.lon, building.lat = anchor(geom)
        building.grid_id, building.unit_grid_id, found = locate(
            session, building.lon, building.lat, building.county_code
        )
        building.micro_grid_id = micro_at(session, building.lon, building.lat, building.county_code)
        if found is not None and found != building.community_code:
            raise ValidationFailed(
                f"位置落在社区 {found} 内，而不是所填的 {building.community_code}",
                f"the position lies in community {found}, not {building.community_code}",
                code="wrong_community", field="lon",
            )  # fmt: skip
    check_area(
        session, principal, building.community_code, building.grid_id, building.micro_grid_id
    )
    if before is None:
        session.add(building)
    elif geom is not None:
        relocate_building_residents(session, building)  # 户入房、房入格: they follow it
    log_saved(session, principal, object_type="building", obj=building, before=before, audit=audit)
    return building


def buildings_query(principal: Principal, **filters: Any) -> Select[Building]:
    """Return the query of buildings in the principal's area."""
    principal.require("registry.read")
    query = select(Building).where(visible(Building, principal))
    if filters.get("community"):
        query = query.where(
            Building.community_code.startswith(filters["community"], autoescape=True)
        )
    if filters.get("grid_id"):
        query = query.where(Building.grid_id == filters["grid_id"])
    if filters.get("q"):
        q = filters["q"]
        query = query.where(
            Building.name.contains(q, autoescape=True)
            | Building.address.contains(q, autoescape=True)
        )
    return query.order_by(Building.id)


def find_building(session: Session, community_code: str, name: str) -> Building | None:
    """Return the building of a community with this name."""
    return session.scalar(
        select(Building).where(Building.community_code == community_code, Building.name == name)
    )


def save_room(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    room_id: int | None = None,
    audit: bool = True,
) -> Room:
    """Create or update a room of a building with its use and landlord."""  # fmt: skip
    principal.require("registry.write")
    room = get_room(session, principal, room_id) if room_id else Room()
    before = snapshot(room) if room_id else None
    if before is None:
        if not data.get("building_id"):
            raise ValidationFailed("请指定楼栋", "the building is required", field="building_id")
        building = get_building(session, principal, int(data["building_id"]))
        room.building_id, room.community_code = building.id, building.community_code
        room.county_code = building.county_code
    else:  # a grid worker edits the rooms of his grids only
        building = get_building(session, principal, room.building_id)
    check_area(
        session, principal, building.community_code, building.grid_id, building.micro_grid_id
    )
    if "number" in data or before is None:
        room.number = required_text(
            data.get("number"), "number", "房号不能为空", "room number is required"
        )
    set_texts(room, data, ("unit", "landlord_name"))
    if "floor" in data:
        room.floor = int(data["floor"]) if data["floor"] not in (None, "") else None
    if "area_m2" in data:
        room.area_m2 = float(data["area_m2"]) if data["area_m2"] not in (None, "") else None
    if data.get("use"):
        room.use = choice(str(data["use"]), ROOM_USES, "use", "房屋用途")
    elif before is None:
        room.use = "owner_occupied"
    if "landlord_phone" in data:
        value = data["landlord_phone"]
        if value and "*" in str(value) and str(value) == mask_phone(room.landlord_phone):
            pass  # left as exported
        else:
            room.landlord_phone = check_phone(str(value), "landlord_phone") if value else None
    if before is None:
        session.add(room)
    log_saved(session, principal, object_type="room", obj=room, before=before, audit=audit)
    return room


def add_tenancy(
    session: Session, principal: Principal, room_id: int, data: dict[str, Any]
) -> Tenancy:
    """Record a rental contract of a room; the room's use becomes 出租."""
    principal.require("registry.write")
    room = get_room(session, principal, room_id)
    building = session.get(Building, room.building_id)
    if building is not None:  # a grid worker records contracts of his own grids' rooms
        check_area(
            session, principal, building.community_code, building.grid_id, building.micro_grid_id
        )
    name = required_text(
        data.get("tenant_name"), "tenant_name", "承租人不能为空", "the tenant is required"
    )
    person_id = data.get("tenant_person_id")
    if person_id is not None:
        _require_person(session, principal, person_id)
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise ValidationFailed(
            "租期止早于租期起", "the contract ends before it starts", field="end_date"
        )
    tenancy = Tenancy(
        room_id=room.id, county_code=room.county_code, tenant_name=name,
        tenant_person_id=data.get("tenant_person_id"), contract_no=data.get("contract_no"),
        start_date=start, end_date=end,
    )  # fmt: skip
    session.add(tenancy)
    if room.use != "rented":
        before = snapshot(room)
        room.use = "rented"
        log_change(
            session,
            principal,
            object_type="room",
            obj=room,
            action="update",
            before=before,
            audit=False,
        )
    log_change(session, principal, object_type="tenancy", obj=tenancy, action="create", before=None)
    return tenancy


def _require_person(session: Session, principal: Principal, person_id: int) -> None:
    # An id that names nobody (in the caller's area) would fail the foreign key on write.
    try:
        get_person(session, principal, person_id)
    except NotFound:
        raise ValidationFailed(
            f"承租人 {person_id} 不在人口库中",
            f"tenant person {person_id} is not in the population register",
            code="unknown_person",
            field="tenant_person_id",
        ) from None


def rooms_of(session: Session, principal: Principal, building_id: int) -> list[Room]:
    """Return the rooms of a building."""
    get_building(session, principal, building_id)
    return list(
        session.scalars(select(Room).where(Room.building_id == building_id).order_by(Room.id))
    )


def tenancies_of(session: Session, principal: Principal, room_id: int) -> list[Tenancy]:
    """Return the tenancies of a room, newest first."""
    get_room(session, principal, room_id)
    return list(
        session.scalars(
            select(Tenancy).where(Tenancy.room_id == room_id).order_by(Tenancy.id.desc())
        )
    )


def rooms_query(principal: Principal, **filters: Any) -> Select[Room]:
    """Return the query of rooms in the principal's area."""
    principal.require("registry.read")
    query = select(Room).where(visible(Room, principal))
    if filters.get("community"):
        query = query.where(Room.community_code.startswith(filters["community"], autoescape=True))
    if filters.get("building_id"):
        query = query.where(Room.building_id == filters["building_id"])
    if filters.get("use"):
        query = query.where(Room.use == filters["use"])
    if filters.get("grid_id"):  # rooms have no grid of their own: their building's
        query = query.where(
            Room.building_id.in_(select(Building.id).where(Building.grid_id == filters["grid_id"]))
        )
    q = (filters.get("q") or "").strip()
    if q:  # the room number, the landlord, or the building's name or address
        in_buildings = select(Building.id).where(
            Building.name.contains(q, autoescape=True)
            | Building.address.contains(q, autoescape=True)
        )
        query = query.where(
            Room.number.contains(q, autoescape=True)
            | Room.landlord_name.contains(q, autoescape=True)
            | Room.building_id.in_(in_buildings)
        )
    return query.order_by(Room.id)
