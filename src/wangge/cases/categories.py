"""Case categories as data: the district's categories and edits, area classes, time limits.

The standard catalogue and its releases live in `cases/standard.py`, routing in
`cases/routing.py`; the names they export are re-exported here for older callers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.limits import AreaClass, LimitRule, Stage, TimeLimits
from wangge.cases.models import AreaClassRule, Category, ResponseRule, RoutingRule
from wangge.cases.routing import MANAGE, require_line, route, set_routing_rule
from wangge.cases.standard import (
    CATALOGUE_FIELDS,
    CATALOGUE_RELEASE,
    DEPARTMENTS,
    SOCIAL,
    default_categories,
    department_code,
    seed_categories,
    upgrade_catalogue,
)
from wangge.common.cache import TTLCache
from wangge.departments.models import Department
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.lines.models import BusinessLine

__all__ = [
    "CATALOGUE_RELEASE",
    "DEPARTMENTS",
    "SOCIAL",
    "default_categories",
    "department_code",
    "route",
    "seed_categories",
    "set_routing_rule",
    "upgrade_catalogue",
]

KINDS = ("event", "component", "social")
LOCAL_CODE = re.compile(r"^X[0-9]{2,15}$")


def get_category(session: Session, code: str) -> Category:
    """Return a category, active or not (cases filed under a deactivated class keep it).

    New reports take only active categories (`cached_category`).
    """
    category = session.get(Category, code)
    if category is None:
        raise NotFound(f"案件类别 {code} 不存在", f"case category {code} does not exist")
    return category


def list_categories(
    session: Session,
    *,
    kind: str | None = None,
    admitted: bool | None = None,
    major: str | None = None,
    business_line: str | None = None,
    minor: bool | None = None,
    active: bool | None = True,
    origin: str | None = None,
) -> list[Category]:
    """Return categories (active ones unless `active` says otherwise), filtered as asked.

    `admitted=True` gives the 准入清单, `minor=True` the 小事 a grid settles itself; `major` is
    a major class code (E01) or name (市容环境).
    """
    q = select(Category).order_by(Category.code)
    if active is not None:
        q = q.where(Category.is_active.is_(active))
    if kind is not None:
        q = q.where(Category.kind == kind)
    if admitted is not None:
        q = q.where(Category.admitted_to_grid.is_(admitted))
    if minor is not None:
        q = q.where(Category.minor.is_(minor))
    if major:
        q = q.where((Category.major_code == major) | (Category.major_name == major))
    if business_line:
        q = q.where(Category.business_line == business_line)
    if origin:
        q = q.where(Category.origin == origin)
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
        isinstance(o, Category | AreaClassRule | RoutingRule | ResponseRule | BusinessLine)
        for o in (*session.new, *session.dirty, *session.deleted)
    ):
        _reference.clear()


def _engine_key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def cached_reference(session: Session, key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """Return reference data of this database read at most every few seconds (`load` → value).

    Values must be plain data or detached snapshots: they outlive the session that loaded them.
    """
    return _reference.get((*key, _engine_key(session)), load)


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


# ---------------------------------------------------------------- the district's edits

_REQUIRED_FIELDS = ("name", "limits", "urgent", "admitted_to_grid", "minor", "is_active")
# What a district may change on any category (standard or local).
# The release's fields but the class's place in the catalogue (kind, major class), and
# whether it is in use.
EDITABLE = (
    *(f for f in CATALOGUE_FIELDS if f not in ("kind", "major_code", "major_name")),
    "is_active",
)


def require_manage(principal: Principal) -> None:
    """Refuse a principal who may not change the catalogue.

    Categories are shared by every county of the deployment (like roles), so only a
    whole-territory holder of `categories.manage` changes them; routing is per county.
    """
    principal.require(MANAGE)
    if principal.scope_prefixes is not None:
        raise Forbidden(
            "案件类别为全系统共用，只有全域管理员可以修改；区县的路由规则可按本区县设置",
            "categories are shared by the whole system: only an administrator of the whole "
            "territory changes them (routing rules are set per county)",
            code="whole_territory_required",
        )


def _check_limits(limits: Any) -> None:
    stages, areas = {x.value for x in Stage}, {x.value for x in AreaClass}
    if not isinstance(limits, dict):
        raise ValidationFailed(
            "时限应为 {环节: {A: 小时, B: 小时, C: 小时}}",
            "limits must be {stage: {A: hours, B: hours, C: hours}}",
            code="bad_time_limits",
            field="limits",
        )
    for stage, hours in limits.items():
        if stage not in stages or not isinstance(hours, dict) or not set(hours) <= areas:
            shown = sorted(hours) if isinstance(hours, dict) else hours
            raise ValidationFailed(
                f"时限配置有误：环节 {stage} 或区域类别 {shown}"
                f"（环节应为 {'、'.join(sorted(stages))}，区域类别为 A、B、C）",
                f"bad limits: stage {stage!r} or area classes {shown} "
                f"(stages: {', '.join(sorted(stages))}; area classes A, B, C)",
                code="bad_time_limits",
                field="limits",
            )
        if any(
            isinstance(h, bool) or not isinstance(h, int | float) or h <= 0 for h in hours.values()
        ):
            raise ValidationFailed(
                "时限必须为正数（小时）",
                "time limits must be positive numbers of hours",
                code="bad_time_limits",
                field="limits",
            )


def _check_department(session: Session, value: str | None) -> None:
    """A default department is a department code or a short key some county's code ends in."""
    if value is None:
        return
    found = session.scalar(
        select(Department.code)
        .where(
            Department.is_active.is_(True),
            (Department.code == value) | Department.code.endswith(f"-{value}", autoescape=True),
        )
        .limit(1)
    )
    if found is None:
        raise ValidationFailed(
            f"默认处置部门 {value} 既不是在用部门的代码，也不是部门简称（如 CGW 对应 110108-CGW）",
            f"default department {value!r} is neither an active department's code nor a short "
            "key (CGW stands for 110108-CGW)",
            code="unknown_department",
            field="default_department",
        )


def _check_changes(session: Session, changes: dict[str, Any]) -> None:
    # These columns always hold a value: null would reach the database as a NOT NULL error.
    nulls = [k for k in _REQUIRED_FIELDS if k in changes and changes[k] is None]
    if nulls:
        raise ValidationFailed(
            f"以下字段不能为空（null）：{', '.join(nulls)}",
            f"these fields cannot be null: {', '.join(nulls)}",
            code="null_not_allowed",
            field=nulls[0],
        )
    if changes.get("limits") is not None:
        _check_limits(changes["limits"])
    if "default_department" in changes:
        _check_department(session, changes["default_department"])
    if "business_line" in changes:
        require_line(session, changes["business_line"])


def update_category(
    session: Session, code: str, changes: dict[str, Any], *, principal: Principal
) -> Category:
    """Change a category's editable fields; the changed ones are marked as the district's.

    An upgrade of the standard catalogue never overwrites a field named in `edited`.
    """
    require_manage(principal)
    category = session.get(Category, code)
    if category is None:
        raise NotFound(f"案件类别 {code} 不存在", f"case category {code} does not exist")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"这些字段不能修改：{', '.join(unknown)}",
            f"these fields cannot be changed: {', '.join(unknown)}",
            code="not_editable",
            field=unknown[0],
        )
    # Only what changes is checked: resending a field as it is never fails (a form sends all).
    changed = {k: v for k, v in changes.items() if getattr(category, k) != v}
    _check_changes(session, changed)
    if not changed:
        return category
    before = {k: getattr(category, k) for k in changed}
    _reference.clear()  # this process sees the change at once, the others within seconds
    for key, value in changed.items():
        setattr(category, key, value)
    category.edited = sorted(set(category.edited or []) | set(changed))
    session.flush()
    record_for(
        session,
        principal,
        "category.update",
        object_type="case_category",
        object_id=code,
        detail={"before": before, "after": changed},
    )
    return category


def _new_local_code(session: Session, data: dict[str, Any]) -> str:
    """Return the code of a new local category: X + digits, not taken yet."""
    code = str(data.get("code") or "").strip()
    if not LOCAL_CODE.match(code):
        raise ValidationFailed(
            f"本地类别代码 {code!r} 无效：应为 X 加 2 到 15 位数字（如 X0101）",
            f"local category code {code!r} must be X followed by 2 to 15 digits (e.g. X0101)",
            code="bad_category_code",
            field="code",
        )
    if session.get(Category, code) is not None:
        raise Conflict(
            f"案件类别 {code} 已存在", f"case category {code} already exists", field="code"
        )
    return code


def _major_of(session: Session, data: dict[str, Any], code: str) -> tuple[str, str]:
    """Return the major class (code, name) of a new category; a new major needs its name."""
    major_code = data.get("major_code") or code[:3]
    major_name = data.get("major_name") or session.scalar(
        select(Category.major_name).where(Category.major_code == major_code).limit(1)
    )
    if not major_name:
        raise ValidationFailed(
            f"请给出大类名称（大类 {major_code} 尚不存在）",
            f"give the major class name (major class {major_code} does not exist yet)",
            field="major_name",
        )
    return major_code, major_name


def create_category(session: Session, data: dict[str, Any], *, principal: Principal) -> Category:
    """Add a local category (code X + digits); the catalogue upgrades never touch it."""
    require_manage(principal)
    code = _new_local_code(session, data)
    if data.get("kind") not in KINDS:
        raise ValidationFailed(
            "类型应为 event（事件）、component（部件）或 social（社会治理事项）",
            "kind must be event, component or social",
            field="kind",
        )
    major_code, major_name = _major_of(session, data, code)
    if not str(data.get("name") or "").strip():
        raise ValidationFailed("请填写类别名称", "the category needs a name", field="name")
    fields: dict[str, Any] = {
        "urgent": False,
        "admitted_to_grid": False,
        "minor": False,
        "is_active": True,
        "limits": {},
    }
    fields |= {k: data[k] for k in EDITABLE if k in data}
    _check_changes(session, fields)
    category = Category(
        code=code,
        kind=data["kind"],
        major_code=major_code,
        major_name=major_name,
        origin="local",
        release=None,
        edited=[],
        **fields,
    )
    session.add(category)
    session.flush()
    _reference.clear()
    record_for(
        session,
        principal,
        "category.create",
        object_type="case_category",
        object_id=code,
        detail={k: getattr(category, k) for k in ("kind", "name", "major_code", "major_name")},
    )
    return category
