"""The employer reference list (两网化): import it, and read it back as rows to measure against.

A county imports its whole list as of a date (the market-regulation register's 统一社会信用代码,
名称, 地址, and where known the 社区代码 or a position). The file is checked as a whole first
— every bad credit code, duplicate, unknown community or position outside the county is named
with its row — and nothing is written unless all rows pass. Then employers first seen are
listed from that date and those no longer on the list are delisted from it
(`EmployerReference`), so coverage of any past month is measured against the list as it stood.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.ids import parse_credit_code
from wangge.divisions.models import Division
from wangge.errors import DomainError, Forbidden, ValidationFailed
from wangge.grids.locating import locate_refs
from wangge.registry.excel import first_sheet_rows
from wangge.registry.models_references import EmployerReference

MAX_ROWS = 200_000
# Header → field; the register's own column names and the shorter ones both work.
HEADERS = {
    "统一社会信用代码": "credit_code", "信用代码": "credit_code", "credit_code": "credit_code",
    "名称": "name", "企业名称": "name", "name": "name",
    "地址": "address", "住所": "address", "经营场所": "address", "address": "address",
    "社区代码": "community_code", "community_code": "community_code",
    "经度": "lon", "lon": "lon", "纬度": "lat", "lat": "lat",
}  # fmt: skip
REQUIRED = {"credit_code": "统一社会信用代码", "name": "名称"}


@dataclass
class ListedEmployer:
    credit_code: str
    name: str
    address: str | None
    community_code: str | None
    grid_id: int | None
    lon: float | None
    lat: float | None


def _table(data: bytes, file_name: str) -> list[list[Any]]:
    """Return the rows of an .xlsx or a CSV (UTF-8, or GBK/GB18030 as Chinese Excel saves it)."""
    if data[:2] == b"PK":  # a zip: an .xlsx
        return [list(r) for r in first_sheet_rows(data, file_name)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(
            f"文件 {file_name} 既不是 UTF-8 也不是 GBK 编码的 CSV",
            f"{file_name} is neither a UTF-8 nor a GBK CSV file", code="bad_encoding",
        )  # fmt: skip
    return [row for row in csv.reader(io.StringIO(text))]


def _cell(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def parse_list(session: Session, county: str, data: bytes, file_name: str) -> list[ListedEmployer]:
    """Check every row of a reference list; raise one error naming all bad rows."""
    table = _table(data, file_name)
    if not table:
        raise ValidationFailed(
            f"文件 {file_name} 是空的", f"{file_name} is empty", code="empty_file"
        )
    header = [HEADERS.get(str(h or "").strip().rstrip("*")) for h in table[0]]
    missing = [zh for key, zh in REQUIRED.items() if key not in header]
    if missing:
        raise ValidationFailed(
            f"文件 {file_name} 缺少必填列：{'、'.join(missing)}",
            f"{file_name} lacks required columns: {', '.join(missing)}", code="missing_columns",
        )  # fmt: skip
    if len(table) - 1 > MAX_ROWS:
        raise ValidationFailed(
            f"一次最多导入 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows per import", code="too_many_rows"
        )  # fmt: skip
    communities = set(
        session.scalars(
            select(Division.code).where(
                Division.county_code == county, func.length(Division.code) == 12
            )
        )
    )
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    out: list[ListedEmployer] = []
    for number, values in enumerate(table[1:], start=2):
        cells = {k: _cell(v) for k, v in zip(header, values, strict=False) if k}
        if not any(cells.values()):
            continue

        def bad(
            field: str, zh: str, en: str, number: int = number, cells: dict[str, str | None] = cells
        ) -> None:
            errors.append({"row": number, "field": field, "value": cells.get(field),
                           "message_zh": zh, "message_en": en})  # fmt: skip

        row = _row(cells, county, communities, session, bad)
        if row is None:
            continue
        if row.credit_code in seen:
            bad("credit_code", f"统一社会信用代码与第 {seen[row.credit_code]} 行重复",
                f"credit code repeats row {seen[row.credit_code]}")  # fmt: skip
            continue
        seen[row.credit_code] = number
        out.append(row)
    if errors:
        raise ValidationFailed(
            f"名录有 {len(errors)} 处错误，未导入任何一行（第一处：第 {errors[0]['row']} 行，"
            f"{errors[0]['message_zh']}）",
            f"the list has {len(errors)} errors; nothing was imported (first: row "
            f"{errors[0]['row']}, {errors[0]['message_en']})",
            code="bad_rows", details={"errors": errors[:500]},
        )  # fmt: skip
    return out


def _row(
    cells: dict[str, str | None], county: str, communities: set[str], session: Session, bad: Any
) -> ListedEmployer | None:
    """Check one row; report its problems through `bad`; None when it has any."""
    ok = True
    code = cells.get("credit_code")
    name = cells.get("name")
    if not name:
        bad("name", "名称不能为空", "name is empty")
        ok = False
    credit = None
    if not code:
        bad("credit_code", "统一社会信用代码不能为空", "credit code is empty")
        ok = False
    else:
        try:
            credit = parse_credit_code(code).code
        except DomainError as exc:
            bad("credit_code", exc.message_zh, exc.message_en)
            ok = False
    community = cells.get("community_code")
    if community and community not in communities:
        bad("community_code", f"社区代码 {community} 不是本区县（{county}）的社区",
            f"community {community} is not a community of county {county}")  # fmt: skip
        ok = False
    lon = lat = None
    grid_id = None
    if cells.get("lon") or cells.get("lat"):
        try:
            lon, lat = float(cells.get("lon") or ""), float(cells.get("lat") or "")
        except ValueError:
            bad("lon", "经纬度须为数字", "longitude and latitude must be numbers")
            return None
        found = locate_refs(session, lon, lat, county_codes=[county]).get("social")
        if found is None:
            bad("lon", f"位置（{lon}, {lat}）不在本区县的网格内",
                f"position ({lon}, {lat}) is in no grid of the county")  # fmt: skip
            ok = False
        else:
            grid_id = found.id
            community = community or found.community_code
    if not ok or credit is None or name is None:
        return None
    return ListedEmployer(credit, name, cells.get("address"), community, grid_id, lon, lat)


def import_list(
    session: Session,
    principal: Principal,
    county: str,
    as_of: date,
    data: bytes,
    *,
    file_name: str = "list.xlsx",
    source: str | None = None,
) -> dict[str, Any]:
    """Import a county's whole reference list as of a date; return what changed."""
    principal.require("registry.write")
    if not principal.contains(county):
        raise Forbidden(
            f"只有管辖整个区县 {county} 的用户才能导入其名录",
            f"only users over the whole county {county} may import its list", code="out_of_scope",
        )  # fmt: skip
    _require_in_order(session, county, as_of)
    rows = parse_list(session, county, data, file_name)
    counts = _apply_list(session, county, as_of, rows, source)
    summary = {"county_code": county, "as_of": as_of.isoformat(), "rows": len(rows),
               "listed": counts["listed"], "updated": counts["updated"],
               "unchanged": counts["unchanged"], "delisted": counts["delisted"]}  # fmt: skip
    record(
        session, actor=principal.name, actor_id=principal.user_id,
        action="registry.employer_list.import", object_type="employer_list", object_id=county,
        county_code=county,
        detail={"file": file_name, **summary},
    )  # fmt: skip
    session.flush()
    return summary


def _require_in_order(session: Session, county: str, as_of: date) -> None:
    """Refuse a list older than one already imported for the county (lists go in date order)."""
    latest = session.scalar(
        select(func.max(EmployerReference.listed_on)).where(EmployerReference.county_code == county)
    )
    latest_off = session.scalar(
        select(func.max(EmployerReference.delisted_on)).where(
            EmployerReference.county_code == county
        )
    )
    newest = max(d for d in (latest, latest_off, date.min) if d is not None)
    if as_of < newest:
        raise ValidationFailed(
            f"名录日期 {as_of} 早于已导入的 {newest}：请按日期先后导入",
            f"list date {as_of} is before the one already imported ({newest}); import in order",
            code="list_out_of_order", field="as_of",
        )  # fmt: skip


def _apply_list(
    session: Session, county: str, as_of: date, rows: list[ListedEmployer], source: str | None
) -> dict[str, int]:
    """List the new employers, update the changed ones, delist those missing from `rows`."""
    current = {
        r.credit_code: r
        for r in session.scalars(
            select(EmployerReference).where(
                EmployerReference.county_code == county, EmployerReference.delisted_on.is_(None)
            )
        )
    }
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        ref = current.pop(row.credit_code, None)
        if ref is None:
            session.add(EmployerReference(county_code=county, listed_on=as_of, source=source,
                                          **row.__dict__))  # fmt: skip
            counts["listed"] += 1
            continue
        changed = False
        for field, value in row.__dict__.items():
            # A list that does not place an employer keeps the place an earlier list gave.
            if value is not None and getattr(ref, field) != value:
                setattr(ref, field, value)
                changed = True
        counts["updated" if changed else "unchanged"] += 1
    for ref in current.values():
        ref.delisted_on = as_of
        counts["delisted"] += 1
    return counts
