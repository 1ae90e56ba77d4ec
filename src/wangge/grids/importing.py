"""File imports of divisions, grids and point layers; all or nothing, errors name the feature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Point
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from wangge.common.gisio import Feature, FeatureSet, read_features
from wangge.divisions.service import DivisionIn, check_division, load_divisions
from wangge.errors import DomainError, ImportFailed
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid, GridVersion, LocatedPoint
from wangge.grids.service import (
    KIND_ZH,
    GridIn,
    add_grids,
    check_county,
    check_kind,
    check_rows,
    new_version,
)

# Accepted column names, English and the Chinese ones GIS staff use.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码", "网格编码", "区划代码", "代码", "grid_code", "BGID", "WGBM"),
    "name": ("name", "名称", "网格名称", "区划名称"),
    "parent_code": ("parent", "parent_code", "上级代码", "所属网格", "上级编码"),
    "community_code": ("community", "community_code", "社区编码", "所属社区"),
    "kind": ("kind", "类型", "网格类型"),
    "households": ("households", "户数"),
    "population": ("population", "人口", "人口数"),
    "land_use": ("land_use", "用地类别"),
    "responsible_party": ("responsible_party", "responsible", "责任主体", "责任人"),
    "valid_from": ("valid_from", "初始日期", "启用日期"),
    "valid_to": ("valid_to", "终止日期", "停用日期"),
    "members": ("members", "单元网格", "成员网格"),
    "key": ("key", "id", "编号", "标识"),
}
KIND_BY_ZH = {zh: kind for kind, zh in KIND_ZH.items()}


@dataclass
class DivisionFile:
    """The checked rows of a division file and the feature number of each."""

    rows: list[DivisionIn]
    numbers: list[int]

    @property
    def codes(self) -> list[str]:
        return [row.code for row in self.rows]


def field(props: dict[str, Any], name: str) -> tuple[str | None, Any]:
    """Return (column, value) of the first alias present with a non-empty value."""
    for alias in ALIASES[name]:
        for key in (alias, alias.upper(), alias.lower()):
            value = props.get(key)
            if value is not None and str(value).strip() != "":
                return key, value
    return None, None


def _int(file: str, feature: Feature, name: str) -> int | None:
    column, value = field(feature.properties, name)
    if value is None:
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise ImportFailed(
            file=file,
            feature=feature.number,
            field=column,
            reason_zh=f"值 {value!r} 不是整数",
            reason_en=f"value {value!r} is not an integer",
        ) from None
    if number < 0:
        raise ImportFailed(
            file=file,
            feature=feature.number,
            field=column,
            reason_zh=f"值 {number} 不能为负数",
            reason_en=f"value {number} must not be negative",
        )
    return number


def _date(file: str, feature: Feature, name: str) -> date | None:
    column, value = field(feature.properties, name)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ImportFailed(
        file=file,
        feature=feature.number,
        field=column,
        reason_zh=f"日期 {text!r} 格式应为 YYYY-MM-DD 或 YYYYMMDD",
        reason_en=f"date {text!r} must be YYYY-MM-DD or YYYYMMDD",
    )


def _str(feature: Feature, name: str) -> str | None:
    value = field(feature.properties, name)[1]
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def import_divisions(session: Session, path: Path, **read: Any) -> int:
    """Load divisions (code, name, optional parent) from a vector file."""
    return len(load_division_file(session, path, read_division_file(path, **read)))


def read_division_file(path: Path, **read: Any) -> DivisionFile:
    """Read and check every feature of a division file on its own, writing nothing.

    Raises one ImportFailed naming the first bad feature whose `details["errors"]` lists them
    all; the checks across features (duplicates, missing parents) come with the load.
    """
    fs = read_features(path, **read)
    rows: list[DivisionIn] = []
    numbers: list[int] = []
    errors: list[ImportFailed] = []
    for f in fs.features:
        code = _str(f, "code")
        row = DivisionIn(
            code=code or "",
            name=_str(f, "name") or "",
            geom=f.geometry,
            parent_code=_str(f, "parent_code"),
        )
        if not code:
            errors.append(
                ImportFailed(
                    file=path.name,
                    feature=f.number,
                    field="code",
                    reason_zh="缺少区划代码（code/区划代码）",
                    reason_en="missing division code (code)",
                )
            )
            continue
        try:
            row.code = check_division(row)[0].code
        except DomainError as exc:
            errors.append(_as_import_error(path, exc, f.number))
            continue
        rows.append(row)
        numbers.append(f.number)
    if errors:
        raise _error_list(errors)
    return DivisionFile(rows, numbers)


def load_division_file(session: Session, path: Path, read: DivisionFile) -> list[str]:
    """Insert or update the divisions read from `path`; return their codes."""
    try:
        loaded = load_divisions(session, read.rows)
    except DomainError as exc:
        feature = _feature_of(read.numbers, exc)
        raise _error_list([_as_import_error(path, exc, feature)]) from None
    return [d.code for d in loaded]


def grids_from_features(file: str, features: list[Feature], default_kind: str) -> list[GridIn]:
    """Turn features into GridIn rows, naming the feature and field of any bad value."""
    rows = []
    for f in features:
        kind = _str(f, "kind") or default_kind
        kind = KIND_BY_ZH.get(kind, kind)
        try:
            check_kind(kind)
        except DomainError as exc:
            raise ImportFailed(
                file=file,
                feature=f.number,
                field="kind",
                reason_zh=exc.message_zh,
                reason_en=exc.message_en,
            ) from None
        members = _str(f, "members")
        rows.append(
            GridIn(
                kind=kind,
                geom=f.geometry,
                code=_str(f, "code"),
                name=_str(f, "name"),
                community_code=_str(f, "community_code"),
                parent_code=_str(f, "parent_code"),
                members=[m.strip() for m in members.replace("，", ",").split(",") if m.strip()]
                if members
                else [],
                households=_int(file, f, "households"),
                population=_int(file, f, "population"),
                land_use=_str(f, "land_use"),
                responsible_party=_str(f, "responsible_party"),
                valid_from=_date(file, f, "valid_from"),
                valid_to=_date(file, f, "valid_to"),
            )
        )
    return rows


def import_grids(
    session: Session,
    path: Path,
    *,
    county: str,
    kind: str,
    version_name: str,
    width: int,
    note: str | None = None,
    **read: Any,
) -> GridVersion:
    """Import a grid file as a new draft version of the layer its kind belongs to."""
    layer = check_kind(kind)
    fs = read_features(path, **read)
    rows = grids_from_features(path.name, fs.features, kind)
    version = new_version(session, county, layer, version_name, note=note)
    _wrap(path, lambda: add_grids(session, version, rows, width=width))
    return version


MAX_LISTED_ERRORS = 100


def import_grid_file(
    session: Session,
    path: Path,
    *,
    county: str,
    kind: str,
    version_name: str,
    width: int,
    note: str | None = None,
    **read: Any,
) -> GridVersion:
    """Import grids as a draft like import_grids, but report every bad feature at once.

    Raises one ImportFailed naming the first bad feature whose `details["errors"]` lists
    them all (feature, field, messages); the caller's transaction then writes nothing.
    """
    layer = check_kind(kind)
    fs = read_features(path, **read)
    rows: list[GridIn] = []
    errors: list[ImportFailed] = []
    numbers: list[int] = []
    for f in fs.features:
        try:
            rows.extend(grids_from_features(path.name, [f], kind))
            numbers.append(f.number)
        except ImportFailed as exc:
            errors.append(exc)
    check_county(session, county)
    if not errors:
        # Checked against an unsaved version, so a refused file leaves no row behind.
        probe = GridVersion(county_code=county, layer=layer, number=0, name=version_name)
        for problem in check_rows(session, probe, rows):
            feature = _feature_of(numbers, problem)
            errors.append(_as_import_error(path, problem, feature))
    if errors:
        raise _error_list(errors)
    version = new_version(session, county, layer, version_name, note=note)
    _wrap(path, lambda: add_grids(session, version, rows, width=width))
    version.report = {"source": "import", "file": path.name, "kind": kind, "grids": len(rows)}
    session.flush()
    return version


def _feature_of(numbers: list[int], exc: DomainError) -> int | None:
    """The feature number of the row (1-based, of the rows passed on) an error names."""
    row = exc.details.get("row")
    return numbers[row - 1] if isinstance(row, int) and 0 < row <= len(numbers) else None


def _as_import_error(path: Path, exc: DomainError, feature: int | None) -> ImportFailed:
    return ImportFailed(
        file=path.name,
        feature=feature,
        field=exc.field,
        reason_zh=exc.message_zh,
        reason_en=exc.message_en,
        code=exc.code,
    )


def _error_list(errors: list[ImportFailed]) -> ImportFailed:
    """One error for the first problem, carrying the list of all of them."""
    first = errors[0]
    listed = [
        {
            "feature": e.details.get("feature"),
            "field": e.field,
            "message_zh": e.message_zh,
            "message_en": e.message_en,
        }
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    if len(errors) > 1:
        first.message_zh += f"（共 {len(errors)} 处错误）"
        first.message_en += f" ({len(errors)} errors in all)"
    first.details["errors"] = listed
    first.details["count"] = len(errors)
    return first


def _points(
    fs: FeatureSet, path: Path
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """Keys and lon/lat of the point features; every feature a point, every key once."""
    keys, lon, lat = [], [], []
    for f in fs.features:
        key = _str(f, "key") or str(f.number)
        if not isinstance(f.geometry, Point):
            raise ImportFailed(
                file=path.name,
                feature=f.number,
                field="geometry",
                reason_zh="点图层的要素必须是点",
                reason_en="features must be points",
            )
        keys.append(key)
        lon.append(f.geometry.x)
        lat.append(f.geometry.y)
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ImportFailed(
            file=path.name,
            field="key",
            reason_zh=f"编号 {dup} 重复",
            reason_en=f"key {dup} appears twice",
        )
    return keys, np.array(lon, dtype=float), np.array(lat, dtype=float)


def import_points(
    session: Session,
    path: Path,
    *,
    county: str,
    layer: str,
    progress: Callable[[int], None] | None = None,
    **read: Any,
) -> int:
    """Import or update a point layer, assigning every point to its grids."""
    fs = read_features(path, **read)
    keys, x, y = _points(fs, path)
    found = locate_many(session, x, y, county_codes=[county], progress=progress)
    existing = dict(
        session.execute(
            select(LocatedPoint.key, LocatedPoint.id).where(
                LocatedPoint.county_code == county, LocatedPoint.layer == layer
            )
        ).all()
    )
    inserts, updates = [], []
    for i, (key, f) in enumerate(zip(keys, fs.features, strict=True)):
        values = {
            "county_code": county,
            "layer": layer,
            "key": key,
            "lon": float(x[i]),
            "lat": float(y[i]),
            "grid_id": int(found["social"][i]) if found["social"][i] >= 0 else None,
            "unit_grid_id": int(found["unit"][i]) if found["unit"][i] >= 0 else None,
            "properties": _jsonable(f.properties),
        }
        if key in existing:
            updates.append({"id": existing[key], **values})
        else:
            inserts.append(values)
    if inserts:
        table = LocatedPoint.__table__
        assert isinstance(table, Table)  # a declarative model is mapped to a Table
        session.execute(table.insert(), inserts)
    if updates:
        session.execute(update(LocatedPoint), updates)
    return len(keys)


def _jsonable(props: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in props.items()}


def _wrap(path: Path, action: Callable[[], Any]) -> Any:
    """Re-raise a service error as an ImportFailed that names the file."""
    try:
        return action()
    except ImportFailed:
        raise
    except DomainError as exc:
        raise ImportFailed(
            file=path.name,
            feature=exc.details.get("row"),
            field=exc.field,
            reason_zh=exc.message_zh,
            reason_en=exc.message_en,
            code=exc.code,
        ) from None


def grid_count(session: Session, version_id: int) -> int:
    """Return how many grids a version holds."""
    return len(session.scalars(select(Grid.id).where(Grid.version_id == version_id)).all())


ATTRIBUTE_FIELDS = (
    "name",
    "households",
    "population",
    "land_use",
    "responsible_party",
    "valid_from",
    "valid_to",
)


def update_grid_attributes(session: Session, path: Path, *, version_id: int) -> int:
    """Update grid attributes from a CSV/XLSX table keyed by grid code; all or nothing."""
    from wangge.common.gisio import read_table
    from wangge.grids.service import get_version

    version = get_version(session, version_id)
    if version.status == "retired":
        raise ImportFailed(
            file=path.name,
            reason_zh=f"版本 {version.number} 已停用，不能修改",
            reason_en=f"version {version.number} is retired and cannot change",
        )
    grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.version_id == version_id))}
    changes = []
    for number, row in enumerate(read_table(path), 1):
        f = Feature(number=number, geometry=None, properties=row)
        column, code = field(row, "code")
        code = _str(f, "code")
        if not code:
            raise ImportFailed(
                file=path.name,
                feature=number,
                field="网格编码",
                reason_zh="缺少网格编码",
                reason_en="missing grid code",
            )
        if code not in grids:
            raise ImportFailed(
                file=path.name,
                feature=number,
                field=column,
                reason_zh=f"版本中没有网格 {code}",
                reason_en=f"no grid {code} in this version",
            )
        values = {
            "name": _str(f, "name"),
            "households": _int(path.name, f, "households"),
            "population": _int(path.name, f, "population"),
            "land_use": _str(f, "land_use"),
            "responsible_party": _str(f, "responsible_party"),
            "valid_from": _date(path.name, f, "valid_from"),
            "valid_to": _date(path.name, f, "valid_to"),
        }
        changes.append((grids[code], {k: v for k, v in values.items() if v is not None}))
    for grid, given in changes:
        for key, value in given.items():
            setattr(grid, key, value)
    session.flush()
    return len(changes)
