"""信息采集 on the console: the fields of the create/edit forms (the registry's own code lists)
and the 走访 page (`/console/visits`: coverage per grid, households, visits).

The forms post the /api/v1/registry routes from the browser (static/registry_forms.js,
static/visits.js); every check is the service's (the Excel import's), shown next to its field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.errors import DomainError
from wangge.registry import visits
from wangge.registry.models_components import STATES
from wangge.registry.models_houses import ROOM_USES
from wangge.registry.models_organisations import GRADES, ORG_KINDS
from wangge.registry.models_people import RELATIONS, RESIDENCE_KINDS
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)

Field = dict[str, Any]


def _f(key: str, zh: str, en: str, kind: str = "text", **more: Any) -> Field:
    return {"key": key, "zh": zh, "en": en, "type": kind, **more}


def _choices(pairs: dict[str, str] | tuple[str, ...]) -> list[list[str]]:
    if isinstance(pairs, dict):
        return [[code, label] for code, label in pairs.items()]
    return [[value, value] for value in pairs]


# `create`: only when creating (a building's room, a component's class); codes are kept.
FORMS: dict[str, list[Field]] = {
    "people": [
        _f("name", "姓名", "Name", required=True),
        _f("id_number", "公民身份号码", "ID number"),
        _f("phone", "联系电话", "Phone"),
        _f("residence_kind", "人口类型", "Residence", "select", choices=_choices(RESIDENCE_KINDS)),
        _f("nationality", "国籍", "Nationality"),
        _f("community_code", "所属社区代码", "Community code"),
        _f("room_id", "居住房屋编号", "Room id", "int"),
        _f("household_id", "所属户编号", "Household id", "int"),
        _f("relation", "与户主关系", "Relation", "select", choices=_choices(RELATIONS)),
        _f("grid_id", "网格编号（无房屋时）", "Grid id (without a room)", "int"),
        _f("address", "地址", "Address"),
    ],
    "households": [
        _f("number", "户号", "Household number", required=True),
        _f("community_code", "所属社区代码", "Community code"),
        _f("room_id", "房屋编号", "Room id", "int"),
    ],
    "buildings": [
        _f("name", "楼栋名称", "Name", required=True),
        _f("address", "地址", "Address"),
        _f("community_code", "所属社区代码", "Community code"),
        _f("floors", "层数", "Floors", "int"),
        _f("purpose", "用途", "Purpose"),
        _f("lon", "经度", "Longitude", "float"),
        _f("lat", "纬度", "Latitude", "float"),
    ],
    "rooms": [
        _f("building_id", "楼栋编号", "Building id", "int", create=True, required=True),
        _f("unit", "单元", "Unit"),
        _f("floor", "楼层", "Floor", "int"),
        _f("number", "房号", "Room number", required=True),
        _f("area_m2", "面积（平方米）", "Area (m²)", "float"),
        _f("use", "房屋用途", "Use", "select", choices=_choices(ROOM_USES)),
        _f("landlord_name", "房东姓名", "Landlord"),
        _f("landlord_phone", "房东电话", "Landlord phone"),
    ],
    "organisations": [
        _f("name", "名称", "Name", required=True),
        _f("kind", "组织类型", "Kind", "select", choices=_choices(ORG_KINDS)),
        _f("credit_code", "统一社会信用代码", "Credit code"),
        _f("legal_rep", "法定代表人", "Legal representative"),
        _f("phone", "联系电话", "Phone"),
        _f("address", "地址", "Address"),
        _f("community_code", "所属社区代码", "Community code"),
        _f("lon", "经度", "Longitude", "float"),
        _f("lat", "纬度", "Latitude", "float"),
        _f("industry", "行业", "Industry"),
        _f("employees", "从业人数", "Employees", "int"),
        _f("contracts_signed", "签订劳动合同人数", "With a contract", "int"),
        _f("insured", "参保人数", "Insured", "int"),
        _f(
            "integrity_grade", "守法诚信等级", "Integrity grade", "select", choices=_choices(GRADES)
        ),
    ],
    "components": [
        _f("class_code", "部件小类代码", "Class code", create=True, required=True),
        _f("name", "名称", "Name"),
        _f("community_code", "所属社区代码", "Community code"),
        _f("lon", "经度", "Longitude", "float", required=True),
        _f("lat", "纬度", "Latitude", "float", required=True),
        _f("competent_dept", "主管部门", "Competent department"),
        _f("owner_dept", "权属单位", "Owner"),
        _f("maintenance_dept", "养护单位", "Maintenance"),
        _f("state", "状态", "State", "select", choices=_choices(STATES)),
        _f("note", "备注", "Note"),
    ],
}


@router.get("/web/api/registry/forms")
def form_fields(principal: PrincipalDep) -> dict[str, list[Field]]:
    """Return the fields of the 信息采集 forms per kind, with the registry's code lists."""
    principal.require("registry.read")
    return FORMS


@router.get("/console/visits")
def visits_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("registry.read"):
        message = "没有权限：registry.read / permission required: registry.read"
        return render(request, "message.html", me, title="入户走访", message=message)
    try:
        cover = visits.coverage(session, me, community=request.query_params.get("community"))
    except DomainError as exc:
        return render(request, "message.html", me, title="入户走访", message=exc.message_zh)
    return render(
        request, "console_visits.html", me, coverage=cover, can_write=me.can("registry.write")
    )
