"""Case categories as data: seeding, routing rules (class × area → department), time limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from wangge.cases.limits import AreaClass, LimitRule, Stage, TimeLimits
from wangge.cases.models import AreaClassRule, Category, RoutingRule
from wangge.common.cache import TTLCache
from wangge.departments.service import require_active
from wangge.errors import NotFound, ValidationFailed
from wangge.registry.catalogue import load_catalogue

# Short department keys; a county's department code is f"{county}-{key}" (see department_code).
DEPARTMENTS: dict[str, str] = {
    "CGW": "区城管委",
    "SZSR": "区市政市容委",
    "YLLH": "区园林绿化局",
    "ZJW": "区住建委",
    "HBJ": "区环保局",
    "JTW": "区交通委",
    "JDB": "街道办事处",
}

# Who answers for each major class by default (local practice, editable via routing rules).
_EVENT_MAJOR_DEPT = {"01": "CGW", "02": "CGW", "03": "ZJW", "04": "SZSR", "05": "CGW"}
_COMPONENT_MAJOR_DEPT = {
    "01": "SZSR",
    "02": "JTW",
    "03": "SZSR",
    "04": "YLLH",
    "05": "ZJW",
    "06": "CGW",
}
# Handling limits in working hours per area class; placeholders a city overrides.
_HANDLE = {"A": 8.0, "B": 16.0, "C": 24.0}
_URGENT_HANDLE = {"A": 2.0, "B": 4.0, "C": 6.0}
_URGENT_EVENTS = {"0401", "0402", "0403", "0405", "0406", "0409"}
_ENV_EVENTS = {"0115", "0116", "0302"}

# Social-governance classes (社会治理事项): code, major, name, department, minor, admitted.
SOCIAL: tuple[tuple[str, str, str, str, bool, bool], ...] = (
    ("S0101", "矛盾纠纷", "邻里纠纷", "JDB", True, True),
    ("S0102", "矛盾纠纷", "物业纠纷", "ZJW", False, True),
    ("S0103", "矛盾纠纷", "劳资纠纷", "JDB", False, True),
    ("S0201", "安全隐患", "消防安全隐患", "JDB", False, True),
    ("S0202", "安全隐患", "燃气安全隐患", "SZSR", False, True),
    ("S0203", "安全隐患", "房屋安全隐患", "ZJW", False, True),
    ("S0301", "民生服务", "困难群众帮扶", "JDB", True, True),
    ("S0302", "民生服务", "养老服务需求", "JDB", True, True),
    ("S0401", "代办服务", "证照代办", "JDB", True, True),
    ("S0402", "代办服务", "社保医保代办", "JDB", True, True),
)
_SOCIAL_MAJORS = {"矛盾纠纷": "S01", "安全隐患": "S02", "民生服务": "S03", "代办服务": "S04"}


def department_code(county_code: str, key: str) -> str:
    """Return the code of a county's department for a short key (e.g. 110108-CGW)."""
    return f"{county_code}-{key}"


def _limits(handle: dict[str, float]) -> dict[str, Any]:
    return {Stage.HANDLE.value: dict(handle)}


def default_categories() -> list[Category]:
    """Return the default categories: catalogue event and component classes plus social ones."""
    out: list[Category] = []
    events = load_catalogue(kind="event")
    for minor in events:
        major = events.major(minor.major)
        urgent = minor.code in _URGENT_EVENTS
        dept = "HBJ" if minor.code in _ENV_EVENTS else _EVENT_MAJOR_DEPT.get(minor.major, "CGW")
        out.append(
            Category(
                code=f"E{minor.code}",
                kind="event",
                name=minor.name,
                major_code=f"E{minor.major}",
                major_name=major.name if major else minor.major,
                filing_condition=f"发现{minor.name}且位于责任区内",
                closing_condition=f"{minor.name}已消除，现场照片佐证",
                limits=_limits(_URGENT_HANDLE if urgent else _HANDLE),
                urgent=urgent,
                default_department=dept,
                admitted_to_grid=minor.major in ("01", "05"),
                minor=minor.code in {"0102", "0104", "0201", "0506", "0511"},
            )
        )
    components = load_catalogue(kind="component")
    for minor in components:
        major = components.major(minor.major)
        out.append(
            Category(
                code=f"C{minor.code}",
                kind="component",
                name=f"{minor.name}损坏",
                major_code=f"C{minor.major}",
                major_name=major.name if major else minor.major,
                filing_condition=f"{minor.name}缺失、破损或功能异常",
                closing_condition=f"{minor.name}修复或更换完毕",
                limits=_limits(_HANDLE),
                default_department=_COMPONENT_MAJOR_DEPT.get(minor.major, "CGW"),
            )
        )
    for code, major_name, name, dept, minor_ok, admitted in SOCIAL:
        out.append(
            Category(
                code=code,
                kind="social",
                name=name,
                major_code=_SOCIAL_MAJORS[major_name],
                major_name=major_name,
                filing_condition=f"{name}经网格员核实属实",
                closing_condition=f"{name}已化解或办结，当事人确认",
                limits=_limits({"A": 16.0, "B": 24.0, "C": 40.0}),
                default_department=dept,
                admitted_to_grid=admitted,
                minor=minor_ok,
            )
        )
    return out


def seed_categories(session: Session) -> int:
    """Insert the default categories that are missing; return how many were added."""
    have = set(session.scalars(select(Category.code)))
    new = [c for c in default_categories() if c.code not in have]
    session.add_all(new)
    session.flush()
    return len(new)


def get_category(session: Session, code: str) -> Category:
    """Return an active category or raise NotFound."""
    category = session.get(Category, code)
    if category is None or not category.is_active:
        raise NotFound(f"案件类别 {code} 不存在", f"case category {code} does not exist")
    return category


def list_categories(
    session: Session, *, kind: str | None = None, admitted: bool | None = None
) -> list[Category]:
    """Return active categories, optionally of one kind or only the 准入清单."""
    q = select(Category).where(Category.is_active.is_(True)).order_by(Category.code)
    if kind is not None:
        q = q.where(Category.kind == kind)
    if admitted is not None:
        q = q.where(Category.admitted_to_grid.is_(admitted))
    return list(session.scalars(q))


def time_limits(category: Category) -> TimeLimits:
    """Return the TimeLimits with the category's own per-stage, per-area rules."""
    rules = []
    for stage, hours in (category.limits or {}).items():
        if stage not in set(Stage):
            continue
        rules.append(
            LimitRule(
                category=category.code,
                stage=Stage(stage),
                hours={AreaClass(k): float(v) for k, v in hours.items()},
                urgent=category.urgent,
            )
        )
    return TimeLimits(rules=tuple(rules))


_reference = TTLCache()


@event.listens_for(Session, "after_flush")
def _forget_changed_reference_data(session: Session, _context: object) -> None:
    # Writes made by this process are seen by it at once; other processes within seconds.
    if any(
        isinstance(o, Category | AreaClassRule | RoutingRule)
        for o in (*session.new, *session.dirty, *session.deleted)
    ):
        _reference.clear()


def _engine_key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def cached_category(session: Session, code: str) -> Category:
    """Return a detached snapshot of an active category, read at most every few seconds."""

    def load() -> Category | None:
        found = session.get(Category, code)
        if found is None or not found.is_active:
            return None
        return Category(**{c.key: getattr(found, c.key) for c in Category.__table__.columns})

    category = _reference.get(("category", _engine_key(session), code), load)
    if category is None:
        raise NotFound(f"案件类别 {code} 不存在", f"case category {code} does not exist")
    return category  # type: ignore[no-any-return]


def area_class_for(session: Session, county_code: str, codes: Iterable[str | None]) -> str:
    """Return the area class of the longest matching prefix among codes (default B)."""
    rules = _reference.get(
        ("area_classes", _engine_key(session), county_code),
        lambda: session.execute(
            select(AreaClassRule.prefix, AreaClassRule.area_class).where(
                AreaClassRule.county_code == county_code
            )
        ).all(),
    )
    best: tuple[int, str] = (-1, AreaClass.B.value)
    for code in (c for c in codes if c):
        for prefix, area in rules:
            if code.startswith(prefix) and len(prefix) > best[0]:
                best = (len(prefix), area)
    return best[1]


def route(
    session: Session, county_code: str, category: Category, area_class: str
) -> tuple[str | None, list[str]]:
    """Return (lead department, assisting ones): the area rule, the any-area rule, the default."""
    rules = session.scalars(
        select(RoutingRule).where(
            RoutingRule.county_code == county_code, RoutingRule.category_code == category.code
        )
    ).all()
    for wanted in (area_class, None):
        for rule in rules:
            if rule.area_class == wanted:
                return rule.department_code, list(rule.assisting or [])
    if category.default_department:
        return department_code(county_code, category.default_department), []
    return None, []


def set_routing_rule(
    session: Session,
    *,
    county_code: str,
    category_code: str,
    area_class: str | None,
    department_code: str,
    assisting: list[str] | None = None,
) -> RoutingRule:
    """Create or replace the rule for (county, class, area class)."""
    get_category(session, category_code)
    if area_class is not None and area_class not in set(AreaClass):
        raise ValidationFailed(
            "区域类别只能是 A、B、C", "area class must be A, B or C", field="area_class"
        )
    # A rule naming no real department would dispatch cases nowhere (and break the foreign key).
    for field, codes in (("department_code", [department_code]), ("assisting", assisting or [])):
        require_active(session, county_code, codes, field=field)
    rule = session.scalars(
        select(RoutingRule).where(
            RoutingRule.county_code == county_code,
            RoutingRule.category_code == category_code,
            RoutingRule.area_class.is_(None)
            if area_class is None
            else RoutingRule.area_class == area_class,
        )
    ).first()
    if rule is None:
        rule = RoutingRule(
            county_code=county_code, category_code=category_code, area_class=area_class
        )
        session.add(rule)
    rule.department_code = department_code
    rule.assisting = list(assisting or [])
    session.flush()
    return rule


_REQUIRED_FIELDS = ("name", "limits", "urgent", "admitted_to_grid", "minor", "is_active")


def update_category(session: Session, code: str, changes: dict[str, Any]) -> Category:
    """Change a category's editable fields; the limits are validated before they are stored."""
    category = session.get(Category, code)
    if category is None:
        raise NotFound(f"案件类别 {code} 不存在", f"case category {code} does not exist")
    # These columns always hold a value: null would reach the database as a NOT NULL error.
    nulls = [k for k in _REQUIRED_FIELDS if k in changes and changes[k] is None]
    if nulls:
        raise ValidationFailed(
            f"以下字段不能为空（null）：{', '.join(nulls)}",
            f"these fields cannot be null: {', '.join(nulls)}",
            code="null_not_allowed",
            field=nulls[0],
        )
    _reference.clear()  # this process sees the change at once, the others within seconds
    limits = changes.get("limits")
    if limits is not None:
        stages, areas = {x.value for x in Stage}, {x.value for x in AreaClass}
        for stage, hours in limits.items():
            if stage not in stages or not set(hours) <= areas:
                raise ValidationFailed(
                    f"时限配置有误：环节 {stage} 或区域类别 {sorted(hours)}",
                    f"bad limits: stage {stage!r} or area classes {sorted(hours)}",
                    code="bad_time_limits",
                    field="limits",
                )
            if any(not isinstance(h, int | float) or h <= 0 for h in hours.values()):
                raise ValidationFailed(
                    "时限必须为正数",
                    "time limits must be positive",
                    code="bad_time_limits",
                    field="limits",
                )
    for key, value in changes.items():
        setattr(category, key, value)
    session.flush()
    return category
