"""What a line does in automatic division, read from its class (道路等级 → 作用).

A line of the line layer is one of three roles:

* ``barrier`` (不可跨越): main roads, rivers, railways, administrative lines; no grid crosses it;
* ``boundary`` (优先边界): streets; grids follow it and cross it only when balance needs it;
* ``crossable`` (可跨越): alleys and paths inside a block; the divider ignores it.

The role comes from an explicit ``role``/``作用`` column, else from the first class column
(``class``, ``等级``, ``道路等级``, ``type``, ``类型``, OSM ``highway``/``railway``/``waterway``/
``boundary``) looked up in ``CLASSES``; a line without any of these is a preferred boundary. A
class not in the table is refused (naming the file, feature, field and value) unless the user's
mapping (``--line-roles "巷道=crossable,大街=boundary"``; ``*=boundary`` for every unknown
class) names it. Pure: no database, no files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shapely.geometry.base import BaseGeometry

from wangge.errors import ImportFailed, ValidationFailed

Role = Literal["barrier", "boundary", "crossable"]
ROLES: tuple[Role, ...] = ("barrier", "boundary", "crossable")
ROLE_ZH: dict[Role, str] = {"barrier": "不可跨越", "boundary": "优先边界", "crossable": "可跨越"}

# Explicit roles, in the role/作用 column or on the right of the user's mapping.
ROLE_NAMES: dict[str, Role] = {
    "barrier": "barrier",
    "不可跨越": "barrier",
    "屏障": "barrier",
    "boundary": "boundary",
    "边界": "boundary",
    "优先边界": "boundary",
    "crossable": "crossable",
    "可跨越": "crossable",
}
ROLE_FIELDS = ("role", "作用")
# Class columns, in the order they are looked at (names compared case-insensitively).
CLASS_FIELDS = (
    "class",
    "等级",
    "道路等级",
    "type",
    "类型",
    "highway",
    "railway",
    "waterway",
    "boundary",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The table (Chinese names, then English/OSM values: `highway`, `railway`, `waterway`, `boundary`).
CLASSES: dict[Role, tuple[str, ...]] = {
    "barrier": _words(
        """
        主干道 主干路 城市主干路 快速路 城市快速路 高速公路 高速 一级公路 国道 省道
        铁路 河流 河道 运河 水系 湖泊 水库 行政界线 行政区界
        motorway motorway_link trunk trunk_link primary primary_link expressway arterial
        railway rail light_rail narrow_gauge river canal boundary administrative
        """
    ),
    "boundary": _words(
        """
        次干道 次干路 城市次干路 支路 城市支路 街道 道路 二级公路 三级公路 四级公路
        县道 乡道 村道 围墙
        secondary secondary_link tertiary tertiary_link residential unclassified road busway
        collector local minor street tram stream
        """
    ),
    "crossable": _words(
        """
        巷道 胡同 里弄 小区道路 内部道路 步行道 小路 人行道 绿道
        service living_street footway path track alley lane pedestrian steps cycleway
        bridleway corridor subway ditch drain
        """
    ),
}
FALLBACK = "*"  # in the user's mapping: the role of every class the table does not know


def _key(value: object) -> str:
    """A class value as compared: trimmed, lower case, spaces and hyphens as underscores."""
    return "_".join(str(value).strip().lower().replace("-", " ").split())


TABLE: dict[str, Role] = {_key(v): role for role, values in CLASSES.items() for v in values}


class _Feature(Protocol):
    number: int
    geometry: BaseGeometry | None
    properties: dict[str, Any]


@dataclass
class ClassedLines:
    """The lines of a layer by role, in lon/lat; polygons count by their outline."""

    boundaries: list[BaseGeometry] = field(default_factory=list)
    barriers: list[BaseGeometry] = field(default_factory=list)
    lanes: list[BaseGeometry] = field(default_factory=list)

    def add(self, role: Role, geom: BaseGeometry) -> None:
        """File a line (or a polygon, by its outline) under its role."""
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = geom.boundary
        {"barrier": self.barriers, "boundary": self.boundaries, "crossable": self.lanes}[
            role
        ].append(geom)

    def followed(self) -> list[BaseGeometry]:
        """Lines the divider follows: barriers and preferred boundaries (for plots)."""
        return [*self.barriers, *self.boundaries]

    def __len__(self) -> int:
        return len(self.boundaries) + len(self.barriers) + len(self.lanes)


def parse_overrides(spec: str | Mapping[str, str] | None) -> dict[str, Role]:
    """The user's mapping: ``"主干道=barrier,巷道=可跨越"`` or a dict; class → role."""
    if not spec:
        return {}
    if isinstance(spec, str):
        pairs = []
        for item in spec.replace("，", ",").replace("；", ",").replace(";", ",").split(","):
            if not item.strip():
                continue
            name, sep, role = item.replace("：", "=").replace(":", "=").partition("=")
            if not sep or not name.strip():
                raise ValidationFailed(
                    f"线的作用映射 {item.strip()!r} 应写作 等级=作用（如 主干道=barrier）",
                    f"line role mapping {item.strip()!r} must read class=role "
                    "(e.g. 主干道=barrier)",
                    field="line_roles",
                )
            pairs.append((name, role))
    else:
        pairs = list(spec.items())
    out: dict[str, Role] = {}
    for name, role in pairs:
        found = ROLE_NAMES.get(_key(role))
        if found is None:
            raise ValidationFailed(
                f"线的作用映射 {name}={role}：作用须为 {_role_list_zh()}",
                f"line role mapping {name}={role}: the role must be one of {_role_list_en()}",
                field="line_roles",
            )
        out[_key(name)] = found
    return out


def _role_list_zh() -> str:
    return "、".join(f"{r}（{ROLE_ZH[r]}）" for r in ROLES)


def _role_list_en() -> str:
    return ", ".join(f"{r} ({ROLE_ZH[r]})" for r in ROLES)


def accepted_values() -> str:
    """The table as one line per role, for error messages."""
    return "; ".join(f"{r} {ROLE_ZH[r]}: {', '.join(CLASSES[r])}" for r in ROLES)


def _lookup(props: Mapping[str, Any], names: Sequence[str]) -> tuple[str, str] | None:
    """The first non-empty of the named columns (case-insensitive): (column, value)."""
    by_name = {str(k).strip().lower(): k for k in props}
    for name in names:
        key = by_name.get(name)
        if key is None:
            continue
        value = props[key]
        if value is not None and str(value).strip():
            return str(key), str(value).strip()
    return None


def role_of(
    file: str,
    number: int,
    props: Mapping[str, Any],
    overrides: Mapping[str, Role],
    others: Sequence[str] = (),
) -> Role:
    """The role of one feature from its columns; an unknown class raises ImportFailed."""
    explicit = _lookup(props, ROLE_FIELDS)
    if explicit is not None:
        column, value = explicit
        role = overrides.get(_key(value)) or ROLE_NAMES.get(_key(value))
        if role is None:
            raise ImportFailed(
                file=file,
                feature=number,
                field=column,
                reason_zh=f"作用 {value!r} 无法识别，应为 {_role_list_zh()}",
                reason_en=f"role {value!r} is not known; use {_role_list_en()}",
                code="unknown_line_role",
            )
        return role
    found = _lookup(props, CLASS_FIELDS)
    if found is None:
        return "boundary"  # no class at all: a street, as before classes existed
    column, value = found
    role = _class_role(value, overrides)
    if role is None:
        also = [v for v in others if v != value]
        raise ImportFailed(
            file=file,
            feature=number,
            field=column,
            reason_zh=(
                f"线的等级 {value!r} 无法识别。可用的等级：{accepted_values()}。"
                f"也可在 role/作用 列写 {'/'.join(ROLES)}，或给出映射 "
                f'--line-roles "{value}=barrier"（接口字段 line_roles）'
                + (f"。本文件中其他无法识别的等级：{'、'.join(also)}" if also else "")
            ),
            reason_en=(
                f"line class {value!r} is not known. Accepted classes: {accepted_values()}. "
                f"Or put {'/'.join(ROLES)} in a role/作用 column, or map it with "
                f'--line-roles "{value}=barrier" (API field line_roles)'
                + (f". Other unknown classes in this file: {', '.join(also)}" if also else "")
            ),
            code="unknown_line_class",
        )
    return role


def classify(
    file: str,
    features: Iterable[_Feature],
    overrides: str | Mapping[str, str] | None = None,
) -> ClassedLines:
    """Sort a layer's features into barriers, preferred boundaries and lanes."""
    mapping = parse_overrides(overrides)
    feats = [f for f in features if f.geometry is not None]
    # Every unknown class at once, so that one mapping can name them all.
    unknown = []
    for f in feats:
        found = None if _lookup(f.properties, ROLE_FIELDS) else _lookup(f.properties, CLASS_FIELDS)
        if found and _class_role(found[1], mapping) is None and found[1] not in unknown:
            unknown.append(found[1])
    out = ClassedLines()
    for f in feats:
        assert f.geometry is not None  # feats holds only features with a geometry
        out.add(role_of(file, f.number, f.properties, mapping, unknown), f.geometry)
    return out


def _class_role(value: str, overrides: Mapping[str, Role]) -> Role | None:
    """A class value's role: the user's mapping, then the table, then the user's ``*``."""
    return overrides.get(_key(value)) or TABLE.get(_key(value)) or overrides.get(FALLBACK)
