"""Organisations: employers (一企一档: inspections, integrity grades), social and party bodies."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.ids import parse_credit_code
from wangge.errors import ValidationFailed
from wangge.registry.access import (
    check_area,
    get_in_area,
    is_masked_form_of,
    locate,
    require_community,
    visible,
)
from wangge.registry.component_grids import require_in_county
from wangge.registry.fields import choice, parse_date, required_text, set_texts
from wangge.registry.geometry import parse_geometry
from wangge.registry.history import log_change, log_saved, snapshot
from wangge.registry.micro import micro_at
from wangge.registry.models_organisations import (
    GRADES,
    ORG_KINDS,
    Inspection,
    IntegrityGrade,
    Organisation,
)
from wangge.registry.people import check_phone

_COUNTS = ("employees", "contracts_signed", "insured")


def get_organisation(session: Session, principal: Principal, org_id: int) -> Organisation:
    """Return an organisation in the principal's area, or raise NotFound."""
    in_area = visible(Organisation, principal)
    return get_in_area(session, principal, Organisation, org_id, in_area, ("组织", "organisation"))


def _count(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ValidationFailed(
            f"{value} 不是非负整数", f"{value!r} is not a non-negative integer", field=field
        )
    return number


def save_organisation(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    org_id: int | None = None,
    audit: bool = True,
) -> Organisation:
    """Create or update an organisation; the credit code is checked character by character."""  # fmt: skip
    principal.require("registry.write")
    org = get_organisation(session, principal, org_id) if org_id else Organisation()
    before = snapshot(org) if org_id else None
    if "name" in data or before is None:
        org.name = required_text(data.get("name"), "name", "名称不能为空", "name is required")
    if data.get("kind"):
        org.kind = choice(str(data["kind"]), ORG_KINDS, "kind", "组织类型")
    elif before is None:
        org.kind = "enterprise"
    if "credit_code" in data:
        code = data["credit_code"]
        org.credit_code = parse_credit_code(str(code), field="credit_code").code if code else None
    set_texts(org, data, ("legal_rep", "address", "industry"))
    if "phone" in data and not is_masked_form_of(data["phone"], org.phone, "phone"):
        org.phone = check_phone(str(data["phone"])) if data["phone"] else None
    _set_counts(org, data)
    _set_place(session, org, data)
    check_area(session, principal, org.community_code, org.grid_id, org.micro_grid_id)
    if data.get("integrity_grade") and data["integrity_grade"] != org.integrity_grade:
        org.integrity_grade = _grade(data["integrity_grade"], "integrity_grade")
    if before is None:
        session.add(org)
    log_saved(session, principal, object_type="organisation", obj=org, before=before, audit=audit)
    grade_changed = before is None or before.get("integrity_grade") != org.integrity_grade
    if grade_changed and org.integrity_grade:
        session.add(
                IntegrityGrade(
                    organisation_id=org.id, county_code=org.county_code, grade=org.integrity_grade,
                    valid_from=date.today(), reason=data.get("grade_reason"),
                )
            )  # fmt: skip
    return org


def _set_counts(org: Organisation, data: dict[str, Any]) -> None:
    """Set the head counts sent; contracts and insured never exceed the employees."""
    for key in _COUNTS:
        if key in data:
            setattr(org, key, _count(data[key], key))
    if org.employees is not None:
        for key in ("contracts_signed", "insured"):
            if (getattr(org, key) or 0) > org.employees:
                raise ValidationFailed(
                    f"{'签订劳动合同' if key == 'contracts_signed' else '参保'}人数超过从业人数",
                    f"{key} exceeds the number of employees", field=key,
                )  # fmt: skip


def _set_place(session: Session, org: Organisation, data: dict[str, Any]) -> None:
    """Set the community (required) and the position with the grids it lies in."""
    if data.get("community_code"):
        org.community_code = require_community(session, data["community_code"])
    if not org.community_code:
        raise ValidationFailed(
            "所属社区不能为空", "the community is required", field="community_code"
        )
    org.county_code = org.community_code[:6]
    if data.get("lon") is not None and data.get("lat") is not None:
        point = parse_geometry(lon=data["lon"], lat=data["lat"], field="lon")
        require_in_county(session, org.county_code, point, what="组织|organisation")
        org.lon, org.lat = float(data["lon"]), float(data["lat"])
        org.grid_id, org.unit_grid_id, _found = locate(session, org.lon, org.lat, org.county_code)
        org.micro_grid_id = micro_at(session, org.lon, org.lat, org.county_code)


def _grade(value: Any, field: str) -> str:
    grade = str(value).strip().upper()
    if grade not in GRADES:
        raise ValidationFailed(
            f"守法诚信等级 {grade} 无效，应为 A、B、C 之一", f"grade {grade!r} must be A, B or C",
            field=field,
        )  # fmt: skip
    return grade


def organisations_query(principal: Principal, **filters: Any) -> Select[Organisation]:
    """Return the query of organisations in the principal's area."""
    principal.require("registry.read")
    query = select(Organisation).where(visible(Organisation, principal))
    for key in ("kind", "grid_id", "integrity_grade", "credit_code"):
        if filters.get(key):
            query = query.where(getattr(Organisation, key) == filters[key])
    if filters.get("community"):
        query = query.where(
            Organisation.community_code.startswith(filters["community"], autoescape=True)
        )
    if filters.get("q"):
        query = query.where(Organisation.name.contains(filters["q"], autoescape=True))
    return query.order_by(Organisation.id)


def add_inspection(
    session: Session, principal: Principal, org_id: int, data: dict[str, Any]
) -> Inspection:
    """Record a labour inspection with its findings and violations."""
    principal.require("registry.write")
    org = get_organisation(session, principal, org_id)
    inspected_on = parse_date(data.get("inspected_on"), "inspected_on")
    if inspected_on is None:
        raise ValidationFailed(
            "检查日期不能为空", "inspection date is required", field="inspected_on"
        )
    row = Inspection(
        organisation_id=org.id, county_code=org.county_code, inspected_on=inspected_on,
        inspector=data.get("inspector"), findings=data.get("findings"),
        violations=list(data.get("violations") or []),
    )  # fmt: skip
    session.add(row)
    log_change(session, principal, object_type="inspection", obj=row, action="create", before=None)
    return row


def set_grade(
    session: Session,
    principal: Principal,
    org_id: int,
    grade: str,
    valid_from: Any,
    reason: str | None,
) -> IntegrityGrade:
    """Give an employer a new integrity grade from a date; the history stays."""
    principal.require("registry.write")
    org = get_organisation(session, principal, org_id)
    grade = _grade(grade, "grade")
    start = parse_date(valid_from, "valid_from") or date.today()
    before = snapshot(org)
    org.integrity_grade = grade
    row = IntegrityGrade(
        organisation_id=org.id,
        county_code=org.county_code,
        grade=grade,
        valid_from=start,
        reason=reason,
    )
    session.add(row)
    log_change(
        session, principal, object_type="organisation", obj=org, action="update", before=before
    )
    return row


def employer_file(session: Session, principal: Principal, org_id: int) -> dict[str, Any]:
    """Return the one-file-per-employer record (一企一档): inspections and grades over time."""
    org = get_organisation(session, principal, org_id)
    inspections = session.scalars(
        select(Inspection)
        .where(Inspection.organisation_id == org.id)
        .order_by(Inspection.inspected_on)
    ).all()
    grades = session.scalars(
        select(IntegrityGrade)
        .where(IntegrityGrade.organisation_id == org.id)
        .order_by(IntegrityGrade.valid_from, IntegrityGrade.id)
    ).all()
    return {"organisation": org, "inspections": list(inspections), "grades": list(grades)}
