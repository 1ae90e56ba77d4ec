"""Console page of departments (部门): filtered list; writes are /api/v1/departments calls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.departments.codes import LEVELS
from wangge.departments.service import list_departments
from wangge.errors import DomainError
from wangge.lines.models import BusinessLine
from wangge.web.area import counties_in_scope
from wangge.web.views import MeDep, refuse, render

router = APIRouter(include_in_schema=False)


def _lines(session: Session, counties: list[str]) -> list[tuple[str, str]]:
    rows = session.execute(
        select(BusinessLine.code, BusinessLine.name)
        .where(BusinessLine.county_code.in_(counties))
        .order_by(BusinessLine.code)
    )
    return sorted(set(rows))


@router.get("/console/departments")
def departments_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("departments.read"):
        return refuse(request, me, "departments.read", "部门")
    params = request.query_params
    active = {"1": True, "0": False}.get(params.get("active") or "")
    filters: dict[str, Any] = {
        k: (params.get(k) or "").strip() or None for k in ("county", "level", "line", "q")
    }
    counties = counties_in_scope(session, me)
    try:
        rows = list_departments(session, me, active=active, **filters)
        error = None
    except DomainError as exc:
        rows, error = [], exc
    everyone = list_departments(session, me)  # for the parent choices and names
    return render(
        request,
        "console_departments.html",
        me,
        rows=rows,
        error=error,
        filters=filters,
        active=params.get("active") or "",
        counties=counties,
        levels=LEVELS,
        lines=_lines(session, [c for c, _ in counties]),
        parents=[(d.code, d.name, d.county_code) for d in everyone if d.is_active],
        names={d.code: d.name for d in everyone},
        can_manage=me.can("departments.manage"),
        export_county=filters["county"] or (counties[0][0] if len(counties) == 1 else ""),
    )
