"""Excel templates, imports with a row-level report, and exports of filtered lists.

Imports are all or nothing by default: every row is checked and saved inside a savepoint,
and when any row fails the whole import is rolled back and only the report comes back.
With `valid_only` the good rows are kept and the report lists the others.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.masking import scrub
from wangge.common.spreadsheet import restore_cell, safe_cell
from wangge.errors import DomainError, ValidationFailed

MAX_ROWS = 200_000
LIST_SEPARATORS = "、,，;；"


@dataclass(frozen=True)
class Column:
    """One spreadsheet column: service key, Chinese header, type and code list."""

    key: str
    header: str
    kind: str = "text"  # text|int|float|date|list
    required: bool = False
    choices: tuple[str, ...] = ()
    width: int = 14


@dataclass(frozen=True)
class Sheet:
    """A registry kind as a spreadsheet: its columns and how rows are saved and listed."""

    kind: str
    title: str
    columns: tuple[Column, ...]
    save: Any  # (session, principal, data, record_id) -> object
    query: Any  # (principal, **filters) -> Select
    export_row: Any  # (session, obj, principal, unmask) -> dict[key, value]
    field_columns: dict[str, str] = field(default_factory=dict)  # service field -> column key
    choices_for: Any = None  # (session, county) -> {column key: choices}, computed lists

    def column_for(self, field_name: str | None) -> Column | None:
        """Return the column a service error's field belongs to."""
        key = self.field_columns.get(field_name or "", field_name)
        return next((c for c in self.columns if c.key == key), None)


def _header(column: Column) -> str:
    return f"{column.header}*" if column.required else column.header


def template(sheet: Sheet, choices: dict[str, tuple[str, ...]] | None = None) -> bytes:
    """Return an empty workbook with Chinese headers and drop-downs for the code lists."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook opens on one worksheet
    ws.title = sheet.title
    codes = wb.create_sheet("代码表")
    codes.sheet_state = "hidden"
    lists = {c.key: c.choices for c in sheet.columns if c.choices} | (choices or {})
    for index, column in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=1, column=index, value=_header(column))
        cell.font = Font(bold=True)
        if column.required:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        if column.kind == "text":
            # Text format keeps 18-digit ID numbers and codes from turning into floats.
            ws.column_dimensions[letter].number_format = "@"
        values = lists.get(column.key)
        if values:
            codes.cell(row=1, column=index, value=column.header)
            for n, value in enumerate(values, start=2):
                codes.cell(row=n, column=index, value=safe_cell(value))
            ref = f"'代码表'!${letter}$2:${letter}${len(values) + 1}"
            validation = DataValidation(type="list", formula1=f"={ref}", allow_blank=True)
            validation.error = f"请从下拉列表中选择{column.header}"
            validation.errorTitle = "取值无效"
            ws.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{MAX_ROWS}")
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value).strip()


def convert(column: Column, value: Any) -> Any:
    """Return a cell's value in the column's type; raise ValidationFailed with a Chinese reason."""
    if column.kind == "int":
        try:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        except (TypeError, ValueError):
            raise ValidationFailed(f"应为整数，实为 {value}", "must be an integer") from None
    if column.kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValidationFailed(f"应为数字，实为 {value}", "must be a number") from None
    if column.kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(_text(value).replace("/", "-"))
        except ValueError:
            raise ValidationFailed(f"日期 {value} 无效，应为 YYYY-MM-DD", "bad date") from None
    text = restore_cell(_text(value))  # an edited export: its formula guard comes off again
    if column.kind == "list":
        for sep in LIST_SEPARATORS[1:]:
            text = text.replace(sep, LIST_SEPARATORS[0])
        return [part.strip() for part in text.split(LIST_SEPARATORS[0]) if part.strip()]
    if column.choices and text not in column.choices:
        raise ValidationFailed(
            f"{text} 不在可选值（{'、'.join(column.choices)}）中", "not one of the allowed values"
        )
    return text


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def first_sheet_rows(data: bytes, file_name: str) -> Iterator[tuple[Any, ...]]:
    """Return the rows of an uploaded workbook's first sheet; a clear error if it is none."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise ValidationFailed(
            f"文件 {file_name} 不是有效的 Excel（.xlsx）文件", f"{file_name} is not an .xlsx file",
            code="bad_file",
        ) from None  # fmt: skip
    return wb.worksheets[0].iter_rows(values_only=True)


def import_workbook(
    session: Session,
    principal: Principal,
    sheet: Sheet,
    data: bytes,
    *,
    valid_only: bool = False,
    file_name: str = "upload.xlsx",
) -> dict[str, Any]:
    """Import a filled template; return {rows, created, updated, written, errors[...]}."""  # fmt: skip
    principal.require("registry.write")
    rows = first_sheet_rows(data, file_name)
    positions = _header_positions(sheet, next(rows, ()), file_name)
    errors: list[dict[str, Any]] = []
    counts = {"rows": 0, "created": 0, "updated": 0}
    outer = session.begin_nested()
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise ValidationFailed(
                f"一次最多导入 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows per import", code="too_many_rows"
            )  # fmt: skip
        cells = {col.key: values[i] for i, col in positions if i < len(values)}
        if all(_blank(v) for v in cells.values()):
            continue
        counts["rows"] += 1
        record_data, row_errors = _row_data(sheet, number, cells)
        if not row_errors:
            record_id = record_data.pop("id", None)
            row_errors = _save_row(session, principal, sheet, number, cells, record_data, record_id)
            if not row_errors:
                counts["updated" if record_id else "created"] += 1
        errors.extend(row_errors)
    written = not errors or valid_only
    if written:
        outer.commit()
        record(
            session, actor=principal.name, actor_id=principal.user_id, action=f"registry.{sheet.kind}.import",
            object_type=sheet.kind, detail={"file": file_name, **counts, "errors": len(errors)},
        )  # fmt: skip
    else:  # all rows or none: one refused row undoes the others
        outer.rollback()
        counts["created"] = counts["updated"] = 0
    return {
        "kind": sheet.kind,
        **counts,
        "written": written,
        "valid_only": valid_only,
        "errors": errors,
    }


def _header_positions(
    sheet: Sheet, header_row: tuple[Any, ...], file_name: str
) -> list[tuple[int, Column]]:
    """Return (position, column) of the template's columns found in the header row."""
    header = [str(h or "").strip().rstrip("*") for h in header_row]
    by_header = {c.header: c for c in sheet.columns}
    missing = [c.header for c in sheet.columns if c.required and c.header not in header]
    if missing:
        raise ValidationFailed(
            f"文件 {file_name} 缺少必填列：{'、'.join(missing)}",
            f"{file_name} lacks required columns: {', '.join(missing)}", code="missing_columns",
        )  # fmt: skip
    return [(i, by_header[h]) for i, h in enumerate(header) if h in by_header]


def _row_data(
    sheet: Sheet, number: int, cells: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the converted values of a row and the errors of its cells."""
    record_data: dict[str, Any] = {}
    row_errors = []
    for col in sheet.columns:
        value = cells.get(col.key)
        if _blank(value):
            if col.required:
                row_errors.append(_error(number, col, value, f"{col.header}不能为空"))
            elif col.key in cells:
                record_data[col.key] = None
            continue
        try:
            record_data[col.key] = convert(col, value)
        except ValidationFailed as exc:
            row_errors.append(_error(number, col, value, exc.message_zh))
    return record_data, row_errors


def _save_row(
    session: Session,
    principal: Principal,
    sheet: Sheet,
    number: int,
    cells: dict[str, Any],
    record_data: dict[str, Any],
    record_id: int | None,
) -> list[dict[str, Any]]:
    """Save one row in a savepoint of its own; return its error (a refused row undoes itself)."""
    try:
        with session.begin_nested():
            sheet.save(session, principal, record_data, record_id)
    except DomainError as exc:
        at = sheet.column_for(exc.field)
        return [_error(number, at, cells.get(at.key) if at else None, exc.message_zh)]
    return []


def _error(number: int, column: Column | None, value: Any, reason: str) -> dict[str, Any]:
    # The value is scrubbed: a report is mailed around, a full ID number must not travel with it.
    shown = scrub(_text(value)) if not _blank(value) else ""
    return {
        "row": number,
        "column": column.header if column else "",
        "value": shown,
        "reason": reason,
    }


def export_workbook(
    session: Session,
    principal: Principal,
    sheet: Sheet,
    *,
    unmask: bool = False,
    reason: str | None = None,
    **filters: Any,
) -> bytes:
    """Return the filtered list as a workbook in the template's layout (personal data masked)."""  # fmt: skip
    if unmask:
        principal.require_with_reason(
            "personal.unmask", reason, doing_zh="导出完整身份信息", doing_en="export full values"
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet.title)
    count = fill_export(session, principal, sheet, ws, unmask=unmask, **filters)
    audit_export(session, principal, sheet, count, unmask=unmask, reason=reason, **filters)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def fill_export(
    session: Session,
    principal: Principal,
    sheet: Sheet,
    ws: Any,
    *,
    unmask: bool = False,
    every: int = 2000,
    progress: Callable[[int], None] | None = None,
    **filters: Any,
) -> int:
    """Append the header and the filtered rows to `ws`; call `progress(rows)` every `every`."""
    ws.append([_header(c) for c in sheet.columns])
    count = 0
    for obj in session.scalars(sheet.query(principal, **filters).execution_options(yield_per=2000)):
        row = sheet.export_row(session, obj, principal, unmask)
        ws.append([_cell(row.get(c.key)) for c in sheet.columns])
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    return count


def audit_export(
    session: Session,
    principal: Principal,
    sheet: Sheet,
    count: int,
    *,
    unmask: bool,
    reason: str | None,
    extra: dict[str, Any] | None = None,
    **filters: Any,
) -> None:
    """Write the export's audit entry: who, which filters, how many rows, unmasked or not."""
    record(
        session, actor=principal.name, actor_id=principal.user_id, action=f"registry.{sheet.kind}.export",
        object_type=sheet.kind, reason=reason if unmask else None,
        detail={"rows": count, "unmasked": unmask, "filters": {k: v for k, v in filters.items() if v}, **(extra or {})},
    )  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return safe_cell("、".join(value))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return safe_cell(value)
