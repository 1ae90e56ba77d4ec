"""A county's departments as an Excel list: its columns, the template and the export.

The all-or-nothing import of a filled list is `departments/excel_import.py`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.spreadsheet import safe_cell
from wangge.departments.codes import LEVELS
from wangge.departments.models import Department
from wangge.departments.service import (
    list_departments,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 5_000
SHEET = "部门"
ACTIVE, INACTIVE = "在用", "停用"


@dataclass(frozen=True)
class Column:
    key: str  # a DepartmentData field
    header: str
    width: int
    required: bool = False


COLUMNS = (
    Column("code", "部门编码", 18, required=True),
    Column("name", "部门名称", 24, required=True),
    Column("level", "层级(区/街道/社区/市)", 12),
    Column("parent_code", "上级部门编码", 18),
    Column("business_line", "业务条线", 12),
    Column("contact", "联系人", 10),
    Column("duty_phone", "值班电话", 18),
    Column("credit_code", "统一社会信用代码", 22),
    Column("serves_counties", "服务区县", 22),
    Column("is_active", "状态", 8),
)
EXAMPLE = (
    "110108-CGW",
    "区城管委",
    "区",
    "",
    "城管",
    "张三",
    "010-62550000",
    "",
    "",
    ACTIVE,
)


def header_title(header: str) -> str:
    """The header without its hint: 层级(区/街道/社区/市) → 层级."""
    return re.split(r"[(（]", header.replace("*", ""), maxsplit=1)[0].strip()


def _sheet(wb: Workbook, title: str) -> Worksheet:
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook opens on one worksheet
    ws.title = title
    for index, column in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=index, value=column.header)
        cell.font = Font(bold=True)
        if column.required:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        ws.column_dimensions[letter].number_format = "@"  # codes and phones stay text
    for key, values in (
        ("level", [zh for zh, _ in LEVELS.values()]),
        ("is_active", [ACTIVE, INACTIVE]),
    ):
        letter = get_column_letter(next(i for i, c in enumerate(COLUMNS, 1) if c.key == key))
        choice = DataValidation(type="list", formula1=f'"{",".join(values)}"', allow_blank=True)
        ws.add_data_validation(choice)
        choice.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    ws.freeze_panes = "A2"
    return ws


def _bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def template() -> bytes:
    """An empty list with the headers, and a second sheet with an example row and the rules."""
    wb = Workbook()
    _sheet(wb, SHEET)
    help_ws = wb.create_sheet("填写说明")
    help_ws.append([c.header for c in COLUMNS])
    help_ws.append(list(EXAMPLE))
    for line in (
        "只导入第一个工作表；部门编码在全系统唯一，建议用“区县代码-简称”，如 110108-CGW。",
        "层级：市、区、街道、社区；市级部门的服务区县填写它服务的区县代码，用顿号分隔。",
        "上级部门可以是本文件中的其他行；已有的部门编码按文件中的列更新，新编码新建。",
        "有任何一行出错时不导入任何内容，并列出所有错误的行、列和原因。",
    ):
        help_ws.append([line])
    return _bytes(wb)


def export(session: Session, principal: Principal, county: str | None = None) -> bytes:
    """The departments the principal sees (of one county and the city ones serving it)."""
    principal.require("departments.read")
    wb = Workbook()
    ws = _sheet(wb, SHEET)
    for dept in list_departments(session, principal, county=county):
        ws.append([safe_cell(v) for v in _row(dept)])
    return _bytes(wb)


def _row(dept: Department) -> list[Any]:
    return [
        dept.code,
        dept.name,
        LEVELS.get(dept.level, (dept.level,))[0],
        dept.parent_code or "",
        dept.business_line or "",
        dept.contact or "",
        dept.duty_phone or "",
        dept.credit_code or "",
        "、".join(dept.serves_counties or []),
        ACTIVE if dept.is_active else INACTIVE,
    ]
