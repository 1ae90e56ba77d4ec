"""The standard catalogue of case categories as versioned data, and its upgrade.

A release (`CATALOGUE_RELEASE`) is the GB/T 30428.2 部件 and 数字城管 事件 classes plus the
GB/T 31000 social-governance matters, with their default limits, admission and departments.
`upgrade_catalogue` brings a database to a release: new classes are added; a standard row of
an older release gets every catalogue field the district has not changed (`Category.edited`);
local rows (`origin="local"`, X…) are never touched. Rerunning the same release changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.limits import Stage
from wangge.cases.models import Category
from wangge.registry.catalogue import load_catalogue

# Bump when the definitions below change; `wangge catalogue upgrade` then brings it to districts.
CATALOGUE_RELEASE = "2026.12"

# The fields a release defines (is_active, origin and the bookkeeping are the district's).
CATALOGUE_FIELDS = (
    "kind",
    "name",
    "major_code",
    "major_name",
    "filing_condition",
    "closing_condition",
    "limits",
    "urgent",
    "default_department",
    "admitted_to_grid",
    "minor",
    "business_line",
)
# Fields a district could change before releases existed (migration 0011 added the others).
_OLD_EDITABLE = frozenset(CATALOGUE_FIELDS) - {"business_line"}

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


def _event_categories() -> list[Category]:
    """The 数字城管 事件 classes, with their urgency, admission and departments."""
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
    return out


def _component_categories() -> list[Category]:
    """The GB/T 30428.2 部件 classes: a damaged component of each kind."""
    out: list[Category] = []
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
    return out


def _social_categories() -> list[Category]:
    """The GB/T 31000 social-governance matters (社会治理事项)."""
    out: list[Category] = []
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


def default_categories() -> list[Category]:
    """Return the categories of the current release: event and component classes, social ones."""
    # The business lines own the rule of which line a standard class is in (imported here, not
    # at the top: lines reads the cases' tables).
    from wangge.lines.service import default_line_of

    out = [*_event_categories(), *_component_categories(), *_social_categories()]
    for category in out:
        category.business_line = default_line_of(category.code)
    return out


def release_key(release: str | None) -> tuple[int, ...]:
    """Order releases ("2026.12" < "2027.6"); no release (rows older than releases) first."""
    if not release:
        return (-1,)
    return tuple(int(x) for x in re.findall(r"\d+", release)) or (0,)


@dataclass
class UpgradeReport:
    """What an upgrade did (or, with dry_run, would do)."""

    release: str
    dry_run: bool = False
    added: list[str] = field(default_factory=list)
    # code → catalogue fields taken from the release
    updated: dict[str, list[str]] = field(default_factory=dict)
    # code → fields the release changes but the district's edits keep
    kept: dict[str, list[str]] = field(default_factory=dict)
    local: int = 0  # local categories, left alone
    newer: list[str] = field(default_factory=list)  # rows of a newer release, left alone
    retired: list[str] = field(default_factory=list)  # standard rows no longer in the release

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)

    def summary_zh(self) -> str:
        head = "（试运行，未保存）" if self.dry_run else ""
        text = (
            f"{head}标准目录版本 {self.release}：新增 {len(self.added)} 类，"
            f"更新 {len(self.updated)} 类，保留本地修改 {len(self.kept)} 类，"
            f"本地类别 {self.local} 个未改动"
        )
        if self.newer:
            text += f"，{len(self.newer)} 类已是更新的版本（未改动）"
        if self.retired:
            text += f"，{len(self.retired)} 类不在本版本中（保留）"
        return text

    def summary_en(self) -> str:
        head = "(dry run, nothing saved) " if self.dry_run else ""
        text = (
            f"{head}standard catalogue release {self.release}: {len(self.added)} added, "
            f"{len(self.updated)} updated, local edits kept in {len(self.kept)}, "
            f"{self.local} local categories untouched"
        )
        if self.newer:
            text += f", {len(self.newer)} already at a newer release (left alone)"
        if self.retired:
            text += f", {len(self.retired)} no longer in this release (kept)"
        return text


def _upgrade_row(
    row: Category, new: Category, release: str, report: UpgradeReport, *, dry_run: bool
) -> None:
    """Take a release's fields the district has not edited into an older standard row."""
    code = row.code
    edited = set(row.edited or [])
    definition = _definition(new)
    differ = [f for f in CATALOGUE_FIELDS if getattr(row, f) != definition[f]]
    if row.release is None:
        edited |= set(differ) & _OLD_EDITABLE
    taken = [f for f in differ if f not in edited]
    kept = [f for f in differ if f in edited]
    if taken:
        report.updated[code] = taken
    if kept:
        report.kept[code] = kept
    if not dry_run:
        for name in taken:
            setattr(row, name, definition[name])
        row.edited = sorted(edited)
        row.release = release


def upgrade_catalogue(
    session: Session,
    *,
    release: str = CATALOGUE_RELEASE,
    rows: list[Category] | None = None,
    dry_run: bool = False,
    principal: Principal | None = None,
) -> UpgradeReport:
    """Bring the standard categories to `release` without touching the district's edits.

    Rows stamped with no release predate releases: a field that differs from the release is
    taken as a district edit and kept (an old PATCH left no `edited` mark to go by).
    """
    wanted = {c.code: c for c in (default_categories() if rows is None else rows)}
    have = {c.code: c for c in session.scalars(select(Category))}
    report = UpgradeReport(release=release, dry_run=dry_run)
    report.local = sum(1 for c in have.values() if c.origin == "local")
    report.retired = sorted(
        code for code, c in have.items() if c.origin != "local" and code not in wanted
    )
    target = release_key(release)
    for code, new in wanted.items():
        row = have.get(code)
        if row is None:
            report.added.append(code)
            if not dry_run:
                session.add(_copy(new, release))
            continue
        if row.origin == "local":
            continue
        if release_key(row.release) > target:
            report.newer.append(code)
            continue
        if release_key(row.release) == target:
            continue  # a release never changes once published: nothing to do
        _upgrade_row(row, new, release, report, dry_run=dry_run)
    if not dry_run:
        session.flush()
        if principal is not None and report.changed:
            detail = {"added": report.added, "updated": report.updated, "kept": report.kept}
            record_for(
                session, principal, "catalogue.upgrade", object_type="case_catalogue",
                object_id=release, detail=detail,
            )  # fmt: skip
    return report


_UNSET = {"limits": {}, "urgent": False, "admitted_to_grid": False, "minor": False}


def _definition(new: Category) -> dict[str, Any]:
    """Return the release's fields of a class, with the column defaults an unsaved row lacks."""
    out = {}
    for name in CATALOGUE_FIELDS:
        value = getattr(new, name)
        if value is None:
            value = _UNSET.get(name)
        # JSON values are copied so that rows never share the release's dictionaries.
        if isinstance(value, dict):
            value = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
        out[name] = value
    return out


def _copy(new: Category, release: str) -> Category:
    return Category(
        code=new.code,
        is_active=True,
        origin="standard",
        release=release,
        edited=[],
        **_definition(new),
    )


def seed_categories(session: Session) -> int:
    """Add or upgrade the standard categories to the current release; return how many were added."""
    return len(upgrade_catalogue(session).added)
