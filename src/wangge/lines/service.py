"""Business lines as data: the standard "9" seeded per county, local "X" lines, on/off switches.

A case belongs to its category's line (`Category.business_line` = `BusinessLine.code`); a
line switched off in a county takes its categories out of that county's queues and refuses
new reports of them. Categories are shared by every county, so the line a category belongs to
is the same everywhere; whether the line is worked is the county's choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.models import Role
from wangge.auth.principal import Principal
from wangge.cases.categories import cached_reference
from wangge.cases.models import Case, Category
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.lines.models import BusinessLine

_WORKERS = ["supervisor", "grid_leader", "department"]
# The standard lines every county gets (多网合一: one grid, the departments' lines on it).
# Codes are ASCII and fixed; names are the district's to change.
STANDARD_LINES: tuple[tuple[str, str, list[str]], ...] = (
    ("governance", "综治（社会治理）", ["supervisor", "grid_leader", "acceptor"]),
    ("urban", "城管", _WORKERS),
    ("safety", "安监（应急管理）", _WORKERS),
    ("labour", "劳动监察（人社）", _WORKERS),
    ("market", "市场监管", _WORKERS),
    ("fire", "消防", _WORKERS),
    ("civil_affairs", "民政", _WORKERS),
    ("health", "卫健", _WORKERS),
    ("environment", "生态环境", _WORKERS),
)
STANDARD_CODES = frozenset(code for code, _, _ in STANDARD_LINES)

# The line of a standard category when the catalogue names none: exact codes first, then
# prefixes (events and components are 城管's, as in 数字城管; social matters by their kind).
_CATEGORY_LINE_EXACT = {
    "E0115": "environment",  # 焚烧树叶、垃圾
    "E0116": "environment",  # 油烟污染
    "E0302": "environment",  # 工地扬尘
    "S0103": "labour",  # 劳资纠纷
    "S0201": "fire",  # 消防安全隐患
    "S0202": "safety",  # 燃气安全隐患
    "S0203": "safety",  # 房屋安全隐患
    "S0402": "labour",  # 社保医保代办
}
_CATEGORY_LINE_PREFIX = (
    ("E", "urban"),
    ("C", "urban"),
    ("S03", "civil_affairs"),
    ("S", "governance"),
)
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def default_line_of(category_code: str) -> str | None:
    """Return the standard line of a standard category code (None: no default)."""
    if category_code in _CATEGORY_LINE_EXACT:
        return _CATEGORY_LINE_EXACT[category_code]
    return next((line for p, line in _CATEGORY_LINE_PREFIX if category_code.startswith(p)), None)


def seed_lines(session: Session, county_code: str) -> dict[str, int]:
    """Add the county's missing standard lines and give line-less categories their default.

    Idempotent; never changes a line or a category line the district set.
    """
    have = set(
        session.scalars(select(BusinessLine.code).where(BusinessLine.county_code == county_code))
    )
    added = 0
    for code, name, roles in STANDARD_LINES:
        if code not in have:
            session.add(
                BusinessLine(
                    county_code=county_code, code=code, name=name, roles=list(roles), is_active=True
                )
            )
            added += 1
    placed = 0
    for category in session.scalars(select(Category).where(Category.business_line.is_(None))):
        line = default_line_of(category.code)
        if line is not None and (category.origin or "standard") == "standard":
            category.business_line = line
            placed += 1
    session.flush()
    return {"lines_added": added, "categories_given_a_line": placed}


def _county_scope(principal: Principal, county_code: str) -> None:
    """Lines are a county's configuration: only a county-wide administrator changes them."""
    principal.require("lines.manage")
    if not principal.contains(county_code):
        raise Forbidden(
            f"区县 {county_code} 不在您的管辖范围内（业务条线须由全区管理员设置）",
            f"county {county_code} is outside your area (lines are set by a county-wide "
            "administrator)",
            code="out_of_scope",
            field="county_code",
        )


def _check_code(code: str) -> str:
    if not _CODE.match(code or ""):
        raise ValidationFailed(
            f"条线编码（code）“{code}”应为小写字母开头的英文字母、数字或下划线（2–32 位）",
            f"field code: {code!r} must be 2-32 lowercase ASCII letters, digits or _, "
            "starting with a letter",
            code="bad_line_code",
            field="code",
        )
    return code


def _check_roles(session: Session, roles: Iterable[str]) -> list[str]:
    roles = list(roles)
    known = set(session.scalars(select(Role.code).where(Role.code.in_(roles))))
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise ValidationFailed(
            f"角色（roles）不存在：{unknown}",
            f"field roles: unknown roles {unknown}",
            code="unknown_role",
            field="roles",
        )
    return roles


def _attach(session: Session, line: BusinessLine, codes: Iterable[str]) -> list[str]:
    """Put categories into a line (the catalogue keeps the change as the district's own)."""
    codes = list(dict.fromkeys(codes))
    found = {c.code: c for c in session.scalars(select(Category).where(Category.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationFailed(
            f"案件类别（categories）不存在：{missing}",
            f"field categories: unknown case categories {missing}",
            code="unknown_category",
            field="categories",
        )
    for code in codes:
        category = found[code]
        category.business_line = line.code
        edited = list(category.edited or [])
        if "business_line" not in edited:  # a catalogue upgrade keeps the district's choice
            category.edited = [*edited, "business_line"]
    return codes


def get_line(session: Session, line_id: int) -> BusinessLine:
    """Return a line or raise NotFound."""
    line = session.get(BusinessLine, line_id)
    if line is None:
        raise NotFound(f"业务条线 {line_id} 不存在", f"business line {line_id} does not exist")
    return line


def find_line(session: Session, county_code: str, code: str) -> BusinessLine:
    """Return a county's line by code or raise NotFound (naming the code)."""
    line = session.scalars(
        select(BusinessLine).where(
            BusinessLine.county_code == county_code, BusinessLine.code == code
        )
    ).first()
    if line is None:
        raise NotFound(
            f"区县 {county_code} 没有业务条线 {code}",
            f"county {county_code} has no business line {code}",
            field="code",
        )
    return line


def list_lines(
    session: Session, principal: Principal, *, county_code: str | None = None
) -> list[dict[str, Any]]:
    """Return the lines of the counties in scope, each with its number of active categories."""
    q = select(BusinessLine).order_by(BusinessLine.county_code, BusinessLine.id)
    counties = principal.county_codes()
    if county_code is not None:
        if counties is not None and county_code not in counties:
            raise Forbidden(
                f"区县 {county_code} 不在您的管辖范围内",
                f"county {county_code} is outside your area",
                code="out_of_scope",
                field="county_code",
            )
        q = q.where(BusinessLine.county_code == county_code)
    elif counties is not None:
        q = q.where(BusinessLine.county_code.in_(sorted(counties)))
    counts = dict(
        session.execute(
            select(Category.business_line, func.count())
            .where(Category.is_active.is_(True), Category.business_line.is_not(None))
            .group_by(Category.business_line)
        ).all()
    )
    return [
        {
            "id": line.id,
            "county_code": line.county_code,
            "code": line.code,
            "name": line.name,
            "roles": list(line.roles or []),
            "is_active": line.is_active,
            "standard": line.code in STANDARD_CODES,
            "categories": int(counts.get(line.code, 0)),
        }
        for line in session.scalars(q)
    ]


def line_categories(session: Session, code: str) -> list[str]:
    """Return the codes of the categories of a line."""
    return list(
        session.scalars(
            select(Category.code).where(Category.business_line == code).order_by(Category.code)
        )
    )


def create_line(
    session: Session,
    principal: Principal,
    *,
    county_code: str,
    code: str,
    name: str,
    roles: Iterable[str] = (),
    categories: Iterable[str] = (),
) -> BusinessLine:
    """Add a local line (X) to a county, optionally with the categories it owns."""
    _county_scope(principal, county_code)
    _check_code(code)
    if session.scalar(
        select(BusinessLine.id).where(
            BusinessLine.county_code == county_code, BusinessLine.code == code
        )
    ):
        raise Conflict(
            f"区县 {county_code} 已有业务条线 {code}",
            f"county {county_code} already has business line {code}",
            code="duplicate_line",
            field="code",
        )
    line = BusinessLine(
        county_code=county_code,
        code=code,
        name=name,
        roles=_check_roles(session, roles),
        is_active=True,
    )
    session.add(line)
    session.flush()
    attached = _attach(session, line, categories)
    record_for(
        session,
        principal,
        "line.create",
        object_type="business_line",
        object_id=line.id,
        county_code=county_code,
        detail={"code": code, "name": name, "categories": attached},
    )
    return line


def update_line(
    session: Session, principal: Principal, line: BusinessLine, changes: dict[str, Any]
) -> BusinessLine:
    """Rename a line, change its roles or categories, or switch it on or off."""
    _county_scope(principal, line.county_code)
    before = {"name": line.name, "roles": list(line.roles or []), "is_active": line.is_active}
    if changes.get("name") is not None:
        line.name = changes["name"]
    if changes.get("roles") is not None:
        line.roles = _check_roles(session, changes["roles"])
    if changes.get("is_active") is not None:
        line.is_active = bool(changes["is_active"])
    attached = _attach(session, line, changes.get("categories") or [])
    session.flush()
    action = "line.update"
    if before["is_active"] != line.is_active:
        action = "line.enable" if line.is_active else "line.disable"
    record_for(
        session,
        principal,
        action,
        object_type="business_line",
        object_id=line.id,
        county_code=line.county_code,
        detail={
            "code": line.code,
            "before": before,
            "after": {"name": line.name, "roles": line.roles, "is_active": line.is_active},
            "categories": attached,
        },
    )
    return line


def delete_line(session: Session, principal: Principal, line: BusinessLine) -> None:
    """Delete a local line that no category names (a standard line is switched off instead)."""
    _county_scope(principal, line.county_code)
    if line.code in STANDARD_CODES:
        raise Conflict(
            f"标准业务条线 {line.code} 不能删除，可停用",
            f"standard business line {line.code} cannot be deleted; switch it off instead",
            code="standard_line",
        )
    used = line_categories(session, line.code)
    others = session.scalar(
        select(func.count(BusinessLine.id)).where(
            BusinessLine.code == line.code, BusinessLine.id != line.id
        )
    )
    if used and not others:
        raise Conflict(
            f"业务条线 {line.code} 仍有案件类别：{used[:10]}",
            f"business line {line.code} still has case categories: {used[:10]}",
            code="line_in_use",
        )
    record_for(
        session,
        principal,
        "line.delete",
        object_type="business_line",
        object_id=line.id,
        county_code=line.county_code,
        detail={"code": line.code, "name": line.name},
    )
    session.delete(line)
    session.flush()


def switched_off_line(
    session: Session, county_code: str, category: Category
) -> BusinessLine | None:
    """Return the county's line of the category when that line is switched off, else None."""
    if not category.business_line:
        return None

    def load() -> dict[str, BusinessLine]:
        rows = session.scalars(
            select(BusinessLine).where(
                BusinessLine.county_code == county_code, BusinessLine.is_active.is_(False)
            )
        )
        cols = BusinessLine.__table__.columns
        return {r.code: BusinessLine(**{c.key: getattr(r, c.key) for c in cols}) for r in rows}

    off = cached_reference(session, ("switched_off_lines", county_code), load)
    return off.get(category.business_line)  # type: ignore[no-any-return]


def refuse_switched_off(session: Session, county_code: str, category: Category) -> None:
    """Refuse a report of a category whose line the county has switched off (422)."""
    line = switched_off_line(session, county_code, category)
    if line is not None:
        raise ValidationFailed(
            f"案件类别 {category.code}（{category.name}）属于业务条线“{line.name}”（{line.code}），"
            f"该条线在区县 {county_code} 已停用，不能上报",
            f"case category {category.code} belongs to business line {line.code} "
            f"({line.name}), which county {county_code} has switched off",
            code="line_switched_off",
            field="category_code",
            details={"line": line.code},
        )


def in_switched_off_line() -> ColumnElement[bool]:
    """SQL: the case's category belongs to a line its county has switched off."""
    return exists().where(
        Category.code == Case.category_code,
        BusinessLine.code == Category.business_line,
        BusinessLine.county_code == Case.county_code,
        BusinessLine.is_active.is_(False),
    )


def in_line(code: str) -> ColumnElement[bool]:
    """SQL: the case's category belongs to the line `code`."""
    return Case.category_code.in_(select(Category.code).where(Category.business_line == code))
