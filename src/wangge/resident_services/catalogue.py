"""The county's 代办 catalogue: the default services, and an administrator's edits.

Each service carries the materials a resident must bring and its response rule: answer
(接单) within `respond_hours`, settle within `answer_hours`, or `complex_hours` once the
grid worker marks the matter complex and says why (金牛: 2 h / 24 h / 72 h). Hours are working
hours of the official calendar unless `around_the_clock`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.divisions.models import Division
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.resident_services.models import ServiceItem

MANAGE = "categories.manage"  # the same post keeps the catalogue of matters and of services
MAX_HOURS = 8760.0
FAMILIES: dict[str, tuple[str, str]] = {
    "social_security": ("社保", "Social insurance"),
    "medical_insurance": ("医保", "Medical insurance"),
    "certificates": ("证照", "Certificates and licences"),
    "elderly": ("养老", "Elderly care"),
    "disability": ("残疾人", "Disability"),
    "employment": ("就业", "Employment"),
    "civil_affairs": ("民政", "Civil affairs"),
}
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,15}$")


@dataclass(frozen=True)
class Default:
    code: str
    family: str
    name: str
    name_en: str
    materials: tuple[str, ...]


_ID = "居民身份证"
DEFAULTS: tuple[Default, ...] = (
    Default("SB-01", "social_security", "城乡居民养老保险参保登记", "Residents' pension enrolment",
            (_ID, "户口簿", "一寸照片")),
    Default("SB-02", "social_security", "社保缴费证明打印", "Social insurance payment record",
            (_ID,)),
    Default("YB-01", "medical_insurance", "城乡居民医保参保缴费", "Residents' medical insurance",
            (_ID, "户口簿")),
    Default("YB-02", "medical_insurance", "门诊慢特病待遇申请", "Chronic disease benefits",
            (_ID, "医保卡", "二级以上医院诊断证明", "近期病历")),
    Default("ZZ-01", "certificates", "居住证办理", "Residence permit",
            (_ID, "租房合同或房产证明", "一寸照片")),
    Default("ZZ-02", "certificates", "身份证换领补领", "Identity card renewal",
            (_ID, "户口簿")),
    Default("YL-01", "elderly", "高龄津贴申请", "Old-age allowance", (_ID, "户口簿", "银行卡")),
    Default("YL-02", "elderly", "居家养老服务申请", "Home care for the elderly",
            (_ID, "户口簿", "老年人能力评估表")),
    Default("CJ-01", "disability", "残疾人证办理", "Disability certificate",
            (_ID, "户口簿", "二寸照片", "医院诊断证明")),
    Default("CJ-02", "disability", "残疾人两项补贴申请", "Disability living and care allowances",
            (_ID, "残疾人证", "银行卡")),
    Default("JY-01", "employment", "就业失业登记", "Employment and unemployment registration",
            (_ID, "一寸照片")),
    Default("JY-02", "employment", "灵活就业社保补贴", "Social insurance subsidy for flexible work",
            (_ID, "就业创业证", "社保缴费凭证")),
)  # fmt: skip
DEFAULT_HOURS = {"respond_hours": 2.0, "answer_hours": 24.0, "complex_hours": 72.0}


def seed_catalogue(session: Session, county_code: str) -> int:
    """Add the default services to a county that has none (disabled ones count): idempotent."""
    have = session.scalar(
        select(ServiceItem.id).where(ServiceItem.county_code == county_code).limit(1)
    )
    if have is not None:
        return 0
    for d in DEFAULTS:
        session.add(
            ServiceItem(
                county_code=county_code, code=d.code, family=d.family, name=d.name,
                name_en=d.name_en, materials=list(d.materials), around_the_clock=False,
                is_active=True, **DEFAULT_HOURS,
            )
        )  # fmt: skip
    session.flush()
    return len(DEFAULTS)


def item_dict(item: ServiceItem) -> dict[str, Any]:
    """Return a catalogue entry as plain data (API, pages, audit detail)."""
    zh, en = FAMILIES.get(item.family, (item.family, item.family))
    return {
        "id": item.id, "county_code": item.county_code, "code": item.code,
        "family": item.family, "family_zh": zh, "family_en": en, "name": item.name,
        "name_en": item.name_en, "materials": list(item.materials or []),
        "respond_hours": item.respond_hours, "answer_hours": item.answer_hours,
        "complex_hours": item.complex_hours, "around_the_clock": item.around_the_clock,
        "is_active": item.is_active,
    }  # fmt: skip


def list_items(
    session: Session, county_code: str | None = None, *, include_inactive: bool = False
) -> list[ServiceItem]:
    """Return the catalogue of one county (or all), family by family."""
    q = select(ServiceItem)
    if county_code is not None:
        q = q.where(ServiceItem.county_code == county_code)
    if not include_inactive:
        q = q.where(ServiceItem.is_active.is_(True))
    return list(session.scalars(q.order_by(ServiceItem.county_code, ServiceItem.code)))


def get_item(session: Session, item_id: int) -> ServiceItem:
    """Return a catalogue entry or raise NotFound."""
    item = session.get(ServiceItem, item_id)
    if item is None:
        raise NotFound(f"代办事项 {item_id} 不存在", f"service {item_id} does not exist")
    return item


def may_manage(session: Session, principal: Principal, county_code: str) -> None:
    """Refuse a user who may not edit this county's catalogue, or an unknown county."""
    principal.require(MANAGE)
    if not principal.contains(county_code):
        raise Forbidden(
            f"无权修改区县 {county_code} 的代办事项", f"county {county_code} is outside your scope",
            code="out_of_scope", field="county_code",
        )  # fmt: skip
    if session.get(Division, county_code) is None:
        raise ValidationFailed(
            f"区县 {county_code} 不存在", f"county {county_code} does not exist",
            code="unknown_county", field="county_code",
        )  # fmt: skip


def _hours(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{name} 必须是数字", f"{name} must be a number", field=name)
    if not math.isfinite(value) or value <= 0 or value > MAX_HOURS:
        raise ValidationFailed(
            f"{name} 必须大于 0 且不超过 {MAX_HOURS:g} 小时",
            f"{name} must be above 0 and at most {MAX_HOURS:g}", code="bad_hours", field=name,
        )  # fmt: skip
    return float(value)


def _materials(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise ValidationFailed(
            "所需材料必须是文字列表", "materials must be a list of texts", field="materials"
        )
    out = [m.strip() for m in value if m.strip()]
    if len(out) > 30 or any(len(m) > 100 for m in out):
        raise ValidationFailed(
            "所需材料最多 30 项，每项不超过 100 字",
            "at most 30 materials of at most 100 characters each", field="materials",
        )  # fmt: skip
    return out


def _check(item: ServiceItem) -> None:
    if not item.name.strip():
        raise ValidationFailed("事项名称不能为空", "the service needs a name", field="name")
    if item.family not in FAMILIES:
        raise ValidationFailed(
            f"未知的服务类别 {item.family}（可选：{', '.join(FAMILIES)}）",
            f"unknown family {item.family!r} (one of: {', '.join(FAMILIES)})",
            code="unknown_family", field="family",
        )  # fmt: skip
    if not item.respond_hours <= item.answer_hours <= item.complex_hours:
        raise ValidationFailed(
            "时限须满足：接单 ≤ 办结 ≤ 复杂事项办结",
            "hours must satisfy respond ≤ answer ≤ complex", code="bad_hours",
            field="answer_hours",
        )  # fmt: skip


def _audit(
    session: Session, principal: Principal, action: str, item: ServiceItem, now: datetime
) -> None:
    record_for(
        session, principal, f"resident_service_item.{action}", object_type="resident_service_item",
        object_id=item.id, county_code=item.county_code, detail=item_dict(item), at=now,
    )  # fmt: skip


def create_item(
    session: Session, principal: Principal, data: dict[str, Any], *, now: datetime
) -> ServiceItem:
    """Add a service to a county's catalogue; refuse bad values and a taken code."""
    county = str(data.get("county_code") or "")
    may_manage(session, principal, county)
    code = str(data.get("code") or "").strip().upper()
    if not _CODE.match(code):
        raise ValidationFailed(
            f"事项编码 {code or '（空）'} 不正确：2–16 位大写字母、数字或连字符",
            f"bad service code {code!r}: 2-16 capital letters, digits or hyphens",
            code="bad_service_code", field="code",
        )  # fmt: skip
    taken = session.scalar(
        select(ServiceItem.id).where(ServiceItem.county_code == county, ServiceItem.code == code)
    )
    if taken is not None:
        raise Conflict(
            f"区县 {county} 已有事项编码 {code}", f"county {county} already has service {code}",
            code="duplicate_service", field="code",
        )  # fmt: skip
    item = ServiceItem(
        county_code=county, code=code, family=str(data.get("family") or ""),
        name=str(data.get("name") or "").strip(),
        name_en=str(data.get("name_en") or "").strip() or str(data.get("name") or "").strip(),
        materials=_materials(data.get("materials", [])),
        respond_hours=_hours("respond_hours", data.get("respond_hours", 2.0)),
        answer_hours=_hours("answer_hours", data.get("answer_hours", 24.0)),
        complex_hours=_hours("complex_hours", data.get("complex_hours", 72.0)),
        around_the_clock=bool(data.get("around_the_clock", False)), is_active=True,
    )  # fmt: skip
    _check(item)
    session.add(item)
    session.flush()
    _audit(session, principal, "create", item, now)
    return item


_EDITABLE = frozenset(
    {"family", "name", "name_en", "materials", "respond_hours", "answer_hours",
     "complex_hours", "around_the_clock", "is_active"}
)  # fmt: skip


def update_item(
    session: Session, principal: Principal, item_id: int, changes: dict[str, Any], *, now: datetime
) -> ServiceItem:
    """Change a service; requests already made keep the rule they were promised."""
    principal.require(MANAGE)
    item = get_item(session, item_id)
    may_manage(session, principal, item.county_code)
    fixed = sorted(set(changes) - _EDITABLE)
    if fixed:
        raise ValidationFailed(
            f"不能修改 {fixed[0]}", f"{fixed[0]} cannot change", code="fixed_field", field=fixed[0]
        )
    for key, value in changes.items():
        if key.endswith("_hours"):
            value = _hours(key, value)
        elif key == "materials":
            value = _materials(value)
        elif key in ("around_the_clock", "is_active"):
            value = bool(value)
        else:
            value = str(value or "").strip()
        setattr(item, key, value)
    _check(item)
    session.flush()
    _audit(session, principal, "update", item, now)
    return item
