"""Console page of case categories (案件类别): catalogue, local categories, routing rules.

The page lists and filters through the same service as `GET /api/v1/case-categories`; every
change (edit, add, routing rule) is a call from the page to the audited /api/v1 routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.cases.categories import KINDS, list_categories
from wangge.cases.limits import Stage
from wangge.cases.models import Category
from wangge.cases.routing import MANAGE
from wangge.departments.service import active_for_county
from wangge.divisions.models import Division
from wangge.lines.models import BusinessLine
from wangge.web.area import counties_in_scope
from wangge.web.i18n import N_
from wangge.web.views import MeDep, refuse, render

router = APIRouter(include_in_schema=False)

KIND_LABELS = {"event": N_("事件"), "component": N_("部件"), "social": N_("社会治理事项")}
_FLAGS = {"1": True, "0": False}


def _areas(session: Session, counties: list[str]) -> list[tuple[str, str, str]]:
    """(code, name, level) of the streets and communities a rule may be limited to."""
    rows = session.execute(
        select(Division.code, Division.name, Division.level)
        .where(Division.county_code.in_(counties), Division.level.in_(("street", "community")))
        .order_by(Division.code)
    )
    return [(c, n, level) for c, n, level in rows]


def _category_json(c: Category) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "kind": c.kind,
        "limits": c.limits or {},
        "urgent": c.urgent,
        "admitted_to_grid": c.admitted_to_grid,
        "minor": c.minor,
        "business_line": c.business_line,
        "default_department": c.default_department,
        "is_active": c.is_active,
    }


@router.get("/console/categories")
def categories_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can(MANAGE):
        return refuse(request, me, MANAGE, "案件类别")
    params = request.query_params
    filters = {
        k: (params.get(k) or "").strip()
        for k in ("kind", "major", "line", "admitted", "minor", "active")
    }
    rows = list_categories(
        session,
        kind=filters["kind"] or None,
        major=filters["major"] or None,
        business_line=filters["line"] or None,
        admitted=_FLAGS.get(filters["admitted"]),
        minor=_FLAGS.get(filters["minor"]),
        active=_FLAGS.get(filters["active"]),
    )
    counties = counties_in_scope(session, me)
    codes = [c for c, _ in counties]
    majors = sorted(set(session.execute(select(Category.major_code, Category.major_name)).tuples()))
    lines = sorted(
        set(
            session.execute(
                select(BusinessLine.code, BusinessLine.name).where(
                    BusinessLine.county_code.in_(codes)
                )
            ).tuples()
        )
    )
    return render(
        request,
        "console_categories.html",
        me,
        rows=rows,
        filters=filters,
        kinds={k: KIND_LABELS[k] for k in KINDS},
        stages=list(Stage),
        majors=majors,
        lines=lines,
        line_names=dict(lines),
        counties=counties,
        # Categories are shared by all counties: only a whole-territory manager edits them.
        can_edit=me.scope_prefixes is None,
        page_data={
            "categories": {c.code: _category_json(c) for c in rows},
            "departments": {c: active_for_county(session, c) for c in codes},
            "areas": _areas(session, codes),
            "stages": [s.value for s in Stage],
        },
    )
