"""代办 console page (`/console/resident-services`): the county's catalogue (editable by an
administrator through the API), this period's figures and the requests of the user's area."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wangge.api.deps import SessionDep
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.views import NowDep
from wangge.errors import DomainError
from wangge.resident_services import catalogue, figures, service
from wangge.web.area import counties_in_scope
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
TITLE = "代办服务"


@router.get("/console/resident-services")
def resident_services_page(
    request: Request, session: SessionDep, me: MeDep, now: NowDep
) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("cases.read"):
        message = "没有权限：cases.read / permission required: cases.read"
        return render(request, "message.html", me, title=TITLE, message=message)
    counties = counties_in_scope(session, me)
    wanted = request.query_params.get("county") or ""
    county = wanted if wanted in {c for c, _ in counties} else (counties[0][0] if counties else "")
    period = request.query_params.get("period") or now.astimezone(SHANGHAI).strftime("%Y-%m")
    try:
        counts = figures.figures(session, me, figures.period_from(period), now=now)
        found = service.listing(session, me, state=None, limit=100, offset=0, now=now)
    except DomainError as exc:  # a mistyped ?period=
        return render(request, "message.html", me, title=TITLE, message=str(exc))
    items = catalogue.list_items(session, county, include_inactive=True) if county else []
    return render(
        request, "console_resident_services.html", me, county=county, counties=counties,
        items=[catalogue.item_dict(i) for i in items], families=catalogue.FAMILIES,
        counts=counts, requests=found["items"], period=period,
        can_manage=bool(county) and me.can(catalogue.MANAGE) and me.contains(county),
    )  # fmt: skip
