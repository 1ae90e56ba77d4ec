"""The spreadsheet layout of each registry kind (people, buildings, rooms, components, organisations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.masking import mask_id_number, mask_phone
from wangge.errors import ValidationFailed
from wangge.registry import components as comp_service
from wangge.registry import houses, organisations, people, people_search
from wangge.registry.access import require_community
from wangge.registry.excel import Column, Sheet
from wangge.registry.labels import label_kinds, sensitive_codes, visible_labels
from wangge.registry.models_components import NETWORKS, STATES
from wangge.registry.models_houses import ROOM_USES, Building, Room
from wangge.registry.models_organisations import GRADES, ORG_KINDS
from wangge.registry.models_people import RELATIONS, RESIDENCE_KINDS, Household

ID = Column("id", "系统编号", "int", width=10)
PURPOSES = ("住宅", "商业", "办公", "工业", "公共服务", "其他")


def _shown(value: str | None, unmask: bool, mask: Any) -> str | None:
    return value if unmask else mask(value)


# ---------------------------------------------------------------------------- people


def _save_person(
    session: Session, principal: Principal, data: dict[str, Any], record_id: int | None
) -> Any:
    building_name, unit, number = (
        data.pop("building", None),
        data.pop("unit", None),
        data.pop("room", None),
    )
    if building_name and number:
        community = require_community(session, data.get("community_code"))
        building = houses.find_building(session, community, building_name)
        if building is None:
            raise ValidationFailed(
                f"社区 {community} 中没有名为 {building_name} 的楼栋",
                f"no building {building_name} in community {community}", field="building",
            )  # fmt: skip
        room = session.scalar(
            select(Room).where(
                Room.building_id == building.id, Room.number == number, Room.unit == (unit or None)
            )
        )
        if room is None:
            room = houses.save_room(
                session,
                principal,
                {"building_id": building.id, "unit": unit, "number": number},
                audit=False,
            )
        data["room_id"] = room.id
    return people.save_person(session, principal, data, person_id=record_id, audit=False)


def _person_row(
    session: Session, person: Any, principal: Principal, unmask: bool
) -> dict[str, Any]:
    room = session.get(Room, person.room_id) if person.room_id else None
    building = session.get(Building, room.building_id) if room else None
    household = session.get(Household, person.household_id) if person.household_id else None
    kinds = label_kinds(session)
    labels = visible_labels(person.labels, principal, sensitive_codes(session))
    return {
        "id": person.id, "name": person.name,
        "id_number": _shown(person.id_number, unmask, mask_id_number),
        "phone": _shown(person.phone, unmask, mask_phone),
        "residence_kind": RESIDENCE_KINDS.get(person.residence_kind), "nationality": person.nationality,
        "community_code": person.community_code, "building": building.name if building else None,
        "unit": room.unit if room else None, "room": room.number if room else None,
        "address": person.address, "household_number": household.number if household else None,
        "relation": person.relation, "labels": [kinds[c].name if c in kinds else c for c in labels],
    }  # fmt: skip


PEOPLE = Sheet(
    kind="people",
    title="实有人口",
    columns=(
        ID,
        Column("name", "姓名", required=True),
        Column("id_number", "公民身份号码", width=22),
        Column("phone", "联系电话"),
        Column("residence_kind", "人口类型", choices=tuple(RESIDENCE_KINDS.values())),
        Column("nationality", "国籍（境外人员）"),
        Column("community_code", "所属社区", required=True, width=16),
        Column("building", "楼栋"),
        Column("unit", "单元", width=8),
        Column("room", "房号", width=8),
        Column("address", "居住地址", width=30),
        Column("household_number", "户号"),
        Column("relation", "与户主关系", choices=RELATIONS),
        Column("labels", "人员标签", "list", width=24),
    ),
    save=_save_person,
    query=people_search.people_query,
    export_row=_person_row,
    field_columns={"room_id": "room"},
)


# ------------------------------------------------------------------------- buildings


def _save_building(
    session: Session, principal: Principal, data: dict[str, Any], record_id: int | None
) -> Any:
    return houses.save_building(session, principal, data, building_id=record_id, audit=False)


def _building_row(session: Session, b: Any, principal: Principal, unmask: bool) -> dict[str, Any]:
    return {
        "id": b.id, "name": b.name, "community_code": b.community_code, "address": b.address,
        "lon": b.lon, "lat": b.lat, "floors": b.floors, "purpose": b.purpose,
    }  # fmt: skip


BUILDINGS = Sheet(
    kind="buildings",
    title="楼栋",
    columns=(
        ID,
        Column("name", "楼栋名称", required=True),
        Column("community_code", "所属社区", required=True, width=16),
        Column("address", "地址", width=30),
        Column("lon", "经度", "float"),
        Column("lat", "纬度", "float"),
        Column("floors", "层数", "int", width=8),
        Column("purpose", "用途", choices=PURPOSES),
    ),
    save=_save_building,
    query=houses.buildings_query,
    export_row=_building_row,
)


# ----------------------------------------------------------------------------- rooms


def _save_room(
    session: Session, principal: Principal, data: dict[str, Any], record_id: int | None
) -> Any:
    community, name = data.pop("community_code", None), data.pop("building", None)
    if record_id is None:
        building = houses.find_building(session, require_community(session, community), str(name))
        if building is None:
            raise ValidationFailed(
                f"楼栋 {name} 不存在", f"building {name} does not exist", field="building"
            )
        data["building_id"] = building.id
    if data.get("use"):
        data["use"] = next(code for code, label in ROOM_USES.items() if label == data["use"])
    return houses.save_room(session, principal, data, room_id=record_id, audit=False)


def _room_row(session: Session, room: Any, principal: Principal, unmask: bool) -> dict[str, Any]:
    building = session.get(Building, room.building_id)
    return {
        "id": room.id, "community_code": room.community_code, "building": building.name if building else None,
        "unit": room.unit, "floor": room.floor, "number": room.number, "area_m2": room.area_m2,
        "use": ROOM_USES.get(room.use), "landlord_name": room.landlord_name,
        "landlord_phone": _shown(room.landlord_phone, unmask, mask_phone),
    }  # fmt: skip


def _rooms_query(principal: Principal, **filters: Any) -> Any:
    return houses.rooms_query(principal, **filters)


ROOMS = Sheet(
    kind="rooms",
    title="房屋",
    columns=(
        ID,
        Column("community_code", "所属社区", required=True, width=16),
        Column("building", "楼栋", required=True),
        Column("unit", "单元", width=8),
        Column("floor", "楼层", "int", width=8),
        Column("number", "房号", required=True, width=8),
        Column("area_m2", "面积（平方米）", "float"),
        Column("use", "用途", choices=tuple(ROOM_USES.values())),
        Column("landlord_name", "房东姓名"),
        Column("landlord_phone", "房东电话"),
    ),
    save=_save_room,
    query=_rooms_query,
    export_row=_room_row,
    field_columns={"building_id": "building"},
)


# ------------------------------------------------------------------------ components


def _class_code(value: str) -> str:
    # The drop-down shows "0101 上水井盖"; the code is the first word.
    return value.split()[0] if value else value


def _save_component(
    session: Session, principal: Principal, data: dict[str, Any], record_id: int | None
) -> Any:
    data.pop("code", None)  # assigned by the system, never taken from a file
    if data.get("class_code"):
        data["class_code"] = _class_code(str(data["class_code"]))
    if data.get("network"):
        data["network"] = next(
            (k for k, v in NETWORKS.items() if v == data["network"]), data["network"]
        )
    if record_id:
        data.pop("class_code", None)
    return comp_service.save_component(
        session, principal, data, component_id=record_id, audit=False
    )


def _component_row(session: Session, c: Any, principal: Principal, unmask: bool) -> dict[str, Any]:
    wkt = c.geom.wkt if c.geom is not None and c.geom.geom_type != "Point" else None
    return {
        "id": c.id, "code": c.code, "class_code": c.class_code, "name": c.name,
        "community_code": c.community_code, "lon": c.lon, "lat": c.lat, "wkt": wkt,
        "network": NETWORKS.get(c.network or ""), "competent_dept": c.competent_dept,
        "owner_dept": c.owner_dept, "owner_department_code": c.owner_department_code,
        "maintenance_dept": c.maintenance_dept, "state": c.state,
        "initial_date": c.initial_date, "change_date": c.change_date, "data_source": c.data_source,
        "note": c.note,
    }  # fmt: skip


def _component_choices(session: Session, county: str | None) -> dict[str, tuple[str, ...]]:
    from wangge.departments.service import active_for_county

    catalogue = comp_service.catalogue_for(session, county or "110108")
    out = {"class_code": tuple(f"{m.code} {m.name}" for m in catalogue)}
    # The departments the county's cases may go to (checked again on import).
    owners = tuple(c for c, _ in active_for_county(session, county)) if county else ()
    if owners:
        out["owner_department_code"] = owners
    return out


COMPONENTS = Sheet(
    kind="components",
    title="部件",
    columns=(
        ID,
        Column("code", "部件标识码", width=20),
        Column("class_code", "小类", required=True, width=18),
        Column("name", "名称"),
        Column("community_code", "所属社区", width=16),
        Column("lon", "经度", "float"),
        Column("lat", "纬度", "float"),
        Column("wkt", "几何（WKT，线/面）", width=30),
        Column("network", "管线类别", choices=tuple(NETWORKS.values())),
        Column("competent_dept", "主管部门"),
        Column("owner_dept", "权属单位"),
        Column("owner_department_code", "权属部门代码（派遣）", width=16),
        Column("maintenance_dept", "养护单位"),
        Column("state", "状态", choices=STATES, width=8),
        Column("initial_date", "初始日期", "date"),
        Column("change_date", "变更日期", "date"),
        Column("data_source", "数据来源"),
        Column("note", "备注", width=24),
    ),
    save=_save_component,
    query=comp_service.components_query,
    export_row=_component_row,
    choices_for=_component_choices,
)


# --------------------------------------------------------------------- organisations


def _save_org(
    session: Session, principal: Principal, data: dict[str, Any], record_id: int | None
) -> Any:
    return organisations.save_organisation(session, principal, data, org_id=record_id, audit=False)


def _org_row(session: Session, o: Any, principal: Principal, unmask: bool) -> dict[str, Any]:
    return {
        "id": o.id, "name": o.name, "kind": ORG_KINDS.get(o.kind), "credit_code": o.credit_code,
        "legal_rep": o.legal_rep, "phone": _shown(o.phone, unmask, mask_phone),
        "community_code": o.community_code, "address": o.address, "lon": o.lon, "lat": o.lat,
        "industry": o.industry, "employees": o.employees, "contracts_signed": o.contracts_signed,
        "insured": o.insured, "integrity_grade": o.integrity_grade,
    }  # fmt: skip


ORGANISATIONS = Sheet(
    kind="organisations",
    title="组织",
    columns=(
        ID,
        Column("name", "名称", required=True, width=24),
        Column("kind", "组织类型", choices=tuple(ORG_KINDS.values())),
        Column("credit_code", "统一社会信用代码", width=22),
        Column("legal_rep", "法定代表人"),
        Column("phone", "联系电话"),
        Column("community_code", "所属社区", required=True, width=16),
        Column("address", "地址", width=30),
        Column("lon", "经度", "float"),
        Column("lat", "纬度", "float"),
        Column("industry", "行业"),
        Column("employees", "从业人数", "int"),
        Column("contracts_signed", "签订劳动合同人数", "int"),
        Column("insured", "参保人数", "int"),
        Column("integrity_grade", "守法诚信等级", choices=GRADES, width=8),
    ),
    save=_save_org,
    query=organisations.organisations_query,
    export_row=_org_row,
)

SHEETS: dict[str, Sheet] = {
    s.kind: s for s in (PEOPLE, BUILDINGS, ROOMS, COMPONENTS, ORGANISATIONS)
}


def sheet_for(kind: str) -> Sheet:
    """Return the sheet of a kind, or raise ValidationFailed naming the known kinds."""
    if kind not in SHEETS:
        raise ValidationFailed(
            f"未知的数据类别 {kind}，应为 {'、'.join(SHEETS)} 之一",
            f"unknown kind {kind}; expected one of {', '.join(SHEETS)}", field="kind",
        )  # fmt: skip
    return SHEETS[kind]
