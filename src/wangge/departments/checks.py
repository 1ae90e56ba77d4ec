"""The checks a department passes before it is written: its own fields (PURE), and what it
names (parent, business line), against the database and the other departments being written
together (an import). Each returns every problem, so an import can list them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.common.ids import parse_credit_code
from wangge.departments.codes import (
    LEVELS,
    check_code,
    check_county,
    check_level,
    check_phone,
    check_serves,
)
from wangge.departments.models import Department
from wangge.errors import ValidationFailed
from wangge.lines.models import BusinessLine

_MAX_DEPTH = 64  # no real hierarchy is deeper; stops the walk on data made cyclic outside us


@dataclass
class DepartmentData:
    """A department as written by a user (API body, spreadsheet row, command line)."""

    code: str
    county_code: str
    name: str
    level: str = "county"
    parent_code: str | None = None
    business_line: str | None = None
    contact: str | None = None
    duty_phone: str | None = None
    credit_code: str | None = None
    serves_counties: list[str] = field(default_factory=list)
    is_active: bool = True


def data_of(dept: Department) -> DepartmentData:
    """Return a stored department as DepartmentData."""
    return DepartmentData(
        **{f.name: getattr(dept, f.name) for f in fields(DepartmentData)}
        | {"serves_counties": list(dept.serves_counties or [])}
    )


def _blank(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def field_problems(data: DepartmentData) -> list[ValidationFailed]:
    """Check the fields of one department on their own; normalise them in place. PURE."""
    problems: list[ValidationFailed] = []

    def check(fn: Any) -> None:
        try:
            fn()
        except ValidationFailed as exc:
            problems.append(exc)

    def _code() -> None:
        data.code = check_code(data.code)

    def _name() -> None:
        data.name = (data.name or "").strip()
        if not data.name or len(data.name) > 100:
            raise ValidationFailed(
                "部门名称必填，最多 100 字",
                "name is required, at most 100 characters",
                code="bad_name",
                field="name",
            )

    def _level_and_county() -> None:
        data.level = check_level(data.level)
        data.county_code = check_county(data.county_code, data.level)

    def _serves() -> None:
        level = data.level if data.level in LEVELS else "county"
        data.serves_counties = check_serves(
            list(data.serves_counties or []), level, data.county_code
        )

    def _phone() -> None:
        data.duty_phone = _blank(data.duty_phone)
        if data.duty_phone:
            data.duty_phone = check_phone(data.duty_phone)

    def _credit() -> None:
        data.credit_code = _blank(data.credit_code)
        if data.credit_code:
            data.credit_code = parse_credit_code(data.credit_code).code

    def _contact() -> None:
        data.contact = _blank(data.contact)
        if data.contact and len(data.contact) > 50:
            raise ValidationFailed(
                "联系人最多 50 字",
                "contact: at most 50 characters",
                code="too_long",
                field="contact",
            )

    for fn in (_code, _name, _level_and_county, _serves, _phone, _credit, _contact):
        check(fn)
    data.parent_code = _blank(data.parent_code)
    data.business_line = _blank(data.business_line)
    return problems


def _lookup(
    session: Session, pending: Mapping[str, DepartmentData] | None, code: str
) -> DepartmentData | None:
    if pending and code in pending:
        return pending[code]
    row = session.get(Department, code)
    return data_of(row) if row is not None else None


def link_problems(
    session: Session,
    data: DepartmentData,
    *,
    pending: Mapping[str, DepartmentData] | None = None,
) -> list[ValidationFailed]:
    """Check what a department names: its parent (same county, no cycle) and its line.

    `pending` holds departments being written together (an import), so rows may name
    parents further down the same file.
    """
    problems: list[ValidationFailed] = []
    if data.parent_code:
        try:
            _check_parent(session, data, pending)
        except ValidationFailed as exc:
            problems.append(exc)
    if data.business_line:
        try:
            data.business_line = line_code(session, data, data.business_line)
        except ValidationFailed as exc:
            problems.append(exc)
    return problems


def _check_parent(
    session: Session, data: DepartmentData, pending: Mapping[str, DepartmentData] | None
) -> None:
    code = data.parent_code or ""
    parent = _lookup(session, pending, code)
    if parent is None:
        raise ValidationFailed(
            f"上级部门 {code} 不存在",
            f"parent department {code} does not exist",
            code="unknown_parent",
            field="parent_code",
        )
    serves = parent.level == "city" and data.county_code in (parent.serves_counties or [])
    if parent.county_code != data.county_code and not serves:
        raise ValidationFailed(
            f"上级部门 {code} 属于 {parent.county_code}，不是本区县（{data.county_code}）"
            "的部门，也不是服务本区县的市级部门",
            f"parent department {code} belongs to {parent.county_code}: neither a department "
            f"of {data.county_code} nor a city-level department serving it",
            code="parent_elsewhere",
            field="parent_code",
        )
    seen: list[str] = [data.code]
    current: str | None = code
    while current and len(seen) <= _MAX_DEPTH:
        if current in seen:
            loop = " → ".join([*seen, current])
            raise ValidationFailed(
                f"上级部门形成循环：{loop}",
                f"the parent chain loops: {loop}",
                code="parent_cycle",
                field="parent_code",
            )
        seen.append(current)
        found = _lookup(session, pending, current)
        current = found.parent_code if found is not None else None


def line_code(session: Session, data: DepartmentData, text: str) -> str:
    """Return the code of the business line named by code or name in the department's area."""
    counties = {data.county_code, *(data.serves_counties or [])}
    rows = session.execute(
        select(BusinessLine.code, BusinessLine.name).where(BusinessLine.county_code.in_(counties))
    ).all()
    for line, name in rows:
        if text in (line, name):
            return str(line)
    known = "、".join(sorted({f"{n}({c})" for c, n in rows})) or "（尚未设置业务条线）"
    raise ValidationFailed(
        f"业务条线 {text} 在 {data.county_code} 未设置；可选：{known}",
        f"business line {text} is not set up in {data.county_code}; known: "
        f"{', '.join(sorted({c for c, _ in rows})) or '(none yet)'}",
        code="unknown_line",
        field="business_line",
    )


def raise_first(problems: list[ValidationFailed]) -> None:
    """Raise the first problem (a single write answers with one reason; an import lists all)."""
    if problems:
        raise problems[0]
