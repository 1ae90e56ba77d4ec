"""Departments as managed data: create, edit, deactivate, list, and the checks every user of a
department code makes (routing rules, dispatch, posts, API keys).

Nothing is ever deleted: a deactivated department keeps its row, its history and its old
cases (its name still shows on them) but receives no new dispatch, rule, post or key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from itertools import chain
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.departments.checks import (
    DepartmentData,
    data_of,
    field_problems,
    link_problems,
    raise_first,
)
from wangge.departments.codes import check_level, department_code, key_of
from wangge.departments.models import Department
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed

# Fields an edit may change; code and county are the department's identity.
EDITABLE = (
    "name",
    "level",
    "parent_code",
    "business_line",
    "contact",
    "duty_phone",
    "credit_code",
    "serves_counties",
)


# --- scope --------------------------------------------------------------------------------


def visible(principal: Principal, dept: Department | DepartmentData) -> bool:
    """A user sees his counties' departments and the city-level ones serving them."""
    counties = principal.county_codes()
    if counties is None or dept.county_code in counties:
        return True
    return dept.level == "city" and bool(counties & set(dept.serves_counties or []))


def require_manage(principal: Principal, county_code: str, what: str) -> None:
    """Refuse a write outside the principal's counties (a city's departments: whole-area admins)."""
    principal.require("departments.manage")
    counties = principal.county_codes()
    if counties is not None and county_code not in counties:
        raise Forbidden(
            f"{what} 属于 {county_code}，不在您的管辖范围内",
            f"{what} belongs to {county_code}, outside your area",
            code="out_of_scope",
        )


def get_department(session: Session, principal: Principal, code: str) -> Department:
    """Return a department the principal may see, or raise NotFound (also outside his area)."""
    dept = session.get(Department, code)
    if dept is None or not visible(principal, dept):
        raise NotFound(f"部门 {code} 不存在", f"department {code} does not exist")
    return dept


# --- use cases ----------------------------------------------------------------------------


def suggest_code(session: Session, county_code: str, key: str | None = None) -> str:
    """Return a free code in the `{county}-{KEY}` convention (KEY from `key`, else D01, D02 …)."""
    base = key_of(key or "")
    taken = set(
        session.scalars(select(Department.code).where(Department.code.startswith(county_code)))
    )
    first = [department_code(county_code, base)] if base else []
    more = (
        department_code(county_code, f"{base}{n}" if base else f"D{n:02d}")
        for n in range(2 if base else 1, 100_000)
    )
    return next(c for c in chain(first, more) if c not in taken)


def _refuse_taken(session: Session, code: str) -> None:
    if session.get(Department, code) is not None:
        raise Conflict(
            f"部门编码 {code} 已存在（编码在全系统唯一）",
            f"department code {code} already exists (codes are unique in the deployment)",
            code="department_exists",
            field="code",
        )


def create_department(
    session: Session, actor: Principal, data: DepartmentData, *, via: str | None = None
) -> Department:
    """Create a department after every check; audited."""
    raise_first(field_problems(data))
    require_manage(actor, data.county_code, f"部门 {data.code}")
    _refuse_taken(session, data.code)
    raise_first(link_problems(session, data))
    dept = Department(**{f.name: getattr(data, f.name) for f in fields(DepartmentData)})
    session.add(dept)
    session.flush()
    record_for(
        session,
        actor,
        "department.create",
        object_type="department",
        object_id=data.code,
        county_code=data.county_code[:6],
        detail=_public(data) | ({"via": via} if via else {}),
    )
    return dept


def update_department(
    session: Session,
    actor: Principal,
    dept: Department,
    changes: Mapping[str, Any],
    *,
    via: str | None = None,
) -> dict[str, list[Any]]:
    """Change the given fields; return {field: [old, new]} of what changed (audited)."""
    require_manage(actor, dept.county_code, f"部门 {dept.code}")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(
            f"不能修改：{', '.join(sorted(unknown))}",
            f"cannot change: {', '.join(sorted(unknown))}",
            field=sorted(unknown)[0],
        )
    before = data_of(dept)
    after = replace(before, **dict(changes))
    raise_first(field_problems(after))
    raise_first(link_problems(session, after))
    diff = {
        name: [getattr(before, name), getattr(after, name)]
        for name in EDITABLE
        if getattr(before, name) != getattr(after, name)
    }
    for name, (_, new) in diff.items():
        setattr(dept, name, new)
    if diff:
        session.flush()
        record_for(
            session,
            actor,
            "department.update",
            object_type="department",
            object_id=dept.code,
            county_code=dept.county_code[:6],
            detail={"changes": diff, "via": via} if via else {"changes": diff},
        )
    return diff


def set_active(session: Session, actor: Principal, dept: Department, active: bool) -> Department:
    """Deactivate (no new dispatch, rule, post or key; history kept) or reactivate; audited."""
    require_manage(actor, dept.county_code, f"部门 {dept.code}")
    if dept.is_active != active:
        dept.is_active = active
        session.flush()
        record_for(
            session,
            actor,
            "department.reactivate" if active else "department.deactivate",
            object_type="department",
            object_id=dept.code,
            county_code=dept.county_code[:6],
        )
    return dept


def list_departments(
    session: Session,
    principal: Principal,
    *,
    county: str | None = None,
    level: str | None = None,
    line: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> list[Department]:
    """Departments the principal sees; `county` also lists the city-level ones serving it."""
    query = select(Department).order_by(Department.county_code, Department.code)
    counties = principal.county_codes()
    if county:
        query = query.where(or_(Department.county_code == county, Department.level == "city"))
    elif counties is not None:
        query = query.where(
            or_(Department.county_code.in_(sorted(counties)), Department.level == "city")
        )
    if level:
        query = query.where(Department.level == check_level(level))
    if line:
        query = query.where(Department.business_line == line)
    if active is not None:
        query = query.where(Department.is_active.is_(active))
    if q and q.strip():
        text = q.strip()
        query = query.where(
            or_(
                Department.code.icontains(text, autoescape=True),
                Department.name.icontains(text, autoescape=True),
                Department.contact.icontains(text, autoescape=True),
                Department.duty_phone.icontains(text, autoescape=True),
            )
        )
    # City-level rows are few; whether one serves a county is read from its JSON list here,
    # the same way on SQLite and PostgreSQL.
    rows = [d for d in session.scalars(query) if visible(principal, d)]
    if county:
        rows = [d for d in rows if d.county_code == county or county in (d.serves_counties or [])]
    return rows


def _public(data: DepartmentData) -> dict[str, Any]:
    return {f.name: getattr(data, f.name) for f in fields(DepartmentData) if f.name != "code"}


# --- what the users of a department code check --------------------------------------------


def _serves(dept: Department, county_code: str) -> bool:
    return dept.county_code == county_code or (
        dept.level == "city" and county_code in (dept.serves_counties or [])
    )


def require_active(session: Session, county_code: str, codes: Sequence[str], *, field: str) -> None:
    """Refuse codes that are not active departments of the county (named in the error).

    A city-level department counts for every county in its `serves_counties`.
    """
    rows = session.scalars(
        select(Department).where(Department.code.in_(list(codes)), Department.is_active.is_(True))
    )
    known = {d.code for d in rows if _serves(d, county_code)}
    missing = [c for c in codes if c not in known]
    if missing:
        raise ValidationFailed(
            f"区县 {county_code} 没有这些在用部门：{missing}",
            f"county {county_code} has no active departments {missing}",
            code="unknown_department",
            field=field,
        )


def active_for_county(session: Session, county_code: str) -> list[tuple[str, str]]:
    """(code, name) of the departments a case of the county may be dispatched to."""
    rows = session.scalars(
        select(Department)
        .where(
            or_(Department.county_code == county_code, Department.level == "city"),
            Department.is_active.is_(True),
        )
        .order_by(Department.code)
    )
    return [(d.code, d.name) for d in rows if _serves(d, county_code)]


def require_assignable(session: Session, code: str, *, field: str = "department") -> Department:
    """The department of a new post or API key: it must exist and be active."""
    dept = session.get(Department, code)
    if dept is None:
        raise NotFound(f"部门 {code} 不存在", f"department {code} does not exist", field=field)
    if not dept.is_active:
        raise ValidationFailed(
            f"部门 {code}（{dept.name}）已停用，不能再分配岗位或签发密钥",
            f"department {code} ({dept.name}) is deactivated: no new posts or keys",
            code="inactive_department",
            field=field,
        )
    return dept
