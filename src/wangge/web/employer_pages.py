"""用人单位覆盖率 page (`/console/employers`, 两网化): coverage of the employer reference list
per street, community or grid at a month's end, the trend of one area since the first list,
the employers still to visit, and the import of a new list (all rows or none)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wangge.api.deps import SessionDep
from wangge.errors import DomainError
from wangge.registry import employer_coverage
from wangge.web.area import counties_in_scope
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
TITLE = "用人单位覆盖率"
LEVEL_NAMES = {"street": "街道", "community": "社区", "grid": "网格", "county": "区县"}


@router.get("/console/employers")
def employers_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("registry.read"):
        message = "没有权限：registry.read / permission required: registry.read"
        return render(request, "message.html", me, title=TITLE, message=message)
    counties = counties_in_scope(session, me)
    params = request.query_params
    county = params.get("county") or (counties[0][0] if counties else "")
    level = params.get("level") or "community"
    month = params.get("month") or None
    area = params.get("area") or None
    if area is None and not me.contains(county):  # a street, community or grid post: his own
        own = sorted(p for p in me.scope_prefixes or () if p.startswith(county))
        area = own[0] if own else None
    try:
        if county not in {c for c, _ in counties}:
            raise DomainError(
                f"区县 {county} 不在您的管辖范围内", f"county {county} is outside your area"
            )
        by_area = employer_coverage.coverage(session, me, county, level=level, month=month)
        trend = employer_coverage.trend(session, me, county, area=area)
        todo = employer_coverage.unvisited(session, me, county, area=area, limit=200)
    except DomainError as exc:  # a mistyped ?level=, ?month= or ?area=
        return render(request, "message.html", me, title=TITLE, message=str(exc))
    return render(
        request, "console_employers.html", me, counties=counties, county=county, level=level,
        month=month or "", area=area or "", by_area=by_area, trend=trend, todo=todo,
        levels=LEVEL_NAMES, can_import=me.can("registry.write") and me.contains(county),
    )  # fmt: skip
