"""What the registry pages show per kind: tabs, filters, table columns and detail fields.

Rows come from the registry API's own serialisers (`person_out`, `room_out` …), so a page
masks exactly what the API masks; this module only picks and labels the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.registry import components, houses, organisations, people, people_search
from wangge.registry.labels import label_kinds, sensitive_codes
from wangge.registry.models_components import NETWORKS, STATES
from wangge.registry.models_houses import ROOM_USES
from wangge.registry.models_organisations import GRADES, ORG_KINDS
from wangge.registry.models_people import RESIDENCE_KINDS
from wangge.registry.sheets import sheet_for
from wangge.registry.views_organisations import organisation_out
from wangge.registry.views_places import building_out, component_out, room_out

PAGE_SIZE = 50
# Columns holding a name from a code list: translated on English pages (other values are data).
CODED_COLUMNS = frozenset(
    {"sex", "residence_kind_name", "purpose", "use_name", "state", "network_name", "kind_name"}
)  # fmt: skip
ACTIONS = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "verify": "现场核实",
    "merge": "合并",
}


@dataclass(frozen=True)
class Filter:
    """A drop-down filter of a list: its query parameter (the API's name) and choices."""

    param: str
    label: str
    choices: tuple[tuple[str, str], ...]  # (value, shown label)


@dataclass(frozen=True)
class Tab:
    """One kind of record as a list page."""

    kind: str
    label: str
    search_hint: str
    columns: tuple[tuple[str, str], ...]  # (row key, header)
    query: Callable[..., Any]  # (principal, **filters) -> Select, the registry service's
    out: Callable[[Session, Principal, Any], dict[str, Any]]
    filters: tuple[Filter, ...] = ()
    # Page parameter -> service keyword, where they differ (organisations' kind).
    service_names: dict[str, str] = field(default_factory=dict)


def _person(session: Session, me: Principal, p: Any) -> dict[str, Any]:
    row = people.person_out(p, me, sensitive_codes(session))
    kinds = label_kinds(session)
    row["labels_shown"] = "、".join(kinds[c].name if c in kinds else c for c in row["labels"])
    return row


def _building(session: Session, me: Principal, b: Any) -> dict[str, Any]:
    return building_out(b)


def _room(session: Session, me: Principal, r: Any) -> dict[str, Any]:
    row = room_out(r)
    row["use_name"] = ROOM_USES.get(r.use, r.use)
    row["verified_at"] = r.verified_at
    return row


def _component(session: Session, me: Principal, c: Any) -> dict[str, Any]:
    row = component_out(c)
    minor = components.catalogue_for(session, c.county_code, c.scheme).get(c.class_code)
    row["class_name"] = f"{c.class_code} {minor.name}" if minor else c.class_code
    row["network_name"] = NETWORKS.get(c.network or "", "")
    return row


def _organisation(session: Session, me: Principal, o: Any) -> dict[str, Any]:
    row = organisation_out(o)
    row["kind_name"] = ORG_KINDS.get(o.kind, o.kind)
    return row


def _pairs(values: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(values, dict):
        return tuple(values.items())
    return tuple((v, v) for v in values)


TABS: dict[str, Tab] = {
    t.kind: t
    for t in (
        Tab(
            "people", "人口", "姓名、身份证号、电话或地址",
            (("name", "姓名"), ("id_number", "公民身份号码"), ("sex", "性别"),
             ("phone", "联系电话"), ("residence_kind_name", "人口类型"), ("address", "居住地址"),
             ("community", "所属社区"), ("grid", "所在网格"), ("labels_shown", "人员标签")),
            people_search.people_query, _person,
            (Filter("residence_kind", "人口类型", _pairs(RESIDENCE_KINDS)),),
        ),
        Tab(
            "buildings", "楼栋", "楼栋名称或地址",
            (("name", "楼栋名称"), ("address", "地址"), ("floors", "层数"), ("purpose", "用途"),
             ("community", "所属社区"), ("grid", "所在网格")),
            houses.buildings_query, _building,
        ),
        Tab(
            "rooms", "房屋", "房号、房东、楼栋名称或地址",
            (("building_name", "所在楼栋"), ("unit", "单元"), ("number", "房号"), ("area_m2", "面积（平方米）"),
             ("use_name", "用途"), ("landlord_name", "房东姓名"), ("landlord_phone", "房东电话"),
             ("community", "所属社区")),
            houses.rooms_query, _room,
            (Filter("use", "用途", _pairs(ROOM_USES)),),
        ),
        Tab(
            "components", "部件", "部件标识码或名称",
            (("code", "部件标识码"), ("class_name", "小类"), ("name", "名称"), ("state", "状态"),
             ("maintenance_dept", "养护单位"), ("community", "所属社区"), ("grid", "所在网格")),
            components.components_query, _component,
            (Filter("state", "状态", _pairs(STATES)),),
        ),
        Tab(
            "organisations", "单位/组织", "单位名称",
            (("name", "名称"), ("kind_name", "组织类型"), ("credit_code", "统一社会信用代码"),
             ("legal_rep", "法定代表人"), ("phone", "联系电话"), ("employees", "从业人数"),
             ("integrity_grade", "守法诚信等级"), ("community", "所属社区"), ("grid", "所在网格")),
            organisations.organisations_query, _organisation,
            (Filter("org_kind", "组织类型", _pairs(ORG_KINDS)),
             Filter("integrity_grade", "守法诚信等级", _pairs(GRADES))),
            {"org_kind": "kind"},
        ),
    )
}  # fmt: skip

# Detail pages: (row key, label) in order; the masked personal fields carry a test id.
DETAIL_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "people": (
        ("name", "姓名"), ("id_number", "公民身份号码"), ("sex", "性别"), ("birth_date", "出生日期"),
        ("phone", "联系电话"), ("residence_kind_name", "人口类型"), ("nationality", "国籍（境外人员）"),
        ("relation", "与户主关系"), ("address", "居住地址"), ("community", "所属社区"), ("grid", "所在网格"),
        ("labels_shown", "人员标签"),
    ),
    "buildings": (
        ("name", "楼栋名称"), ("address", "地址"), ("floors", "层数"), ("purpose", "用途"),
        ("community", "所属社区"), ("grid", "所在网格"), ("position", "位置"),
    ),
    "rooms": (
        ("building_name", "所在楼栋"), ("unit", "单元"), ("floor", "楼层"), ("number", "房号"),
        ("area_m2", "面积（平方米）"), ("use_name", "用途"), ("landlord_name", "房东姓名"),
        ("landlord_phone", "房东电话"), ("community", "所属社区"),
    ),
    "components": (
        ("code", "部件标识码"), ("class_name", "小类"), ("name", "名称"), ("state", "状态"),
        ("network_name", "管线类别"), ("competent_dept", "主管部门"), ("owner_dept", "权属单位"),
        ("maintenance_dept", "养护单位"), ("initial_date", "初始日期"), ("change_date", "变更日期"),
        ("data_source", "数据来源"), ("note", "备注"), ("community", "所属社区"), ("grid", "所在网格"),
        ("position", "位置"),
    ),
    "organisations": (
        ("name", "名称"), ("kind_name", "组织类型"), ("credit_code", "统一社会信用代码"),
        ("legal_rep", "法定代表人"), ("phone", "联系电话"), ("address", "地址"), ("industry", "行业"),
        ("employees", "从业人数"), ("contracts_signed", "签订劳动合同人数"), ("insured", "参保人数"),
        ("integrity_grade", "守法诚信等级"), ("community", "所属社区"), ("grid", "所在网格"),
    ),
}  # fmt: skip

# History field names that are not spreadsheet columns.
_EXTRA_FIELD_NAMES = {
    "room_id": "居住房屋", "household_id": "户", "grid_id": "所在网格", "unit_grid_id": "单元网格",
    "verified_at": "核实时间", "merged_into_id": "合并到", "birth_date": "出生日期", "sex": "性别",
    "building_id": "楼栋", "county_code": "区县", "scheme": "编码标准", "attributes": "扩展属性",
    "lon": "经度", "lat": "纬度", "micro_grid_id": "微网格",
    "tenant_name": "承租人", "contract_no": "合同编号", "start_date": "起租日期", "end_date": "到期日期",
}  # fmt: skip


def field_names(kind: str) -> dict[str, str]:
    """Return {field: Chinese name} for the history of a kind (template headers first)."""
    names = dict(_EXTRA_FIELD_NAMES)
    names.update({c.key: c.header for c in sheet_for(kind).columns})
    names.update({"id_number": "公民身份号码", "phone": "联系电话", "labels": "人员标签"})
    return names


# Coded history values shown by their names; the record's own id and county say nothing new.
_CODED = {
    "residence_kind": RESIDENCE_KINDS,
    "use": ROOM_USES,
    "kind": ORG_KINDS,
    "network": NETWORKS,
}
_HIDDEN_CHANGES = {"id", "county_code"}


def history_rows(
    kind: str, changes: list[dict[str, Any]], coded: dict[str, dict[Any, str]]
) -> list[dict[str, Any]]:
    """Return the history newest first, each change as (field, name, old, new) texts.

    `coded` names more coded values (labels, grid ids) beside the fixed code lists.
    """
    names = field_names(kind)
    coded = {**_CODED, **coded}
    out = []
    for c in reversed(changes):
        rows = []
        for f, (old, new) in c["changes"].items():
            if f in _HIDDEN_CHANGES:
                continue
            codes = coded.get(f, {})
            rows.append((f, names.get(f, f), _named(old, codes), _named(new, codes)))
        out.append({"at": c["at"], "actor": c["actor"], "action": c["action"], "rows": rows})
    return out


def _named(value: Any, codes: dict[Any, str]) -> str:
    if isinstance(value, list):
        return shown([_named(v, codes) for v in value])
    if isinstance(value, str | int) and value in codes:
        return codes[value]
    return shown(value)


def shown(value: Any) -> str:
    """Return a value as table text (lists joined, nothing for None)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # component attributes
        return "；".join(f"{k}: {shown(v)}" for k, v in value.items())
    return str(value)
