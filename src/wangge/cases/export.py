"""The filtered case list as an Excel workbook: the list's filters and order, labels in the
reader's language, phone and ID numbers masked unless unmasking is allowed, audited."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import datetime
from itertools import islice
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.labels import label
from wangge.cases.models import Case, Category
from wangge.cases.queries import CaseFilter, departments_of, matching
from wangge.cases.timing import light, overdue_hours
from wangge.common.localtime import local_time
from wangge.common.masking import scrub
from wangge.common.spreadsheet import safe_cell
from wangge.divisions.models import Division
from wangge.grids.models import Grid

UNMASK = "personal.unmask"
# (key, Chinese header, English header), in the sheet's order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("code", "案卷编号", "Case number"),
    ("category", "类别", "Category"),
    ("state", "状态", "State"),
    ("light", "亮灯", "Light"),
    ("source", "来源", "Source"),
    ("street", "街道", "Street"),
    ("community", "社区", "Community"),
    ("grid", "网格", "Grid"),
    ("grid_code", "网格编码", "Grid code"),
    ("address", "地址", "Address"),
    ("description", "问题描述", "Description"),
    ("departments", "处置部门", "Departments"),
    ("reported_at", "上报时间", "Reported at"),
    ("due_at", "处置时限", "Due"),
    ("overdue_hours", "超期（小时）", "Hours overdue"),
)
_CHUNK = 500


def export_workbook(
    session: Session,
    principal: Principal,
    f: CaseFilter,
    *,
    now: datetime,
    sort: str,
    lang: str = "zh",
    unmask: bool = False,
    reason: str | None = None,
) -> bytes:
    """Return the cases of the list as a workbook; one audit entry names the filters and rows."""
    if unmask:
        reason = principal.require_with_reason(
            UNMASK, reason, doing_zh="导出完整个人信息", doing_en="export full values"
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Cases" if lang == "en" else "案卷")
    count = fill_sheet(session, principal, f, ws, now=now, sort=sort, lang=lang, unmask=unmask)
    audit_export(session, principal, f, count, sort=sort, unmask=unmask, reason=reason)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def fill_sheet(
    session: Session,
    principal: Principal,
    f: CaseFilter,
    ws: Any,
    *,
    now: datetime,
    sort: str,
    lang: str = "zh",
    unmask: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append the header and the list's rows to `ws`; call `progress(rows)` after each chunk."""
    en = lang == "en"
    ws.append([c[2] if en else c[1] for c in COLUMNS])
    names = _Names(session)
    count = 0
    for chunk in _chunks(matching(session, principal, f, now=now, sort=sort)):
        departments = departments_of(session, (c.id for c in chunk))
        names.load_grids({c.grid_id for c in chunk if c.grid_id is not None})
        for case in chunk:
            row = _row(case, now, lang, names, departments.get(case.id, []), unmask)
            ws.append([safe_cell(row[key]) for key, _, _ in COLUMNS])
            count += 1
        if progress is not None:
            progress(count)
    return count


def audit_export(
    session: Session,
    principal: Principal,
    f: CaseFilter,
    count: int,
    *,
    sort: str,
    unmask: bool,
    reason: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the export's audit entry: the filters, the row count, unmasked or not."""
    record_for(
        session, principal, "case.export", object_type="case",
        reason=reason if unmask else None,
        detail={"rows": count, "unmasked": unmask, "sort": sort, "filters": _given(f), **(extra or {})},
    )  # fmt: skip


def _chunks(cases: Iterable[Case]) -> Iterator[list[Case]]:
    it = iter(cases)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def _given(f: CaseFilter) -> dict[str, Any]:
    return {k: v for k, v in asdict(f).items() if v not in (None, [], ())}


class _Names:
    """Names of the categories, divisions and grids the rows refer to (looked up once)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.categories = dict(session.execute(select(Category.code, Category.name)).all())
        self.divisions = dict(session.execute(select(Division.code, Division.name)).all())
        self.grids: dict[int, tuple[str, str]] = {}

    def load_grids(self, ids: set[int]) -> None:
        missing = sorted(ids - set(self.grids))
        if missing:
            rows = self.session.execute(
                select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(missing))
            )
            self.grids.update({i: (code, name) for i, code, name in rows})


def _row(
    case: Case, now: datetime, lang: str, names: _Names, departments: list[str], unmask: bool
) -> dict[str, Any]:
    shown = (lambda text: text) if unmask else scrub
    grid_code, grid_name = names.grids.get(case.grid_id or 0, ("", ""))
    community = case.community_code or ""
    lamp = light(case, now)
    late = overdue_hours(case, now)
    return {
        "code": case.code,
        "category": names.categories.get(case.category_code, case.category_code),
        "state": label("state", case.state, lang),
        "light": label("light", lamp.value, lang) if lamp else "",
        "source": label("source", case.source, lang),
        "street": names.divisions.get(community[:9], "") if community else "",
        "community": names.divisions.get(community, ""),
        "grid": grid_name,
        "grid_code": grid_code,
        "address": shown(case.address or ""),
        "description": shown(case.description or ""),
        "departments": "、".join(departments),
        "reported_at": local_time(case.reported_at),
        "due_at": local_time(case.due_at or case.deadline),
        "overdue_hours": round(late, 1) if late is not None else None,
    }
