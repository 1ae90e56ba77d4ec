"""People (实有人口): create, update, search, reveal (audited), addresses and households."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.ids import parse_id_number
from wangge.common.masking import mask_id_number, mask_phone
from wangge.common.models import utcnow
from wangge.errors import ValidationFailed
from wangge.grids.models import Grid, GridVersion
from wangge.registry.access import (
    check_area,
    get_in_area,
    is_masked_form_of,
    normalise_phone,
    personal_hash,
    require_community,
    visible,
)
from wangge.registry.fields import choice, required_text
from wangge.registry.history import log_change, log_saved, snapshot
from wangge.registry.labels import merge_hidden, parse_labels, sensitive_codes, visible_labels
from wangge.registry.micro import residence_micro_grid
from wangge.registry.models_houses import Building, Room
from wangge.registry.models_people import (
    RELATIONS,
    RESIDENCE_KINDS,
    Household,
    Person,
    PersonAddress,
)
from wangge.registry.own_grids import own_grid_ids, single_own_grid

UNMASK = "personal.unmask"


def check_phone(value: str, field: str = "phone") -> str:
    """Return a phone's digits; refuse anything that is not 7–12 digits."""
    digits = normalise_phone(value)
    if not 7 <= len(digits) <= 12:
        raise ValidationFailed(
            f"联系电话 {mask_phone(value)} 应为 7–12 位数字，实为 {len(digits)} 位",
            f"phone must have 7-12 digits, has {len(digits)}",
            code="bad_phone", field=field,
        )  # fmt: skip
    return digits


def get_person(session: Session, principal: Principal, person_id: int) -> Person:
    """Return a person in the principal's area, or raise NotFound (also outside the area)."""
    return get_in_area(
        session, principal, Person, person_id, visible(Person, principal), ("人员", "person")
    )


def _set_identity(person: Person, data: dict[str, Any], today: date | None) -> None:
    if "id_number" in data:
        value = data["id_number"]
        if not value:
            person.id_number = person.id_hash = None
        elif not is_masked_form_of(value, person.id_number, "id"):
            parsed = parse_id_number(str(value), today=today, field="id_number")
            person.id_number = parsed.number
            person.id_hash = personal_hash("id", parsed.number)
            person.birth_date, person.sex = parsed.birth_date, parsed.sex
    if "phone" in data:
        value = data["phone"]
        if not value:
            person.phone = person.phone_hash = None
        elif not is_masked_form_of(value, person.phone, "phone"):
            digits = check_phone(str(value))
            person.phone, person.phone_hash = digits, personal_hash("phone", digits)


def _set_residence(
    session: Session, principal: Principal, person: Person, data: dict[str, Any]
) -> None:
    room_changed = "room_id" in data and data["room_id"] != person.room_id
    if room_changed and data["room_id"] is not None:
        room = session.get(Room, int(data["room_id"]))
        if room is None:
            raise ValidationFailed(
                f"房屋 {data['room_id']} 不存在", f"room {data['room_id']} does not exist",
                code="unknown_room", field="room_id",
            )  # fmt: skip
        building = session.get(Building, room.building_id)
        assert building is not None
        person.room_id = room.id
        if getattr(person, "grid_source", None) is None:
            person.grid_source = "room"  # type: ignore[attr-defined]
        person.community_code = building.community_code
        person.grid_id, person.lon, person.lat = building.grid_id, building.lon, building.lat
        if not data.get("address"):
            unit = f"{room.unit}单元" if room.unit else ""
            person.address = f"{building.address or building.name}{unit}{room.number}室"
    elif room_changed:
        person.room_id = None
    if data.get("address"):
        person.address = str(data["address"]).strip()
    if data.get("community_code") and person.room_id is None:
        code = require_community(session, data["community_code"])
        if code != person.community_code:
            person.community_code, person.grid_id, person.lon, person.lat = code, None, None, None
    if data.get("grid_id") and person.room_id is None:
        person.community_code = grid_of(session, int(data["grid_id"]), person.community_code)
        person.grid_id, person.lon, person.lat = int(data["grid_id"]), None, None
        person.grid_source = "chosen"  # type: ignore[attr-defined]
    if not person.community_code:
        raise ValidationFailed(
            "请填写所属社区或居住房屋", "a community or a room is required",
            code="no_residence", field="community_code",
        )  # fmt: skip
    if person.room_id is None and person.grid_id is None:
        # Without a room the person would sit in no grid: a grid worker's own grid (when he
        # serves one in that community) places him; the answer's grid_source says which.
        person.grid_id = single_own_grid(session, principal, person.community_code)
        # Serving several grids, the worker must say which (grid_id); an import row without
        # one is kept, without a grid, and the answer says why (not refused: the sheet has
        # no grid column).
        several = person.grid_id is None and bool(own_grid_ids(session, principal))
        source = "worker" if person.grid_id else ("several" if several else "none")
        person.grid_source = source  # type: ignore[attr-defined]
    person.micro_grid_id = residence_micro_grid(session, person)  # 一网多层
    check_area(session, principal, person.community_code, person.grid_id, person.micro_grid_id)


def grid_of(session: Session, grid_id: int, community_code: str | None) -> str:
    """Return the community of an active social grid chosen for a record without a room."""
    row = session.execute(
        select(Grid.community_code)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(Grid.id == grid_id, GridVersion.layer == "social", GridVersion.status == "active")
    ).first()
    if row is None:
        raise ValidationFailed(
            f"网格 {grid_id} 不存在或未启用", f"grid {grid_id} does not exist or is not active",
            code="unknown_grid", field="grid_id",
        )  # fmt: skip
    if community_code and row[0] != community_code:
        raise ValidationFailed(
            f"网格 {grid_id} 不在社区 {community_code} 内", f"grid {grid_id} is not in community {community_code}",
            code="wrong_community", field="grid_id",
        )  # fmt: skip
    return str(row[0])


def household_room(
    session: Session, principal: Principal, person: Person, data: dict[str, Any]
) -> None:
    """Put a person without a room of his own into his household's room (人入户、户入房)."""
    if data.get("room_id") is not None or person.room_id is not None:
        return
    household_id = data.get("household_id")
    if household_id is None:
        return
    household = session.get(Household, int(household_id))
    if household is None:
        raise ValidationFailed(
            f"户 {household_id} 不存在", f"household {household_id} does not exist",
            code="unknown_household", field="household_id",
        )  # fmt: skip
    if household.room_id is not None:
        data["room_id"] = household.room_id
        person.grid_source = "household"  # type: ignore[attr-defined]
    elif not data.get("community_code"):
        data["community_code"] = household.community_code


def _set_household(session: Session, person: Person, data: dict[str, Any]) -> None:
    if data.get("relation"):
        relation = str(data["relation"]).strip()
        if relation not in RELATIONS:
            raise ValidationFailed(
                f"与户主关系 {relation} 无效，应为 {'、'.join(RELATIONS)} 之一",
                f"relation {relation!r} is not one of {', '.join(RELATIONS)}",
                code="bad_choice", field="relation",
            )  # fmt: skip
        person.relation = relation
    if data.get("household_id") is not None:
        household = session.get(Household, int(data["household_id"]))
        if household is None or household.community_code != person.community_code:
            raise ValidationFailed(
                f"户 {data['household_id']} 不在社区 {person.community_code} 内",
                f"household {data['household_id']} is not in community {person.community_code}",
                code="wrong_household", field="household_id",
            )  # fmt: skip
        person.household_id = household.id
    number = data.get("household_number")
    if number:
        household = session.scalar(
            select(Household).where(
                Household.number == str(number), Household.community_code == person.community_code
            )
        )
        if household is None:
            household = Household(
                number=str(number), community_code=person.community_code,
                county_code=person.community_code[:6], room_id=person.room_id,
            )  # fmt: skip
            session.add(household)
            session.flush()
        person.household_id = household.id


def _track_address(session: Session, person: Person, before: dict[str, Any]) -> None:
    if (before.get("room_id"), before.get("address")) == (person.room_id, person.address):
        return
    now = utcnow()
    for open_row in session.scalars(
        select(PersonAddress).where(
            PersonAddress.person_id == person.id, PersonAddress.until.is_(None)
        )
    ):
        open_row.until = now
    session.add(
        PersonAddress(
            person_id=person.id, county_code=person.county_code, room_id=person.room_id,
            address=person.address, community_code=person.community_code, since=now,
        )
    )  # fmt: skip


def save_person(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    person_id: int | None = None,
    today: date | None = None,
    audit: bool = True,
) -> Person:
    """Create a person (no id) or update the given fields of one; history and audit included."""
    principal.require("registry.write")
    if person_id is not None:
        person = get_person(session, principal, person_id)
        before: dict[str, Any] | None = snapshot(person)
    else:
        person, before = Person(labels=[], residence_kind="registered", community_code=""), None
    if "name" in data or before is None:
        person.name = required_text(data.get("name"), "name", "姓名不能为空", "name is required")
    _set_identity(person, data, today)
    if data.get("residence_kind"):
        person.residence_kind = choice(
            str(data["residence_kind"]), RESIDENCE_KINDS, "residence_kind", "人口类型"
        )
    if "nationality" in data:
        person.nationality = data["nationality"] or None
    data = dict(data)
    household_room(session, principal, person, data)
    _set_residence(session, principal, person, data)
    person.county_code = person.community_code[:6]
    if "labels" in data and data["labels"] is not None:
        sensitive = sensitive_codes(session)
        labels = parse_labels(session, principal, list(data["labels"]))
        person.labels = merge_hidden(labels, person.labels, principal, sensitive)
    if before is None:
        session.add(person)
    session.flush()
    _set_household(session, person, data)
    _track_address(session, person, before or {})
    log_saved(session, principal, object_type="person", obj=person, before=before, audit=audit)
    return person


GRID_SOURCES = {
    "room": ("居住房屋所在网格", "the grid of the room the person lives in"),
    "household": ("所属户的房屋所在网格", "the grid of the household's room"),
    "chosen": ("采集时选定的网格", "the grid chosen when the record was collected"),
    "worker": ("采集网格员负责的网格（无房屋）", "the collecting grid worker's grid (no room)"),
    "several": (
        "采集网格员负责多个网格，未自动归入网格，请选择网格",
        "the collecting grid worker serves several grids: none was chosen; choose one",
    ),
    "none": (
        "无网格：未填写房屋，也不是网格员采集",
        "no grid: no room, not collected by a grid worker",
    ),
}


def grid_source(person: Person) -> str:
    """Return where a person's grid comes from (set on a write, derived on a read)."""
    source = getattr(person, "grid_source", None)
    if source:
        return str(source)
    return "room" if person.room_id else ("chosen" if person.grid_id else "none")


def person_out(person: Person, principal: Principal, sensitive: set[str]) -> dict[str, Any]:
    """Return a person for lists and details: ID number and phone masked, labels filtered."""
    return {
        "id": person.id,
        "name": person.name,
        "id_number": mask_id_number(person.id_number),
        "birth_date": person.birth_date,
        "sex": person.sex,
        "phone": mask_phone(person.phone),
        "residence_kind": person.residence_kind,
        "residence_kind_name": RESIDENCE_KINDS.get(person.residence_kind),
        "nationality": person.nationality,
        "household_id": person.household_id,
        "relation": person.relation,
        "room_id": person.room_id,
        "address": person.address,
        "community_code": person.community_code,
        "grid_id": person.grid_id,
        "micro_grid_id": person.micro_grid_id,
        "grid_source": grid_source(person),
        "grid_source_name": GRID_SOURCES[grid_source(person)][0],
        "grid_source_name_en": GRID_SOURCES[grid_source(person)][1],
        "labels": visible_labels(person.labels, principal, sensitive),
        "verified_at": person.verified_at,
        "updated_at": person.updated_at,
    }


def reveal_person(
    session: Session, principal: Principal, person_id: int, reason: str
) -> dict[str, Any]:
    """Return a person's full ID number and phone; requires personal.unmask and is audited."""
    principal.require_with_reason(
        UNMASK, reason, doing_zh="查看完整身份信息", doing_en="see the full values"
    )
    person = get_person(session, principal, person_id)
    record(
        session, actor=principal.name, actor_id=principal.user_id, action=UNMASK,
        object_type="person", object_id=person.id, county_code=person.county_code,
        reason=reason.strip(), detail={"fields": ["id_number", "phone"]},
    )  # fmt: skip
    return {
        "id": person.id,
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
    }


def delete_person(session: Session, principal: Principal, person_id: int) -> None:
    """Remove a person (moved away, deceased); the history keeps the record of it."""
    principal.require("registry.write")
    person = get_person(session, principal, person_id)
    check_area(session, principal, person.community_code, person.grid_id, person.micro_grid_id)
    before = snapshot(person)
    session.delete(person)
    log_change(session, principal, object_type="person", obj=person, action="delete", before=before)


def addresses(session: Session, principal: Principal, person_id: int) -> list[PersonAddress]:
    """Return a person's addresses over time, oldest first."""
    get_person(session, principal, person_id)
    return list(
        session.scalars(
            select(PersonAddress)
            .where(PersonAddress.person_id == person_id)
            .order_by(PersonAddress.id)
        )
    )


def verify(session: Session, principal: Principal, obj: Any, object_type: str) -> None:
    """Mark a record as checked on site today (freshness)."""
    principal.require("registry.write")
    before = snapshot(obj)
    obj.verified_at = utcnow()
    log_change(session, principal, object_type=object_type, obj=obj, action="verify", before=before)
