"""Routing as managed data: which department a case of a class goes to, by area and line.

A rule names (county, category, area, business line) → lead + assisting departments; the
area is one of a community prefix (12 digits), a street prefix (9), an area class (A/B/C) or
nothing (anywhere in the county). Dispatch without a named department picks, in order:

1. the owner department of the registered component the case concerns (the facts about this
   very object beat rules written for its whole class);
2. the most specific matching rule: community > street > area class > anywhere, and a rule of
   the case's business line before one for any line;
3. the category's default department (a short key such as CGW → f"{county}-CGW", or a code).

A department that is not active for the county is skipped in 1 and 3; with no route at all
dispatch needs a department (`no_route`), it never fails with a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.access import require_county
from wangge.cases.limits import AreaClass
from wangge.cases.models import Category, RoutingRule
from wangge.cases.standard import department_code
from wangge.departments.service import require_active
from wangge.divisions.models import Division
from wangge.errors import Conflict, NotFound, ValidationFailed
from wangge.lines.models import BusinessLine
from wangge.registry.models_components import Component

MANAGE = "categories.manage"


def usable(session: Session, county_code: str, code: str | None) -> bool:
    """Return True when `code` is a department that may take cases of the county now."""
    if not code:
        return False
    try:
        require_active(session, county_code, [code], field="department")
    except ValidationFailed:
        return False
    return True


def default_department(session: Session, county_code: str, category: Category) -> str | None:
    """Return the county's department for the category's default (a code or a short key)."""
    value = category.default_department
    if not value:
        return None
    for code in (value, department_code(county_code, value)):
        if usable(session, county_code, code):
            return code
    return None


def component_owner(session: Session, county_code: str, component_code: str | None) -> str | None:
    """Return the active owner department of a registered component, if it has one."""
    if not component_code:
        return None
    owner = session.scalar(
        select(Component.owner_department_code).where(
            Component.code == component_code, Component.county_code == county_code
        )
    )
    return owner if usable(session, county_code, owner) else None


def _rank(
    rule: RoutingRule, area_class: str, community_code: str | None, line: str | None
) -> tuple[int, int] | None:
    """Return how specific a matching rule is (area, line), or None if it does not match."""
    if rule.business_line is not None and rule.business_line != line:
        return None
    if rule.area_prefix is not None:
        if not community_code or not community_code.startswith(rule.area_prefix):
            return None
        area = 3 if len(rule.area_prefix) == 12 else 2
    elif rule.area_class is not None:
        if rule.area_class != area_class:
            return None
        area = 1
    else:
        area = 0
    return area, 0 if rule.business_line is None else 1


def matching_rule(
    session: Session,
    county_code: str,
    category: Category,
    area_class: str,
    *,
    community_code: str | None = None,
    business_line: str | None = None,
) -> RoutingRule | None:
    """Return the most specific rule of the county for a case of `category`, if any."""
    rules = session.scalars(
        select(RoutingRule).where(
            RoutingRule.county_code == county_code, RoutingRule.category_code == category.code
        )
    ).all()
    line = business_line if business_line is not None else category.business_line
    best: tuple[tuple[int, int], RoutingRule] | None = None
    for rule in rules:
        rank = _rank(rule, area_class, community_code, line)
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, rule)
    return best[1] if best else None


def route(
    session: Session,
    county_code: str,
    category: Category,
    area_class: str,
    *,
    community_code: str | None = None,
    component_code: str | None = None,
    business_line: str | None = None,
) -> tuple[str | None, list[str]]:
    """Return (lead department, assisting ones) for a case; (None, []) when there is no route."""
    owner = component_owner(session, county_code, component_code)
    if owner is not None:
        return owner, []
    rule = matching_rule(
        session,
        county_code,
        category,
        area_class,
        community_code=community_code,
        business_line=business_line,
    )
    if rule is not None:
        return rule.department_code, list(rule.assisting or [])
    return default_department(session, county_code, category), []


def no_route(category: Category) -> ValidationFailed:
    """The refusal of a dispatch that names no department when the class has no route."""
    return ValidationFailed(
        f"类别 {category.code}（{category.name}）在本区县没有处置部门，请在派遣时选择部门，"
        "或在类别设置中配置路由",
        f"category {category.code} ({category.name}) has no handling department in this county: "
        "choose a department when dispatching, or configure routing in the category settings",
        code="no_route",
        field="department",
    )


# ------------------------------------------------------------------------- editing rules


@dataclass(frozen=True)
class RuleIn:
    """What a rule says; the area is a class, a street or community prefix, or neither."""

    county_code: str
    category_code: str
    department_code: str
    area_class: str | None = None
    area_prefix: str | None = None
    business_line: str | None = None
    assisting: Sequence[str] = ()


def require_manage(principal: Principal, county_code: str | None = None) -> None:
    """Refuse a principal who may not edit categories and routing (of that county)."""
    require_county(principal, MANAGE, county_code)


def _check_area(session: Session, data: RuleIn) -> None:
    if data.area_class is not None and data.area_class not in set(AreaClass):
        raise ValidationFailed(
            "区域类别只能是 A、B、C", "area class must be A, B or C", field="area_class"
        )
    prefix = data.area_prefix
    if prefix is None:
        return
    if data.area_class is not None:
        raise ValidationFailed(
            "一条路由规则只能按区域类别或按街道/社区之一划分",
            "a rule is limited by an area class or by a street/community, not both",
            code="two_areas",
            field="area_prefix",
        )
    division = session.get(Division, prefix) if len(prefix) in (9, 12) else None
    if (
        not prefix.isdigit()
        or division is None
        or not prefix.startswith(data.county_code)
        or division.level not in ("street", "community")
    ):
        raise ValidationFailed(
            f"{prefix} 不是区县 {data.county_code} 的街道（9 位）或社区（12 位）代码",
            f"{prefix} is not a street (9 digits) or community (12 digits) of county "
            f"{data.county_code}",
            code="bad_area_prefix",
            field="area_prefix",
        )


def require_line(session: Session, code: str | None, *, county_code: str | None = None) -> None:
    """Refuse a business line code that no (county's) active line has."""
    if code is None:
        return
    query = select(BusinessLine.id).where(
        BusinessLine.code == code, BusinessLine.is_active.is_(True)
    )
    if county_code is not None:
        query = query.where(BusinessLine.county_code == county_code)
    if session.scalar(query.limit(1)) is None:
        where = f"区县 {county_code} " if county_code else ""
        raise ValidationFailed(
            f"{where}没有在用的业务条线 {code}",
            f"no active business line {code!r}"
            + (f" in county {county_code}" if county_code else ""),
            code="unknown_business_line",
            field="business_line",
        )


def _same_key(data: RuleIn) -> list[ColumnElement[bool]]:
    def eq(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
        return column.is_(None) if value is None else column == value

    return [
        RoutingRule.county_code == data.county_code,
        RoutingRule.category_code == data.category_code,
        eq(RoutingRule.area_class, data.area_class),
        eq(RoutingRule.area_prefix, data.area_prefix),
        eq(RoutingRule.business_line, data.business_line),
    ]


def set_routing_rule(session: Session, data: RuleIn, *, principal: Principal) -> RoutingRule:
    """Create or replace the one rule of (county, category, area class, area prefix, line)."""
    require_manage(principal, data.county_code)
    category = session.get(Category, data.category_code)
    if category is None or not category.is_active:
        raise NotFound(
            f"案件类别 {data.category_code} 不存在或已停用",
            f"case category {data.category_code} does not exist or is inactive",
            field="category_code",
        )
    _check_area(session, data)
    require_line(session, data.business_line, county_code=data.county_code)
    assisting = list(dict.fromkeys(data.assisting))
    if data.department_code in assisting:
        raise ValidationFailed(
            "协办部门不能与主办部门相同",
            "an assisting department cannot also be the lead",
            code="duplicate_department",
            field="assisting",
        )
    # A rule naming no active department would dispatch cases nowhere.
    require_active(session, data.county_code, [data.department_code], field="department_code")
    require_active(session, data.county_code, assisting, field="assisting")
    rule = session.scalars(select(RoutingRule).where(*_same_key(data))).first()
    before = (
        None
        if rule is None
        else {"department_code": rule.department_code, "assisting": list(rule.assisting or [])}
    )
    try:
        with session.begin_nested():
            if rule is None:
                rule = RoutingRule(
                    county_code=data.county_code,
                    category_code=data.category_code,
                    area_class=data.area_class,
                    area_prefix=data.area_prefix,
                    business_line=data.business_line,
                )
                session.add(rule)
            rule.department_code = data.department_code
            rule.assisting = assisting
            session.flush()
    except IntegrityError:  # the same rule added at the same moment by someone else
        raise Conflict(
            "同一条路由规则刚被他人添加，请刷新后重试",
            "the same rule was just added by someone else: reload and retry",
            code="rule_exists",
        ) from None
    record_for(
        session,
        principal,
        "routing_rule.set",
        object_type="routing_rule",
        object_id=rule.id,
        county_code=data.county_code,
        detail={"rule": rule_key(rule), "before": before, "assisting": assisting},
    )
    return rule


def rule_key(rule: RoutingRule) -> dict[str, str | None]:
    """Return what identifies a rule and where it sends cases (for audit and pages)."""
    return {
        "category_code": rule.category_code,
        "area_class": rule.area_class,
        "area_prefix": rule.area_prefix,
        "business_line": rule.business_line,
        "department_code": rule.department_code,
    }


def list_routing_rules(
    session: Session, county_code: str, *, category_code: str | None = None
) -> list[RoutingRule]:
    """Return a county's rules (of one category), by category then specificity."""
    query = select(RoutingRule).where(RoutingRule.county_code == county_code)
    if category_code is not None:
        query = query.where(RoutingRule.category_code == category_code)
    rules = list(session.scalars(query.order_by(RoutingRule.category_code, RoutingRule.id)))
    return sorted(
        rules,
        key=lambda r: (
            r.category_code,
            -len(r.area_prefix or ""),
            r.area_class is None,
            r.area_class or "",
            r.business_line is None,
            r.id,
        ),
    )


def delete_routing_rule(session: Session, rule_id: int, *, principal: Principal) -> None:
    """Remove a rule: cases of its class and area then follow the next less specific route."""
    rule = session.get(RoutingRule, rule_id)
    if rule is None or not principal.covers(rule.county_code):
        raise NotFound(f"路由规则 {rule_id} 不存在", f"routing rule {rule_id} does not exist")
    require_manage(principal, rule.county_code)
    record_for(
        session,
        principal,
        "routing_rule.delete",
        object_type="routing_rule",
        object_id=rule.id,
        county_code=rule.county_code,
        detail={"rule": rule_key(rule), "assisting": list(rule.assisting or [])},
    )
    session.delete(rule)
    session.flush()
