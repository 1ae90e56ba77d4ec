"""A county's departments imported from an Excel list, all or nothing.

Every row is checked against the database and against the other rows of the file (a row may
name a parent further down), and the whole file is refused with every bad row listed (row,
column, value, reason in Chinese and English) before anything is written. Existing codes are
updated, only in the columns the file has; new codes are created.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.common.spreadsheet import restore_cell
from wangge.departments.checks import DepartmentData, data_of, field_problems, link_problems
from wangge.departments.codes import LEVELS, city_of
from wangge.departments.excel import ACTIVE, COLUMNS, INACTIVE, MAX_ROWS, header_title
from wangge.departments.models import Department
from wangge.departments.service import (
    EDITABLE,
    create_department,
    require_manage,
    set_active,
    update_department,
)
from wangge.errors import DomainError, ValidationFailed

_ACTIVE_WORDS = {ACTIVE, "启用", "正常", "有效", "是", "active", "yes"}
_INACTIVE_WORDS = {INACTIVE, "禁用", "撤销", "无效", "否", "inactive", "no"}
_LIST_SPLIT = re.compile(r"[、,，;；\s]+")
# Service fields that a check names → the column the clerk should look at.
_FIELD_COLUMN = {c.key: c for c in COLUMNS} | {"county_code": COLUMNS[2]}


def _text(value: Any) -> str:
    value = restore_cell(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read(data: bytes, file_name: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Return {column key: index} and the non-blank rows (Excel row number, texts)."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise ValidationFailed(
            f"{file_name} 不是有效的 Excel（.xlsx）文件",
            f"{file_name} is not a valid Excel (.xlsx) file",
            code="bad_file",
            field="file",
        ) from None
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = [_text(v) for v in next(rows, ())]
    by_title = {header_title(c.header): c.key for c in COLUMNS}
    index: dict[str, int] = {}
    unknown = []
    for i, text in enumerate(header):
        if not text:
            continue
        key = by_title.get(header_title(text))
        if key is None:
            unknown.append(text)
        elif key not in index:
            index[key] = i
    missing = [c.header for c in COLUMNS if c.required and c.key not in index]
    if missing or unknown:
        zh = "；".join(
            [f"缺少必填列 {'、'.join(missing)}"] * bool(missing)
            + [f"无法识别的列 {'、'.join(unknown)}"] * bool(unknown)
        )
        en = "; ".join(
            [f"required columns missing: {', '.join(missing)}"] * bool(missing)
            + [f"unknown columns: {', '.join(unknown)}"] * bool(unknown)
        )
        raise ValidationFailed(
            f"{file_name} 第 1 行（表头）：{zh}；可用的列：{'、'.join(c.header for c in COLUMNS)}",
            f"{file_name} row 1 (headers): {en}",
            code="bad_headers",
            field="file",
        )
    out = []
    for number, values in enumerate(rows, start=2):
        texts = [_text(v) for v in values]
        if any(texts):
            out.append((number, texts))
        if len(out) > MAX_ROWS:
            raise ValidationFailed(
                f"{file_name} 超过 {MAX_ROWS} 行",
                f"{file_name} has more than {MAX_ROWS} rows",
                code="too_many_rows",
                field="file",
            )
    wb.close()
    return index, out


@dataclass
class _Row:
    number: int
    cells: dict[str, str]  # column key → text, for the columns the file has
    data: DepartmentData
    existing: Department | None
    active: bool | None


def _error(number: int, key: str, value: str, exc: DomainError) -> dict[str, Any]:
    column = _FIELD_COLUMN.get(exc.field or key, _FIELD_COLUMN[key])
    return {
        "row": number,
        "column": header_title(column.header),
        "value": value,
        "reason_zh": exc.message_zh,
        "reason_en": exc.message_en,
        "code": exc.code,
    }


def _parse(
    session: Session, actor: Principal, county: str, number: int, cells: dict[str, str]
) -> tuple[_Row, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    code = cells.get("code", "")
    existing = session.get(Department, code) if code else None
    if existing is not None:
        data = data_of(existing)
        if existing.county_code not in (county, city_of(county)):
            errors.append(_error(number, "code", code, _taken(code, existing.county_code)))
    else:
        data = DepartmentData(code=code, county_code=county, name="")
    _fill(data, cells, county, new=existing is None)
    active, problem = _active(cells.get("is_active", ""))
    if problem is not None:
        errors.append(_error(number, "is_active", cells.get("is_active", ""), problem))
    for exc in field_problems(data):
        key = exc.field if exc.field in _FIELD_COLUMN else "code"
        errors.append(_error(number, key, cells.get(_FIELD_COLUMN[key].key, ""), exc))
    if data.level in LEVELS and data.county_code:
        try:
            require_manage(actor, data.county_code, f"部门 {code}")
        except DomainError as exc:
            errors.append(_error(number, "code", code, exc))
    return _Row(number, cells, data, existing, active), errors


def _taken(code: str, county_code: str) -> ValidationFailed:
    return ValidationFailed(
        f"部门编码 {code} 已被 {county_code} 的部门使用（编码在全系统唯一）",
        f"department code {code} is already used in {county_code} "
        "(codes are unique in the deployment)",
        code="department_exists",
        field="code",
    )


def _fill(data: DepartmentData, cells: dict[str, str], county: str, *, new: bool) -> None:
    """Copy a row's cells onto the department's data (a new city department serves the county)."""
    for key in ("name", "parent_code", "business_line", "contact", "duty_phone", "credit_code"):
        if key in cells:
            setattr(data, key, cells[key])
    if cells.get("level") and new:
        data.level = cells["level"]
        if data.level in ("市", "city"):
            data.county_code = city_of(county)
    elif cells.get("level"):
        data.level = cells["level"]  # a change between city and county is refused as such
    if "serves_counties" in cells:
        data.serves_counties = [c for c in _LIST_SPLIT.split(cells["serves_counties"]) if c]
    if new and data.county_code != county and not data.serves_counties:
        data.serves_counties = [county]  # a city department listed by a county serves it


def _active(status: str) -> tuple[bool | None, ValidationFailed | None]:
    """Return the status cell as True/False (None when blank), or the problem with it."""
    if status.lower() in _ACTIVE_WORDS:
        return True, None
    if status.lower() in _INACTIVE_WORDS:
        return False, None
    if not status:
        return None, None
    return None, ValidationFailed(
        f"状态 {status} 无效，应为 {ACTIVE} 或 {INACTIVE}",
        f"status {status!r} must be {ACTIVE} (active) or {INACTIVE} (inactive)",
        code="bad_status",
        field="is_active",
    )


def import_workbook(
    session: Session, actor: Principal, data: bytes, *, county: str, file_name: str
) -> dict[str, Any]:
    """Create or update the departments of a county from a list; all or nothing (422 listing
    every bad row), audited per department."""
    require_manage(actor, county, f"区县 {county}")
    index, raw = _read(data, file_name)
    rows: list[_Row] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, texts in raw:
        cells = {key: (texts[i] if i < len(texts) else "") for key, i in index.items()}
        row, row_errors = _parse(session, actor, county, number, cells)
        code = row.data.code
        if code in seen:
            row_errors.append(
                _error(
                    number,
                    "code",
                    code,
                    ValidationFailed(
                        f"部门编码 {code} 与第 {seen[code]} 行重复",
                        f"code {code} repeats row {seen[code]}",
                        code="duplicate_row",
                        field="code",
                    ),
                )
            )
        seen.setdefault(code, number)
        rows.append(row)
        errors.extend(row_errors)
    pending = {r.data.code: r.data for r in rows}
    for row in rows:
        for exc in link_problems(session, row.data, pending=pending):
            key = exc.field or "parent_code"
            errors.append(_error(row.number, key, row.cells.get(key, ""), exc))
    if errors:
        raise _failed(file_name, errors)
    return _write(session, actor, rows, file_name)


def _failed(file_name: str, errors: list[dict[str, Any]]) -> ValidationFailed:
    errors.sort(key=lambda e: (e["row"], e["column"]))
    shown = errors[:5]
    more_zh = f"等 {len(errors)} 处" if len(errors) > len(shown) else ""
    more_en = f" ({len(errors)} in all)" if len(errors) > len(shown) else ""
    return ValidationFailed(
        f"{file_name} 有错误，未导入任何部门："
        + "；".join(f"第 {e['row']} 行 {e['column']}：{e['reason_zh']}" for e in shown)
        + more_zh,
        f"{file_name} has errors, nothing was imported: "
        + "; ".join(f"row {e['row']}, {e['column']}: {e['reason_en']}" for e in shown)
        + more_en,
        code="import_failed",
        field="file",
        details={"file": file_name, "errors": errors},
    )


def _write(session: Session, actor: Principal, rows: list[_Row], file_name: str) -> dict[str, Any]:
    # Parents before children (the foreign key is checked at once on PostgreSQL).
    pending = {r.data.code: r for r in rows}
    ordered: list[_Row] = []
    done: set[str] = set()
    while len(ordered) < len(rows):
        before = len(ordered)
        for row in rows:
            parent = row.data.parent_code
            if row.data.code not in done and (parent not in pending or parent in done):
                ordered.append(row)
                done.add(row.data.code)
        if len(ordered) == before:  # a loop: refused by link_problems, so never here
            raise ValidationFailed(
                "上级部门形成循环", "the parent chain loops", code="parent_cycle"
            )
    via = f"import:{file_name}"
    created, updated = [], []
    for row in ordered:
        if row.existing is None:
            if row.active is False:
                row.data.is_active = False
            create_department(session, actor, row.data, via=via)
            created.append(row.data.code)
            continue
        changes = {k: getattr(row.data, k) for k in EDITABLE}
        diff = update_department(session, actor, row.existing, changes, via=via)
        if row.active is not None and row.active != row.existing.is_active:
            set_active(session, actor, row.existing, row.active)
            diff["is_active"] = [not row.active, row.active]
        if diff:
            updated.append(row.data.code)
    record_for(
        session,
        actor,
        "department.import",
        object_type="department",
        detail={
            "file": file_name,
            "rows": len(rows),
            "created": len(created),
            "updated": len(updated),
        },
    )
    return {
        "file": file_name,
        "rows": len(rows),
        "created": created,
        "updated": updated,
        "unchanged": len(rows) - len(created) - len(updated),
    }
